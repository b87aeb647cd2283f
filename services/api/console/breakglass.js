// What a page shows when the api refuses a patient (403): the refusal, and for a doctor
// break-glass (POST /v1/patients/{id}/break-glass, docs/api.md): emergency read access
// for a time, only with a stated reason, which goes to the audit chain. The api checks
// the reason (10–500 characters) and its refusal is shown beside the field.
import * as api from "./api.js";
import { clock, el, show } from "./dom.js";

/** Fills `page` with the refusal; `granted` reloads the page once access is open. */
export function denied(page, patient, granted) {
  const refusal = el("p", { id: "denied", class: "denied", role: "alert" }, "You have no access to this patient.");
  const me = api.user();
  if (!me || me.role !== "doctor") {
    show(page, refusal);
    return;
  }
  const reason = el("textarea", {
    id: "break-glass-reason",
    name: "reason",
    rows: 3,
    cols: 60,
    required: true,
    "aria-describedby": "break-glass-error",
  });
  const error = el("p", { id: "break-glass-error", class: "field-error", role: "alert" });
  const form = el(
    "form",
    { id: "break-glass", class: "break-glass" },
    el("h2", {}, "Break-glass access"),
    el(
      "p",
      { class: "note" },
      "In an emergency you may read this patient's record for a limited time. " +
        "Your reason is kept in the audit trail and reviewed.",
    ),
    el("label", { for: "break-glass-reason" }, "Reason (required)"),
    reason,
    el("button", { type: "submit", id: "break-glass-submit" }, "Open with this reason"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    reason.removeAttribute("aria-invalid");
    try {
      const grant = await api.call("POST", `/v1/patients/${encodeURIComponent(patient)}/break-glass`, {
        reason: reason.value,
      });
      show(page, el("p", { id: "break-glass-open", role: "status" }, `Break-glass access open until ${clock(grant.expires_at_ns)}.`));
      granted();
    } catch (e) {
      reason.setAttribute("aria-invalid", "true");
      error.textContent = e.message;
    }
  });
  // The browser's own `required` check would answer before the api: the api decides.
  form.noValidate = true;
  show(page, refusal, form);
}
