// The console's entry: a hash router over the pages (sign-in, worklist, alert detail,
// patient view, and the admin and ops pages). Pages are views over the api; nothing is
// kept between sessions. PAGES is the one table of which role sees which page: the nav
// lists only those, and a page outside the caller's role is not opened (the api refuses
// its calls anyway: docs/console.md, "Admin and ops").
import * as api from "./api.js";
import { el, show } from "./dom.js";
import * as signin from "./signin.js";
import * as worklist from "./worklist.js";
import * as alertPage from "./alert.js";
import * as patientPage from "./patient.js";
import * as usersPage from "./users.js";
import * as devicesPage from "./devices.js";
import * as auditPage from "./audit.js";
import * as fatiguePage from "./fatigue.js";

/** Each page's hash, nav label, view and the roles whose calls the api answers. */
const PAGES = [
  { hash: "#/worklist", label: "Worklist", view: worklist.view, roles: ["doctor"] },
  { hash: "#/admin/users", label: "Users", view: usersPage.view, roles: ["admin"] },
  { hash: "#/admin/devices", label: "Devices", view: devicesPage.view, roles: ["admin"] },
  { hash: "#/admin/audit", label: "Audit log", view: auditPage.view, roles: ["admin"] },
  { hash: "#/reports/fatigue", label: "Alarm fatigue", view: fatiguePage.view, roles: ["doctor", "admin", "ops"] },
];

const root = document.getElementById("app");
const bar = document.getElementById("bar");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let leave = () => {};
let signedOutReason = "";

function status(text) {
  let line = document.getElementById("status");
  if (!line) {
    line = el("p", { id: "status", role: "status" });
    document.body.append(line);
  }
  line.textContent = text;
}

function route() {
  leave();
  leave = () => {};
  if (!api.signedIn()) {
    bar.hidden = true;
    leave = signin.view(root, signedOutReason, () => {
      signedOutReason = "";
      route();
    });
    return;
  }
  const me = api.user();
  const mine = PAGES.filter((p) => p.roles.includes(me.role));
  bar.hidden = false;
  who.textContent = `${me.id} (${me.role})`;
  nav.replaceChildren(
    ...mine.map((p) => el("a", { href: p.hash, "aria-current": location.hash === p.hash ? "page" : false }, p.label)),
  );
  const detail = location.hash.match(/^#\/patient\/([^/]+)\/alert\/([^/]+)$/);
  const patient = location.hash.match(/^#\/patient\/([^/]+)$/);
  const page = mine.find((p) => p.hash === location.hash);
  if (detail) {
    leave = alertPage.view(root, decodeURIComponent(detail[1]), decodeURIComponent(detail[2]), status);
  } else if (patient) {
    leave = patientPage.view(root, decodeURIComponent(patient[1]), status);
  } else if (page) {
    leave = page.view(root, status);
  } else {
    // Anything else opens the role's first page.
    const first = mine[0];
    if (location.hash !== first.hash) history.replaceState(null, "", first.hash);
    route();
  }
}

api.onSignedOut((reason) => {
  signedOutReason = reason;
  route();
});
document.getElementById("logout").addEventListener("click", () => api.logout("logout"));
window.addEventListener("hashchange", route);
show(root);
const refusal = api.oidcRefusal();
if (refusal !== null) signedOutReason = `oidc:${refusal}`;
if (api.returningFromOidc()) {
  api.finishOidc().then(route, (e) => {
    signedOutReason = e.code === "account_disabled" ? "disabled" : "oidc";
    route();
  });
} else {
  route();
}
