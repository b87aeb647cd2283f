// The worklist: the caller's open alarms, by priority, in IEC 60601-1-8 colours (red
// high, yellow medium, cyan low and technical), kept current by one live socket for all
// the caller's patients (`/v1/alerts/live`, docs/live.md): alert changes and who has been
// paged by what channel (its `delivery` messages), and acted on through the REST routes
// (docs/api.md): acknowledge, snooze, escalate now and triage.
import * as api from "./api.js";
import { age, el, show } from "./dom.js";

const PRIORITY_RANK = { high: 0, medium: 1, low: 2 };
const SNOOZE_MINUTES = [5, 15, 30];
/** Triage verdicts as the api names them, and as the page says them. */
export const VERDICTS = [
  ["confirmed", "Confirmed"],
  ["artifact", "Artifact"],
  ["false", "False alarm"],
];
const REPAIR_MS = 15000;

/** The colour class of an alarm: technical alarms are cyan whatever their priority. */
export function colour(alert, rules) {
  const rule = rules[alert.rule];
  if (rule && rule.technical) return "technical";
  return "prio-" + alert.priority;
}

/** "74 bpm (limit 70)". */
export function valueText(alert, rules) {
  const unit = (rules[alert.rule] && rules[alert.rule].unit) || "";
  const v = alert.value === null ? "–" : Math.round(alert.value * 10) / 10;
  const l = alert.limit === null ? "–" : Math.round(alert.limit * 10) / 10;
  return `${v} ${unit} (limit ${l})`.replace(/ +/g, " ");
}

/** The highest escalation step paged so far and who was paged how. */
export function escalation(deliveries) {
  if (!deliveries || deliveries.length === 0) return { step: "–", paged: "nobody yet" };
  const step = Math.max(...deliveries.map((d) => d.attempt));
  const paged = deliveries.map((d) => `${d.recipient} by ${d.channel} (${d.status})`).join(", ");
  return { step: String(step), paged };
}

/** The key of a page: one row per channel, recipient and escalation step. */
function pageKey(d) {
  return `${d.attempt}/${d.channel}/${d.recipient}`;
}

/** `pages` with `page` added or replacing its own row, in step order: a new array. */
export function withPage(pages, page) {
  const key = pageKey(page);
  return (pages || [])
    .filter((d) => pageKey(d) !== key)
    .concat([page])
    .sort((a, b) => a.attempt - b.attempt || pageKey(a).localeCompare(pageKey(b)));
}

/** "triaged: artifact" for an alert with a verdict, "" without. */
export function verdictText(alert) {
  if (!alert.triage) return "";
  const label = (VERDICTS.find(([v]) => v === alert.triage.verdict) || [, alert.triage.verdict])[1];
  return `triaged: ${label}`;
}

/** Records a verdict (docs/api.md, "Alerts"); answers the alert as stored. */
export function triage(alert, verdict, note) {
  const body = note ? { verdict, note } : { verdict };
  return api.call("POST", `/v1/alerts/${encodeURIComponent(alert.id)}/triage`, body);
}

/**
 * Asks for the next escalation step now. The api only records the request; the
 * notifier pages that step at its next sweep (docs/console.md).
 */
export function escalateNow(alert) {
  return api.call("POST", `/v1/alerts/${encodeURIComponent(alert.id)}/escalate`);
}

/** A verdict picker: a labelled select of VERDICTS. */
export function verdictSelect(props, current) {
  return el(
    "select",
    props,
    VERDICTS.map(([value, label]) => el("option", { value, selected: value === current }, label)),
  );
}

function order(a, b) {
  const open = (x) => (x.state === "firing" ? 0 : 1);
  return (
    open(a) - open(b) ||
    PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
    b.fired_ns - a.fired_ns
  );
}

/** `fresh`, or `kept` when it says the same: a row compares what it shows by identity. */
function same(kept, fresh) {
  return kept !== undefined && JSON.stringify(kept) === JSON.stringify(fresh) ? kept : fresh;
}

/**
 * The longest run of `positions` (ignoring -1) that increases: the indices of rows that
 * are already in order and need not move.
 */
function inOrder(positions) {
  const tails = [];
  const before = new Array(positions.length).fill(-1);
  positions.forEach((p, i) => {
    if (p < 0) return;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (positions[tails[mid]] < p) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) before[i] = tails[lo - 1];
    tails[lo] = i;
  });
  const keep = new Set();
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = before[i]) keep.add(i);
  return keep;
}

/**
 * Puts `wanted` into `body` in that order, moving as few rows as it can: a new alarm is
 * one insertion and an acknowledged one one move, not 500 rows taken out and put back
 * (docs/benchmarks.md, "Worklist with 500 open alarms").
 */
function place(body, wanted) {
  const current = body.children;
  if (current.length === wanted.length && wanted.every((tr, i) => tr === current[i])) return;
  const keepRows = new Set(wanted);
  for (const tr of [...current]) if (!keepRows.has(tr)) tr.remove();
  const position = new Map();
  for (let i = 0; i < current.length; i++) position.set(current[i], i);
  const keep = inOrder(wanted.map((tr) => (position.has(tr) ? position.get(tr) : -1)));
  let next = null;
  for (let i = wanted.length - 1; i >= 0; i--) {
    if (!keep.has(i)) body.insertBefore(wanted[i], next);
    next = wanted[i];
  }
}

async function openAlerts() {
  const [firing, acknowledged] = await Promise.all(
    // Every page: a list over 500 is paged (docs/api.md), and a wall screen can hold more.
    ["firing", "acknowledged"].map((state) => api.callAll(`/v1/alerts?state=${state}&limit=500`)),
  );
  return firing.concat(acknowledged);
}

export function view(root, status) {
  const alerts = new Map();
  const deliveries = new Map();
  const names = new Map();
  let socket = null;
  let rules = {};
  let closed = false;
  const body = el("tbody");
  const table = el(
    "table",
    { id: "worklist", class: "worklist", dataset: { ready: "0" } },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ["Priority", "Patient", "Alarm", "Value", "Age", "Escalation", "State", "Actions"].map((h) =>
          el("th", { scope: "col" }, h),
        ),
      ),
    ),
    body,
  );
  const empty = el("p", { id: "worklist-empty", hidden: true }, "No open alarms.");
  show(root, el("h1", {}, "Open alarms"), table, empty);

  // Rows are kept per alert and updated in place: a row (and its buttons) is never
  // replaced under the pointer while a live message or a reload changes its cells.
  const rows = new Map();

  function actionsFor(alert) {
    const actions = [];
    if (alert.state === "firing") {
      actions.push(
        el("button", { type: "button", class: "ack", onclick: () => acknowledge(alert) }, "Acknowledge"),
        el("button", { type: "button", class: "escalate", onclick: () => escalate(alert) }, "Escalate now"),
      );
      if (alert.priority !== "high") {
        const minutes = el(
          "select",
          { class: "snooze-minutes", "aria-label": "Snooze for" },
          SNOOZE_MINUTES.map((m) => el("option", { value: m }, `${m} min`)),
        );
        actions.push(
          minutes,
          el(
            "button",
            { type: "button", class: "snooze", onclick: () => snooze(alert, Number(minutes.value)) },
            "Snooze",
          ),
        );
      }
    }
    const verdict = verdictSelect(
      { class: "triage-verdict", "aria-label": "Triage verdict" },
      alert.triage && alert.triage.verdict,
    );
    actions.push(
      verdict,
      el("button", { type: "button", class: "triage", onclick: () => judge(alert, verdict.value) }, "Triage"),
    );
    actions.push(
      el("a", { href: `#/patient/${encodeURIComponent(alert.patient)}/alert/${encodeURIComponent(alert.id)}` }, "Strip"),
      " ",
      el("a", { class: "patient-link", href: `#/patient/${encodeURIComponent(alert.patient)}` }, "Patient"),
    );
    return actions;
  }

  function row(alert) {
    let entry = rows.get(alert.id);
    if (!entry) {
      const cells = {};
      for (const name of ["priority", "patient", "rule", "value", "age", "escalation", "state", "actions"]) {
        cells[name] = el("td", { class: name });
      }
      entry = { tr: el("tr", { dataset: { alertId: alert.id } }, Object.values(cells)), cells, actionsKey: "" };
      rows.set(alert.id, entry);
    }
    const { tr, cells } = entry;
    // A row whose alert, pages, name and rules are the ones it shows is left alone: one
    // live message re-renders its own row, not all 500 (docs/benchmarks.md, "Console in
    // the browser"); the age cells tick on their own.
    const shown = [alert, deliveries.get(alert.id), names.get(alert.patient), rules];
    if (entry.shown && shown.every((v, i) => v === entry.shown[i])) return tr;
    entry.shown = shown;
    const rule = rules[alert.rule] || { describe: alert.rule };
    const esc = escalation(deliveries.get(alert.id));
    tr.setAttribute("class", `alarm ${colour(alert, rules)} ${alert.state}`);
    tr.dataset.state = alert.state;
    cells.priority.textContent = alert.priority;
    cells.patient.textContent = names.get(alert.patient) || alert.patient;
    cells.rule.replaceChildren(rule.describe, alert.summary ? el("div", { class: "summary" }, alert.summary) : "");
    cells.value.textContent = valueText(alert, rules);
    cells.age.dataset.firedNs = String(alert.fired_ns);
    cells.age.textContent = age((Date.now() * 1e6 - alert.fired_ns) / 1e9);
    cells.escalation.title = esc.paged;
    cells.escalation.replaceChildren(`step ${esc.step}`, el("div", { class: "paged" }, esc.paged));
    cells.state.replaceChildren(alert.state, alert.triage ? el("div", { class: "verdict" }, verdictText(alert)) : "");
    cells.state.dataset.verdict = alert.triage ? alert.triage.verdict : "";
    const actionsKey = `${alert.state}/${alert.priority}/${alert.triage ? alert.triage.verdict : ""}`;
    if (entry.actionsKey !== actionsKey) {
      cells.actions.replaceChildren(...actionsFor(alert));
      entry.actionsKey = actionsKey;
    }
    return tr;
  }

  function render() {
    // Timed for the 500-alarm benchmark (docs/benchmarks.md): one measure per pass.
    const start = performance.now();
    renderRows();
    performance.measure("worklist-render", { start });
  }

  function renderRows() {
    const list = [...alerts.values()].sort(order);
    const wanted = list.map(row);
    for (const id of [...rows.keys()]) if (!alerts.has(id)) rows.delete(id);
    place(body, wanted);
    empty.hidden = list.length > 0;
  }

  // Pages come in bursts (every open alarm's at connect, a step's channels at once): one
  // render for what arrived together.
  let renderSoon = null;
  function paged(page) {
    const kept = deliveries.get(page.alert) || [];
    // A repeat (the greeting after a reconnect) leaves the row alone.
    if (kept.some((d) => JSON.stringify(d) === JSON.stringify(page))) return;
    deliveries.set(page.alert, withPage(kept, page));
    if (!alerts.has(page.alert) || renderSoon) return;
    renderSoon = setTimeout(() => {
      renderSoon = null;
      if (!closed) render();
    }, 0);
  }

  /** Applies an alert as the api sent it; `true` when the list changed. */
  function upsert(alert) {
    if (alert.state === "resolved") {
      deliveries.delete(alert.id);
      return alerts.delete(alert.id);
    }
    const kept = alerts.get(alert.id);
    const now = same(kept, alert);
    alerts.set(alert.id, now);
    return now !== kept;
  }

  async function acknowledge(alert) {
    try {
      upsert(await api.call("POST", `/v1/alerts/${encodeURIComponent(alert.id)}/ack`));
      render();
      status(`Acknowledged: ${alert.id}`);
    } catch (e) {
      status(`Could not acknowledge: ${e.message}`);
    }
  }

  async function escalate(alert) {
    try {
      const asked = await escalateNow(alert);
      upsert(asked);
      render();
      // The pages come from the notifier within a sweep or two, on the socket.
      status(`Escalation asked: step ${asked.escalation.level} is paged now: ${alert.id}`);
    } catch (e) {
      status(`Could not escalate: ${e.message}`);
    }
  }

  async function judge(alert, verdict) {
    try {
      upsert(await triage(alert, verdict));
      render();
      status(`Triaged ${verdict}: ${alert.id}`);
    } catch (e) {
      status(`Could not triage: ${e.message}`);
    }
  }

  async function snooze(alert, minutes) {
    try {
      upsert(
        await api.call("POST", `/v1/alerts/${encodeURIComponent(alert.id)}/snooze`, {
          duration_s: minutes * 60,
          reason: "snoozed from the console worklist",
        }),
      );
      render();
      status(`Snoozed for ${minutes} min: ${alert.id}`);
    } catch (e) {
      status(`Could not snooze: ${e.message}`);
    }
  }

  // One socket for every patient (docs/live.md, "Worklist socket"): alert changes as
  // they happen; a reconnect reloads the list, since changes while it was closed are lost.
  function watch(again = false) {
    if (closed || socket || !api.signedIn()) return;
    const opened = api.worklistSocket();
    socket = opened;
    opened.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "delivery") {
        paged(message.delivery);
        return;
      }
      // The greeting's `open` messages repeat what the list read: nothing to do for those.
      if (message.type !== "alert" || !upsert(message.alert)) return;
      render();
    });
    opened.addEventListener("open", () => {
      table.dataset.live = "1";
      if (again) load().catch(() => {});
    });
    opened.addEventListener("close", (event) => {
      socket = null;
      table.dataset.live = "0";
      if (closed) return;
      // 4001 (session ended, or the socket's lifetime) and 4003 (account disabled): ask
      // the api at once — a disabled account or an ended session signs the page out on
      // its answer (api.js), instead of at the next reload.
      if (event.code === 4001 || event.code === 4003) load().catch(() => {});
      // 4003: do not come back; otherwise reconnect with the current token.
      if (event.code !== 4003) {
        setTimeout(() => watch(true), 2000);
      }
    });
  }

  async function load() {
    rules = await api.rules();
    try {
      for (const p of await api.call("GET", "/v1/patients")) {
        names.set(p.id, p.name || p.id);
      }
    } catch {
      // ops see no patients (no PHI): ids only
    }
    const list = await openAlerts();
    // A re-read keeps the objects of unchanged alerts, so their rows are left alone.
    const previous = new Map(alerts);
    alerts.clear();
    for (const alert of list) alerts.set(alert.id, same(previous.get(alert.id), alert));
    render();
    table.dataset.ready = "1";
    watch();
  }

  const tick = setInterval(() => {
    for (const cell of body.querySelectorAll("td.age")) {
      cell.textContent = age((Date.now() * 1e6 - Number(cell.dataset.firedNs)) / 1e9);
    }
  }, 1000);
  // The sockets carry changes; a periodic reload repairs anything they missed.
  const repair = setInterval(() => load().catch(() => {}), REPAIR_MS);
  load().catch((e) => status(`Could not load the worklist: ${e.message}`));

  return () => {
    closed = true;
    clearTimeout(renderSoon);
    clearInterval(tick);
    clearInterval(repair);
    if (socket) socket.close(1000);
  };
}
