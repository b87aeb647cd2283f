// Sign-in with a password (POST /v1/auth/login) and, when the api has a provider
// configured (GET /v1/auth/config), "Sign in with <provider>": a link to the api's
// OIDC start route, which comes back to the page that was asked for.
import * as api from "./api.js";
import { el, show } from "./dom.js";

const REASONS = {
  idle: "You were signed out after a period of inactivity.",
  expired: "Your session ended. Please sign in again.",
  disabled: "This account is disabled.",
  logout: "You signed out.",
  oidc: "Signing in through your organisation failed. Please try again.",
};

// What a refused OIDC sign-in's code (the api's callback: docs/console.md, "Sign-in")
// means to the person signing in. Plain words of our own: the provider's text never
// reaches the page.
const STARTED_OVER = "This sign-in attempt expired or was already used.";
const OIDC_REFUSALS = {
  denied: "The sign-in was cancelled or declined at your organisation's sign-in page.",
  no_flow: STARTED_OVER,
  expired: STARTED_OVER,
  state: STARTED_OVER,
  replayed: STARTED_OVER,
  missing: STARTED_OVER,
  no_account: "Your organisation's account is not linked to a cardiowatch user. Ask an administrator to add you.",
  disabled: "This account is disabled.",
  unavailable: "Your organisation's sign-in service cannot be reached right now.",
};
const OIDC_REFUSED = "Signing in through your organisation did not work.";

/** The refused OIDC sign-in's panel: what happened and a link to start again. */
function refusalPanel(code) {
  const retry = el("a", { id: "signin-retry", href: "/console/" }, "Try again");
  const panel = el(
    "div",
    { id: "signin-error", class: "signin-error", role: "alert" },
    // The code comes from the address: only the table's own keys (not "constructor").
    el("p", {}, Object.hasOwn(OIDC_REFUSALS, code) ? OIDC_REFUSALS[code] : OIDC_REFUSED),
    retry,
  );
  return { panel, retry };
}

export function view(root, reason, done) {
  const message = el("p", { id: "signin-message", role: "status" }, REASONS[reason] || "");
  const refusal = reason.startsWith("oidc:") ? refusalPanel(reason.slice(5)) : null;
  const userInput = el("input", { id: "user", name: "user", autocomplete: "username", required: true });
  const passwordInput = el("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const form = el(
    "form",
    { id: "signin", class: "card" },
    el("h1", {}, "Sign in"),
    refusal ? refusal.panel : null,
    el("label", { for: "user" }, "User"),
    userInput,
    el("label", { for: "password" }, "Password"),
    passwordInput,
    el("button", { type: "submit", id: "signin-submit" }, "Sign in"),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "Signing in…";
    try {
      await api.login(userInput.value.trim(), passwordInput.value);
      passwordInput.value = "";
      done();
    } catch (e) {
      passwordInput.value = "";
      message.textContent =
        e.status === 401
          ? "Wrong user or password."
          : e.status === 423
            ? "Too many failed attempts: this sign-in is locked for a while."
            : e.status === 429
              ? "Too many attempts from here: wait a minute."
              : `Sign-in failed (${e.message}).`;
    }
  });
  show(root, form);
  userInput.focus();
  let left = false;
  api
    .signInOptions()
    .then((options) => {
      if (left || !options.oidc) return;
      const start = api.oidcStartUrl(options.oidc.start, location.hash);
      const link = el("a", { id: "signin-oidc", class: "button", href: start }, `Sign in with ${options.oidc.name}`);
      if (refusal) refusal.retry.href = start;
      form.append(el("p", { class: "or" }, "or"), link);
    })
    .catch(() => {
      // Password sign-in stays; the provider's button is only an addition.
    });
  return () => {
    left = true;
  };
}
