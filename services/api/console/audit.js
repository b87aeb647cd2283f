// The audit log (admin; docs/console.md, "Admin and ops"): the chain's verification
// status — the api checks the keyed hash chain and its signed checkpoints with its own
// keys (GET /v1/audit/verify; the browser holds no key and checks nothing itself) —
// and the newest events (GET /v1/audit), newest first.
import * as api from "./api.js";
import { el, show } from "./dom.js";
import { dataTable, refusal } from "./forms.js";

const SHOWN = 100;

function verdict(chain) {
  if (!chain.intact) {
    return el(
      "div",
      { id: "chain-status", class: "chain broken", role: "alert", dataset: { intact: "0" } },
      el("strong", {}, "Chain broken"),
      el("ul", {}, chain.faults.map((f) => el("li", {}, f))),
    );
  }
  const notes = [`${chain.events} events`, `head ${chain.head_seq ?? "–"}`];
  notes.push(chain.checkpoints ? `${chain.checkpoints} signed checkpoints` : "no checkpoint file: a cut-off head is not detectable");
  if (chain.archived_before_seq) {
    notes.push(`events before ${chain.archived_before_seq} archived (cardiowatch audit verify --archive checks them)`);
  }
  return el(
    "div",
    { id: "chain-status", class: "chain intact", role: "status", dataset: { intact: "1" } },
    el("strong", {}, "Chain verified"),
    ` — ${notes.join("; ")}`,
  );
}

function row(e) {
  return el(
    "tr",
    { dataset: { seq: String(e.seq) } },
    el("td", {}, String(e.seq)),
    el("td", {}, new Date(e.at_ns / 1e6).toISOString()),
    el("td", {}, e.actor),
    el("td", {}, e.role),
    el("td", {}, e.action),
    el("td", {}, e.resource),
    el("td", { class: `outcome outcome-${e.outcome}` }, `${e.outcome} ${e.status || ""}`.trim()),
    el("td", {}, e.reason),
  );
}

export function view(root, status) {
  const page = el("section", { id: "audit-page" }, el("h1", {}, "Audit log"), el("p", {}, "Verifying the chain…"));
  show(root, page);
  let closed = false;

  async function load() {
    let chain;
    try {
      chain = await api.call("GET", "/v1/audit/verify");
    } catch (e) {
      show(page, el("h1", {}, "Audit log"), refusal(e));
      return;
    }
    const from = Math.max(chain.archived_before_seq || 1, (chain.head_seq || 1) - SHOWN + 1);
    const events = await api.call("GET", `/v1/audit?from_seq=${from}&limit=${SHOWN}`);
    if (closed) return;
    const table = dataTable(
      { id: "audit-events" },
      `The newest ${events.length} events, newest first`,
      ["Seq", "Time (UTC)", "Actor", "Role", "Action", "Resource", "Outcome", "Reason"],
      el("tbody", {}, events.reverse().map(row)),
    );
    show(
      page,
      el("h1", {}, "Audit log"),
      verdict(chain),
      el("button", { type: "button", id: "audit-reload", onclick: () => load().catch(fail) }, "Verify again"),
      table,
    );
  }

  function fail(e) {
    status(`Could not load the audit log: ${e.message}`);
  }

  load().catch(fail);
  return () => {
    closed = true;
  };
}
