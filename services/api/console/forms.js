// The pieces the admin and ops pages' forms share: a labelled input, the line that says
// how a request went (the api's own message on a refusal), and what a page says when the
// api refuses the caller's role (403) instead of breaking.
import { el } from "./dom.js";

/** A labelled text input in a row: `{row, input}`. */
export function textField(id, label, props = {}) {
  const input = el("input", { id, name: id, ...props });
  return { row: el("div", { class: "field-row" }, el("label", { for: id }, label), input), input };
}

/** A live line under a form: `say(text)` on success, `fail(error)` with the api's message. */
export function resultLine(id) {
  const node = el("p", { id, class: "form-result", role: "status" });
  return {
    node,
    say(text) {
      node.dataset.outcome = "ok";
      node.textContent = text;
    },
    fail(error) {
      node.dataset.outcome = "error";
      node.textContent = error.field ? `${error.field}: ${error.message}` : error.message;
    },
  };
}

/** What a page shows when the api refuses it: 403 is the role, anything else the error. */
export function refusal(error) {
  const text =
    error.status === 403 ? "Your role cannot use this page." : `Could not load this page: ${error.message}`;
  return el("p", { class: "denied refused", role: "alert" }, text);
}

/** A table with a caption and a header row of column headings: `dataTable(props, caption, headings, body)`. */
export function dataTable(props, caption, headings, body) {
  return el(
    "table",
    { class: "admin-table", ...props },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
    body,
  );
}
