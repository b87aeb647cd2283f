// Sign-in with a password (POST /v1/auth/login).
import * as api from "./api.js";
import { el, show } from "./dom.js";

const REASONS = {
  idle: "You were signed out after a period of inactivity.",
  expired: "Your session ended. Please sign in again.",
  disabled: "This account is disabled.",
  logout: "You signed out.",
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
  return () => {};
}
