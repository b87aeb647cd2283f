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

export function view(root, reason, done) {
  const message = el("p", { id: "signin-message", role: "status" }, REASONS[reason] || "");
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
      const link = el(
        "a",
        { id: "signin-oidc", class: "button", href: api.oidcStartUrl(options.oidc.start, location.hash) },
        `Sign in with ${options.oidc.name}`,
      );
      form.append(el("p", { class: "or" }, "or"), link);
    })
    .catch(() => {
      // Password sign-in stays; the provider's button is only an addition.
    });
  return () => {
    left = true;
  };
}
