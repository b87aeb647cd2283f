// Users, roles and assignments (admin; docs/console.md, "Admin and ops"): the directory
// (GET /v1/users), a new sign-in with its role (PUT /v1/users/{id}/login) and contact
// points (PUT /v1/users/{id}), an existing user's contact points and role edited (GET
// then PUT /v1/users/{id} with only the changed fields), disable/enable with a reason
// (POST /v1/users/{id}/disable | enable), and a patient assigned to a doctor (PUT
// /v1/patients/{id}/doctors, after reading the patient's current doctors). The api
// validates everything; its message is shown beside the field it names, or the form.
import * as api from "./api.js";
import { el, show } from "./dom.js";
import { dataTable, refusal, resultLine, textField } from "./forms.js";

const ROLES = ["doctor", "admin", "ops"];

/** The patient an admin names by id or, failing that, by MRN (which never goes in a URL). */
async function findPatient(raw) {
  try {
    return await api.call("GET", `/v1/patients/${encodeURIComponent(raw)}`);
  } catch (e) {
    if (e.status !== 404 && e.status !== 422) throw e;
    return api.call("POST", "/v1/patients/lookup", { mrn: raw });
  }
}

export function view(root, status) {
  const page = el("section", { id: "users-page" }, el("h1", {}, "Users and roles"), el("p", {}, "Loading…"));
  show(root, page);
  let closed = false;
  const body = el("tbody");
  const table = dataTable(
    { id: "users", dataset: { ready: "0" } },
    "Everyone who can sign in or be paged",
    ["User", "Role", "Active", "Password", "Paging", "Edit", "Disable / enable"],
    body,
  );
  const doctors = el("select", { id: "assign-doctor", name: "doctor" });

  function row(u) {
    const reason = el("input", { class: "account-reason", "aria-label": `Reason for ${u.user}`, placeholder: "reason" });
    const toggle = u.active
      ? el("button", { type: "button", class: "disable", onclick: () => account(u, "disable", reason.value) }, "Disable")
      : el("button", { type: "button", class: "enable", onclick: () => account(u, "enable", reason.value) }, "Enable");
    const paging = [u.phone_set && "phone", u.email_set && "email"].filter(Boolean).join(", ") || "none";
    return el(
      "tr",
      { dataset: { user: u.user } },
      el("td", { class: "user" }, u.user),
      el("td", { class: "role" }, u.role),
      el("td", { class: "active" }, u.active ? "yes" : "disabled"),
      el("td", {}, u.has_login ? "set" : "none"),
      el("td", {}, paging),
      el("td", {}, el("button", { type: "button", class: "edit", onclick: () => edit(u) }, `Edit ${u.user}`)),
      el("td", {}, reason, toggle),
    );
  }

  async function load() {
    let users;
    try {
      users = await api.call("GET", "/v1/users");
    } catch (e) {
      show(page, el("h1", {}, "Users and roles"), refusal(e));
      return;
    }
    if (closed) return;
    body.replaceChildren(...users.map(row));
    doctors.replaceChildren(
      ...users.filter((u) => u.role === "doctor" && u.active).map((u) => el("option", { value: u.user }, u.user)),
    );
    table.dataset.ready = "1";
  }

  async function account(u, action, reason) {
    try {
      await api.call("POST", `/v1/users/${encodeURIComponent(u.user)}/${action}`, reason ? { reason } : {});
      status(`${action === "disable" ? "Disabled" : "Enabled"}: ${u.user}`);
      await load();
    } catch (e) {
      status(`Could not ${action} ${u.user}: ${e.message}`);
    }
  }

  // A new user: a sign-in with its role, and the contact points they are paged on.
  const id = textField("new-user-id", "User id", { autocomplete: "off" });
  const role = el("select", { id: "new-user-role", name: "role" }, ROLES.map((r) => el("option", { value: r }, r)));
  const password = textField("new-user-password", "Password (at least 12 characters)", {
    type: "password",
    autocomplete: "new-password",
  });
  const phone = textField("new-user-phone", "Phone (E.164, optional)", { type: "tel", autocomplete: "off" });
  const email = textField("new-user-email", "Email (optional)", { type: "email", autocomplete: "off" });
  const created = resultLine("new-user-result");
  const create = el(
    "form",
    { id: "new-user", class: "admin-form" },
    el("h2", {}, "New user"),
    id.row,
    el("div", { class: "field-row" }, el("label", { for: "new-user-role" }, "Role"), role),
    password.row,
    phone.row,
    email.row,
    el("button", { type: "submit", id: "new-user-submit" }, "Create user"),
    created.node,
  );
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    const user = id.input.value.trim();
    try {
      await api.call("PUT", `/v1/users/${encodeURIComponent(user)}/login`, {
        role: role.value,
        password: password.input.value,
      });
      password.input.value = "";
      const contact = {};
      if (phone.input.value.trim()) contact.phone = phone.input.value.trim();
      if (email.input.value.trim()) contact.email = email.input.value.trim();
      if (Object.keys(contact).length) {
        await api.call("PUT", `/v1/users/${encodeURIComponent(user)}`, { role: role.value, ...contact });
      }
      created.say(`Created ${user} (${role.value}).`);
      await load();
    } catch (e) {
      created.fail(e);
    }
  });

  // An existing user's contact points and role: the record as stored fills the form,
  // and only what the admin changed is sent (an emptied phone or email is removed).
  const editing = { user: null, before: null };
  const editRole = el("select", { id: "edit-user-role", name: "role" }, ROLES.map((r) => el("option", { value: r }, r)));
  const fields = {
    role: { input: editRole, row: el("div", { class: "field-row" }, el("label", { for: "edit-user-role" }, "Role"), editRole) },
    phone: textField("edit-user-phone", "Phone (E.164; empty removes it)", { type: "tel", autocomplete: "off" }),
    email: textField("edit-user-email", "Email (empty removes it)", { type: "email", autocomplete: "off" }),
  };
  for (const [name, field] of Object.entries(fields)) {
    field.error = el("span", { class: "field-error", role: "alert", id: `edit-user-${name}-error` });
    field.row.append(field.error);
  }
  const edited = resultLine("edit-user-result");
  const editTitle = el("h2", {}, "Edit a user");
  const editForm = el(
    "form",
    { id: "edit-user", class: "admin-form", hidden: true },
    editTitle,
    Object.values(fields).map((f) => f.row),
    el("button", { type: "submit", id: "edit-user-submit" }, "Save changes"),
    edited.node,
  );

  function clearErrors() {
    for (const field of Object.values(fields)) {
      field.error.textContent = "";
      field.input.removeAttribute("aria-invalid");
    }
  }

  /** A user's record to edit; a login with no record yet starts empty in its role. */
  async function record(u) {
    try {
      return await api.call("GET", `/v1/users/${encodeURIComponent(u.user)}`);
    } catch (e) {
      if (e.status !== 404) throw e;
      return { role: u.role, phone: null, email: null };
    }
  }

  async function edit(u) {
    const user = u.user;
    try {
      const found = await record(u);
      editing.user = user;
      editing.before = found;
      editTitle.textContent = `Edit ${user}`;
      editRole.value = found.role;
      fields.phone.input.value = found.phone || "";
      fields.email.input.value = found.email || "";
      clearErrors();
      edited.node.textContent = "";
      delete edited.node.dataset.outcome;
      editForm.hidden = false;
      editForm.dataset.user = user;
      fields.phone.input.focus();
    } catch (e) {
      status(`Could not read ${user}: ${e.message}`);
    }
  }

  editForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { user, before } = editing;
    const change = {};
    if (editRole.value !== before.role) change.role = editRole.value;
    for (const name of ["phone", "email"]) {
      const value = fields[name].input.value.trim();
      if (value !== (before[name] || "")) change[name] = value || null;
    }
    clearErrors();
    if (Object.keys(change).length === 0) {
      edited.say(`Nothing changed for ${user}.`);
      return;
    }
    try {
      editing.before = await api.call("PUT", `/v1/users/${encodeURIComponent(user)}`, change);
      edited.say(`Saved ${user}: ${Object.keys(change).join(", ")}.`);
      await load();
    } catch (e) {
      const field = e.field && fields[e.field];
      if (field) {
        field.error.textContent = e.message;
        field.input.setAttribute("aria-invalid", "true");
        edited.node.dataset.outcome = "error";
        edited.node.textContent = `Not saved: ${e.field} is not valid.`;
      } else {
        edited.fail(e);
      }
    }
  });

  // A patient assigned to a doctor: the patient's doctors as they are, plus this one.
  const patient = textField("assign-patient", "Patient (id or MRN)", { autocomplete: "off" });
  const assigned = resultLine("assign-result");
  const assign = el(
    "form",
    { id: "assign", class: "admin-form" },
    el("h2", {}, "Assign a patient"),
    el("div", { class: "field-row" }, el("label", { for: "assign-doctor" }, "Doctor"), doctors),
    patient.row,
    el("button", { type: "submit", id: "assign-submit" }, "Assign"),
    assigned.node,
  );
  assign.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const found = await findPatient(patient.input.value.trim());
      const list = [...new Set([...found.doctors, doctors.value])];
      const saved = await api.call("PUT", `/v1/patients/${encodeURIComponent(found.id)}/doctors`, { doctors: list });
      assigned.say(`${saved.name || saved.id} (${saved.id}): doctors ${saved.doctors.join(", ")}.`);
    } catch (e) {
      assigned.fail(e);
    }
  });

  show(page, el("h1", {}, "Users and roles"), table, editForm, create, assign);
  load().catch((e) => status(`Could not load the users: ${e.message}`));
  return () => {
    closed = true;
  };
}
