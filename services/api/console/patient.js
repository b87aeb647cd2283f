// The patient view (#/patient/{id}): the live ECG sweep, the heart rate and the rhythm
// and technical state from the patient's live socket (docs/live.md), the HR trend of the
// last minutes, and the threshold editor with its backtest preview and history
// (thresholds.js). The api decides access: another doctor's patient answers 403 and the
// page says so and shows nothing else (docs/console.md).
import * as api from "./api.js";
import { denied } from "./breakglass.js";
import { clock, el, show } from "./dom.js";
import { colour, valueText } from "./worklist.js";
import { createSweep } from "./sweep.js";
import { fetchTrend, trendFigure } from "./trend.js";
import { editor } from "./thresholds.js";

const TREND_NS = 10 * 60e9;
const TREND_REDRAW_MS = 5000;
const RECONNECT_MS = 2000;

export function view(root, patient, status) {
  let closed = false;
  let socket = null;
  let sweep = null;
  const page = el("section", { id: "patient-view" }, el("p", {}, "Loading…"));
  show(root, page);

  async function load() {
    let record;
    try {
      record = await api.call("GET", `/v1/patients/${encodeURIComponent(patient)}`);
    } catch (e) {
      if (e.status === 403) {
        denied(page, patient, () => load().catch(() => {}));
        return;
      }
      throw e;
    }
    if (closed) return;
    const rules = await api.rules();
    const alarms = new Map();
    const hr = el("output", { id: "hr", class: "hr-value" }, "–");
    const hrAt = el("span", { id: "hr-at", class: "note" });
    const analysis = el("output", { id: "analysis-state" }, "not reported yet");
    const rhythm = el("ul", { id: "rhythm-alarms", class: "state-list" });
    const technical = el("ul", { id: "technical-alarms", class: "state-list" });
    const sweepBox = el("div", { id: "sweep-box", class: "sweep-box" }, el("p", {}, "Waiting for the live ECG…"));
    const trendBox = el("div", { id: "hr-trend", class: "trend-box" }, el("p", {}, "Loading the heart-rate trend…"));
    // The trend is read once from the api, then carried on with the socket's `hr`
    // messages: the same rate (docs/live.md), so the page never re-reads the stored ECG.
    const trend = { points: [], averageBeats: null, loaded: false };
    let trendTimer = 0;
    function drawTrendNow() {
      trendTimer = 0;
      if (closed || !trend.loaded) return;
      const now = Math.floor(Date.now()) * 1e6;
      trend.points = trend.points.filter((p) => p.at_ns >= now - TREND_NS);
      show(trendBox, trendFigure({ from: now - TREND_NS, to: now, mark: now, ...trend }));
    }
    function onBeat(message) {
      const last = trend.points[trend.points.length - 1];
      if (last && message.at_ns <= last.at_ns) return; // already in the api's answer
      trend.points.push({ at_ns: message.at_ns, bpm: message.bpm, instant_bpm: message.instant_bpm });
      if (!trendTimer) trendTimer = setTimeout(drawTrendNow, TREND_REDRAW_MS);
    }

    function renderAlarms() {
      const rows = (technicalOnes) =>
        [...alarms.values()]
          .filter((a) => Boolean((rules[a.rule] || {}).technical) === technicalOnes)
          .map((a) =>
            el(
              "li",
              { class: `state-alarm ${colour(a, rules)}`, dataset: { alertId: a.id, state: a.state } },
              el(
                "a",
                { href: `#/patient/${encodeURIComponent(patient)}/alert/${encodeURIComponent(a.id)}` },
                (rules[a.rule] || { describe: a.rule }).describe,
              ),
              ` · ${valueText(a, rules)} · ${a.state} since ${clock(a.fired_ns)}`,
            ),
          );
      const r = rows(false);
      const t = rows(true);
      show(rhythm, r.length ? r : el("li", { class: "note" }, "no open rhythm or rate alarm"));
      show(technical, t.length ? t : el("li", { class: "note" }, "no open technical alarm"));
    }
    renderAlarms();

    function connect() {
      if (closed || !api.signedIn()) return;
      socket = api.liveSocket(patient);
      socket.addEventListener("message", (event) => {
        const message = JSON.parse(event.data);
        switch (message.type) {
          case "hr":
            hr.textContent = String(Math.round(message.bpm));
            hr.dataset.atNs = String(message.at_ns);
            hrAt.textContent = ` bpm at ${clock(message.at_ns)} (this beat ${Math.round(message.instant_bpm)} bpm)`;
            onBeat(message);
            break;
          case "analysis":
            analysis.textContent =
              message.state === "learning" ? "learning the ECG (no physiological alarm yet)" : "analysing";
            analysis.dataset.state = message.state;
            break;
          case "alert":
            if (message.alert.state === "resolved") alarms.delete(message.alert.id);
            else alarms.set(message.alert.id, message.alert);
            renderAlarms();
            break;
          case "ecg":
            for (const bucket of message.buckets) {
              if (!sweep) {
                sweep = createSweep(bucket.min.length);
                show(sweepBox, sweep.element);
              }
              sweep.push(bucket.start_ns, bucket.min, bucket.max);
            }
            break;
          default:
            break;
        }
      });
      socket.addEventListener("close", (event) => {
        socket = null;
        if (closed) return;
        // As the worklist: 4003 (access revoked, account disabled) asks the api at once
        // and does not come back; anything else reconnects with the current token.
        if (event.code === 4001 || event.code === 4003) {
          api.call("GET", `/v1/patients/${encodeURIComponent(patient)}`).catch(() => {});
        }
        if (event.code !== 4003) setTimeout(connect, RECONNECT_MS);
        else status("Live view closed: access to this patient was revoked.");
      });
    }

    show(
      page,
      el("h1", { id: "patient-name" }, record.name || record.id),
      el(
        "div",
        { class: "vitals-head" },
        el("div", { class: "hr-box" }, el("span", { class: "label" }, "HR "), hr, hrAt),
        el("div", {}, el("span", { class: "label" }, "Analysis: "), analysis),
      ),
      el("div", { class: "state-grid" }, el("div", {}, el("h2", {}, "Rhythm"), rhythm), el("div", {}, el("h2", {}, "Technical"), technical)),
      el("h2", {}, "Live ECG"),
      sweepBox,
      el("h2", {}, "Heart rate, last 10 min"),
      trendBox,
      editor(patient, status),
    );
    connect();
    const now = Math.floor(Date.now()) * 1e6;
    try {
      const answer = await fetchTrend(patient, now - TREND_NS, now);
      // Beats the socket brought meanwhile come after the answer's last one.
      const lastAt = answer.points.length ? answer.points[answer.points.length - 1].at_ns : -Infinity;
      trend.points = answer.points.concat(trend.points.filter((p) => p.at_ns > lastAt));
      trend.averageBeats = answer.averageBeats;
      trend.loaded = true;
      if (!closed) show(trendBox, trendFigure({ from: now - TREND_NS, to: now, mark: now, ...trend }));
    } catch (e) {
      show(trendBox, el("p", { role: "alert" }, `No heart-rate trend: ${e.message}`));
    }
  }

  load().catch((e) => show(page, el("p", { role: "alert" }, `Could not load the patient: ${e.message}`)));
  return () => {
    closed = true;
    if (sweep) sweep.stop();
    if (socket) socket.close(1000);
  };
}
