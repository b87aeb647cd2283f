// The audit log (admin; docs/console.md, "Admin and ops"): the chain's verification
// status — the api checks the keyed hash chain and its signed checkpoints with its own
// keys (GET /v1/audit/verify; the browser holds no key and checks nothing itself) —
// and the events (GET /v1/audit), newest first, a page of 100 at a time: "Older" and
// "Newer" move the page by its sequence numbers (the route's `from_seq` cursor), so a
// page stays the same events while new ones are appended.
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

/**
 * The page of events ending at `end` (the newest seq it shows): `from` and `limit` for
 * GET /v1/audit, never below `floor` (the first live event).
 */
export function pageRange(end, floor) {
  const from = Math.max(floor, end - SHOWN + 1);
  return { from, limit: Math.max(1, end - from + 1) };
}

export function view(root, status) {
  const page = el("section", { id: "audit-page" }, el("h1", {}, "Audit log"), el("p", {}, "Verifying the chain…"));
  show(root, page);
  let closed = false;
  let chain = null;
  // The newest seq of the page shown; null: the newest page.
  let end = null;

  async function verify() {
    try {
      chain = await api.call("GET", "/v1/audit/verify");
    } catch (e) {
      show(page, el("h1", {}, "Audit log"), refusal(e));
      return false;
    }
    return true;
  }

  async function load() {
    if (!chain && !(await verify())) return;
    const floor = chain.archived_before_seq || 1;
    const head = chain.head_seq || 0;
    const last = end === null ? head : Math.min(end, head);
    const { from, limit } = pageRange(Math.max(last, floor), floor);
    const events = head ? await api.call("GET", `/v1/audit?from_seq=${from}&limit=${limit}`) : [];
    if (closed) return;
    const newest = events.length ? events[events.length - 1].seq : last;
    const oldest = events.length ? events[0].seq : floor;
    const older = el(
      "button",
      { type: "button", id: "audit-older", disabled: oldest <= floor, onclick: () => move(oldest - 1) },
      "Older",
    );
    const newer = el(
      "button",
      { type: "button", id: "audit-newer", disabled: newest >= head, onclick: () => move(Math.min(head, newest + SHOWN)) },
      "Newer",
    );
    const caption = events.length
      ? `Events ${oldest} to ${newest} of ${head}, newest first`
      : "No events";
    const table = dataTable(
      { id: "audit-events", dataset: { oldest: String(oldest), newest: String(newest) } },
      caption,
      ["Seq", "Time (UTC)", "Actor", "Role", "Action", "Resource", "Outcome", "Reason"],
      el("tbody", {}, events.reverse().map(row)),
    );
    show(
      page,
      el("h1", {}, "Audit log"),
      verdict(chain),
      el("button", { type: "button", id: "audit-reload", onclick: () => again() }, "Verify again"),
      el("nav", { class: "pager", "aria-label": "Audit pages" }, newer, " ", older),
      table,
    );
  }

  function move(to) {
    end = to;
    load().catch(fail);
  }

  /** Verifies the chain again and shows the newest page. */
  function again() {
    chain = null;
    end = null;
    load().catch(fail);
  }

  function fail(e) {
    status(`Could not load the audit log: ${e.message}`);
  }

  load().catch(fail);
  return () => {
    closed = true;
  };
}
