// One alert: what fired, its pages, and the ECG strip from 30 s before to 30 s after
// the onset on ECG paper (strip.js); acknowledge, escalate now, and triage it (a verdict
// and a note) after reading the strip. Reached from the worklist or by URL
// (#/patient/{patient}/alert/{alert}); the api decides access, so another doctor's
// patient answers 403 and the page says so and shows nothing else.
import * as api from "./api.js";
import { denied } from "./breakglass.js";
import { clock, el, show } from "./dom.js";
import { colour, escalateNow, escalation, triage, valueText, verdictSelect, verdictText } from "./worklist.js";
import { drawStrip } from "./strip.js";
import { trendAround } from "./trend.js";

const AROUND_NS = 30e9;
const TREND_AROUND_NS = 5 * 60e9;

async function findAlert(patient, id) {
  let cursor = "";
  for (;;) {
    const path = `/v1/alerts?patient=${encodeURIComponent(patient)}&limit=500${cursor}`;
    const page = await api.call("GET", path);
    const hit = page.find((a) => a.id === id);
    if (hit || page.length < 500) return hit || null;
    cursor = `&cursor=${encodeURIComponent(page[page.length - 1].id)}`;
  }
}

/** Raw frames of [from, to) in windows the ECG route answers raw (docs/api.md, paging). */
export async function frames(patient, from, to) {
  const out = [];
  const step = 20e9;
  for (let t = from; t < to; t += step) {
    const end = Math.min(to, t + step);
    const strip = await api.call(
      "GET",
      `/v1/patients/${encodeURIComponent(patient)}/ecg?from_ns=${t}&to_ns=${end}&max_points=20000`,
    );
    if (strip.mode !== "raw") throw new Error("the signal is too dense for a raw strip");
    out.push(...strip.frames);
  }
  return out;
}

export function view(root, patient, id, status) {
  let closed = false;
  const page = el("section", { id: "alert-detail" }, el("p", {}, "Loading…"));
  show(root, page);

  async function load() {
    let alert;
    try {
      alert = await findAlert(patient, id);
    } catch (e) {
      if (e.status === 403) {
        denied(page, patient, () => load().catch(() => {}));
        return;
      }
      throw e;
    }
    if (!alert) {
      show(page, el("p", { id: "not-found", role: "alert" }, "No such alert for this patient."));
      return;
    }
    const rules = await api.rules();
    const deliveries = await api.call("GET", `/v1/alerts/${encodeURIComponent(id)}/deliveries`);
    const esc = escalation(deliveries);
    const onset = alert.started_ns;
    const stripBox = el("div", { id: "strip-box", class: "strip-box" }, el("p", {}, "Loading the ECG…"));
    const trendBox = el("div", { id: "hr-trend", class: "trend-box" }, el("p", {}, "Loading the heart-rate trend…"));
    const ack =
      alert.state === "firing"
        ? el(
            "button",
            {
              type: "button",
              class: "ack",
              onclick: async () => {
                try {
                  await api.call("POST", `/v1/alerts/${encodeURIComponent(id)}/ack`);
                  status(`Acknowledged: ${id}`);
                  load();
                } catch (e) {
                  status(`Could not acknowledge: ${e.message}`);
                }
              },
            },
            "Acknowledge",
          )
        : null;
    const escalate =
      alert.state === "firing"
        ? el(
            "button",
            {
              type: "button",
              id: "escalate",
              class: "escalate",
              onclick: async () => {
                try {
                  const asked = await escalateNow(alert);
                  status(`Escalation asked: step ${asked.escalation.level} is paged now: ${id}`);
                  load();
                } catch (e) {
                  status(`Could not escalate: ${e.message}`);
                }
              },
            },
            "Escalate now",
          )
        : null;
    const verdict = verdictSelect({ id: "triage-verdict" }, alert.triage && alert.triage.verdict);
    const note = el("input", {
      id: "triage-note",
      type: "text",
      maxlength: 1000,
      value: (alert.triage && alert.triage.note) || "",
    });
    const triageForm = el(
      "div",
      { id: "triage", class: "triage" },
      el("label", { for: "triage-verdict" }, "Verdict "),
      verdict,
      el("label", { for: "triage-note" }, " Note "),
      note,
      el(
        "button",
        {
          type: "button",
          id: "triage-save",
          onclick: async () => {
            try {
              await triage(alert, verdict.value, note.value.trim());
              status(`Triaged ${verdict.value}: ${id}`);
              load();
            } catch (e) {
              status(`Could not triage: ${e.message}`);
            }
          },
        },
        "Save verdict",
      ),
      el(
        "p",
        { id: "triage-shown", dataset: { verdict: alert.triage ? alert.triage.verdict : "" } },
        alert.triage
          ? `${verdictText(alert)} by ${alert.triage.by} at ${clock(alert.triage.at_ns)}${
              alert.triage.note ? ` — ${alert.triage.note}` : ""
            }`
          : "Not triaged yet.",
      ),
    );
    show(
      page,
      el(
        "div",
        { class: `alarm-head ${colour(alert, rules)}`, dataset: { alertId: alert.id, state: alert.state } },
        el("h1", {}, (rules[alert.rule] || { describe: alert.rule }).describe),
        el("p", {}, `${alert.priority} priority · ${valueText(alert, rules)} · ${alert.state}`),
        alert.summary ? el("p", {}, alert.summary) : null,
        el("p", {}, `onset ${clock(onset)} · fired ${clock(alert.fired_ns)} · escalation step ${esc.step}`),
        ack,
        escalate,
      ),
      el("h2", {}, "Triage"),
      triageForm,
      el("p", {}, el("a", { id: "patient-link", href: `#/patient/${encodeURIComponent(patient)}` }, "Patient view (live ECG, thresholds)")),
      el("h2", {}, "ECG around the onset"),
      stripBox,
      el("h2", {}, "Heart rate, 5 min either side of the onset"),
      trendBox,
      el("h2", {}, "Pages"),
      el(
        "table",
        { id: "deliveries" },
        el("tr", {}, ["Step", "To", "Channel", "Status", "When"].map((h) => el("th", { scope: "col" }, h))),
        deliveries.map((d) =>
          el(
            "tr",
            {},
            el("td", {}, String(d.attempt)),
            el("td", {}, d.recipient),
            el("td", {}, d.channel),
            el("td", {}, d.status),
            el("td", {}, clock(d.updated_ns)),
          ),
        ),
      ),
      alert.acked_by ? el("p", {}, `Acknowledged by ${alert.acked_by} at ${clock(alert.acked_ns)}`) : null,
    );
    const from = onset - AROUND_NS;
    const to = onset + AROUND_NS;
    const trendTo = Math.min(onset + TREND_AROUND_NS, Math.floor(Date.now()) * 1e6);
    trendAround(patient, onset - TREND_AROUND_NS, Math.max(trendTo, onset + 1e9), onset).then((figure) => {
      if (!closed) show(trendBox, figure);
    });
    try {
      const [data, beats] = await Promise.all([
        frames(patient, from, to),
        api.call("GET", `/v1/patients/${encodeURIComponent(patient)}/beats?from_ns=${from}&to_ns=${to}`),
      ]);
      if (closed) return;
      show(stripBox, drawStrip({ from, to, onset, frames: data, beats: beats.beats }));
      // Open on the onset, in the middle of the view.
      const scroller = stripBox.querySelector(".strip-scroll");
      const marker = stripBox.querySelector("line.onset");
      if (scroller && marker) {
        const offset = marker.getBoundingClientRect().left - scroller.getBoundingClientRect().left;
        scroller.scrollLeft += offset - scroller.clientWidth / 2;
      }
    } catch (e) {
      show(stripBox, el("p", { role: "alert" }, `No strip: ${e.message}`));
    }
  }

  load().catch((e) => show(page, el("p", { role: "alert" }, `Could not load the alert: ${e.message}`)));
  return () => {
    closed = true;
  };
}
