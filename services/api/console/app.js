// The console's entry: a hash router over the pages (sign-in, worklist, alert detail,
// patient view). Pages are views over the api; nothing is kept between sessions.
import * as api from "./api.js";
import { el, show } from "./dom.js";
import * as signin from "./signin.js";
import * as worklist from "./worklist.js";
import * as alertPage from "./alert.js";
import * as patientPage from "./patient.js";

const root = document.getElementById("app");
const bar = document.getElementById("bar");
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
  bar.hidden = false;
  who.textContent = `${me.id} (${me.role})`;
  const detail = location.hash.match(/^#\/patient\/([^/]+)\/alert\/([^/]+)$/);
  const patient = location.hash.match(/^#\/patient\/([^/]+)$/);
  if (detail) {
    leave = alertPage.view(root, decodeURIComponent(detail[1]), decodeURIComponent(detail[2]), status);
  } else if (patient) {
    leave = patientPage.view(root, decodeURIComponent(patient[1]), status);
  } else {
    if (location.hash !== "#/worklist") history.replaceState(null, "", "#/worklist");
    leave = worklist.view(root, status);
  }
}

api.onSignedOut((reason) => {
  signedOutReason = reason;
  route();
});
document.getElementById("logout").addEventListener("click", () => api.logout("logout"));
window.addEventListener("hashchange", route);
show(root);
route();
