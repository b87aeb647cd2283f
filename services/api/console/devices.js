// Devices (admin; docs/console.md, "Admin and ops"): every gateway (GET /v1/devices),
// register one for a patient (POST /v1/devices), and per device a new token (POST
// /v1/devices/{id}/token), revoke (POST …/revoke) and pin its client certificate's
// SHA-256 (PUT …/certificate). A token is shown once, as the api answers it once: only
// its hash is stored (docs/api.md).
import * as api from "./api.js";
import { el, show } from "./dom.js";
import { dataTable, refusal, resultLine, textField } from "./forms.js";

export function view(root, status) {
  const page = el("section", { id: "devices-page" }, el("h1", {}, "Devices"), el("p", {}, "Loading…"));
  show(root, page);
  let closed = false;
  const body = el("tbody");
  const table = dataTable(
    { id: "devices", dataset: { ready: "0" } },
    "Gateways and patches, revoked ones too",
    ["Device", "Patient", "State", "Certificate", "Actions"],
    body,
  );
  const token = el("output", { id: "device-token", class: "token" });
  const tokenBox = el(
    "div",
    { id: "device-token-box", class: "token-box", hidden: true },
    el("p", {}, "Token (shown this once; give it to the gateway, it is not stored):"),
    token,
  );

  function shown(issued, what) {
    token.textContent = issued.token;
    token.dataset.device = issued.device.id;
    tokenBox.hidden = false;
    status(`${what}: the token of device ${issued.device.id} is shown above the list`);
  }

  /** Runs a device action, re-reads the list, then `then(answer)`: a token shows once its row is current. */
  async function act(label, run, then = () => {}) {
    try {
      const answer = await run();
      await load();
      then(answer);
    } catch (e) {
      status(`Could not ${label}: ${e.message}`);
    }
  }

  function row(d) {
    const path = `/v1/devices/${encodeURIComponent(d.id)}`;
    const pin = el("input", {
      class: "cert-pin",
      "aria-label": `Certificate SHA-256 for ${d.id}`,
      placeholder: "64 hex characters",
      size: 20,
    });
    const actions = d.revoked
      ? ["revoked"]
      : [
          el(
            "button",
            {
              type: "button",
              class: "issue-token",
              onclick: () => act("issue a token", () => api.call("POST", `${path}/token`), (issued) => shown(issued, "New token")),
            },
            "Issue token",
          ),
          el("button", { type: "button", class: "revoke", onclick: () => act("revoke", () => api.call("POST", `${path}/revoke`)) }, "Revoke"),
          pin,
          el(
            "button",
            { type: "button", class: "pin", onclick: () => act("pin the certificate", () => api.call("PUT", `${path}/certificate`, { cert_sha256: pin.value })) },
            "Pin certificate",
          ),
        ];
    return el(
      "tr",
      { dataset: { device: d.id } },
      el("td", { class: "device" }, d.id),
      el("td", { class: "patient" }, d.patient),
      el("td", { class: "state" }, d.revoked ? "revoked" : "active"),
      el("td", { class: "cert" }, d.cert_sha256 || "not pinned"),
      el("td", { class: "actions" }, actions),
    );
  }

  async function load() {
    let devices;
    try {
      devices = await api.call("GET", "/v1/devices");
    } catch (e) {
      show(page, el("h1", {}, "Devices"), refusal(e));
      return;
    }
    if (closed) return;
    body.replaceChildren(...devices.map(row));
    table.dataset.ready = "1";
  }

  const patient = textField("new-device-patient", "Patient id", { autocomplete: "off" });
  const cert = textField("new-device-cert", "Certificate SHA-256 (optional)", { autocomplete: "off", size: 64 });
  const result = resultLine("new-device-result");
  const register = el(
    "form",
    { id: "new-device", class: "admin-form" },
    el("h2", {}, "Register a device"),
    patient.row,
    cert.row,
    el("button", { type: "submit", id: "new-device-submit" }, "Register"),
    result.node,
  );
  register.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { patient: patient.input.value.trim() };
    if (cert.input.value.trim()) body.cert_sha256 = cert.input.value.trim();
    try {
      const issued = await api.call("POST", "/v1/devices", body);
      await load();
      result.say(`Registered ${issued.device.id}.`);
      shown(issued, "Registered");
    } catch (e) {
      result.fail(e);
    }
  });

  show(page, el("h1", {}, "Devices"), register, tokenBox, table);
  load().catch((e) => status(`Could not load the devices: ${e.message}`));
  return () => {
    closed = true;
  };
}
