// The heart-rate trend: one point per beat from `GET /v1/patients/{id}/hr` — the rate
// the patient's HR rules saw (docs/api.md), so the console computes no rate of its own.
// An SVG chart with the alarm's onset (or "now") marked; drawn on the alert detail
// around the event and on the patient view over the last minutes (docs/console.md).
import * as api from "./api.js";
import { el, svg } from "./dom.js";

const W = 600;
const H = 150;
const LEFT = 34;
const RIGHT = 20; // room for the last minute's label
const BOTTOM = 16;

/** The chart of `points` ({at_ns, bpm}) over [from, to) ns, with `mark` (ns) drawn. */
export function drawTrend({ from, to, points, mark }) {
  const bpms = points.map((p) => p.bpm).filter(Number.isFinite);
  const low = Math.min(40, ...bpms.map((b) => Math.floor(b / 20) * 20));
  const high = Math.max(160, ...bpms.map((b) => Math.ceil(b / 20) * 20));
  const x = (t) => LEFT + ((t - from) / (to - from)) * (W - LEFT - RIGHT);
  const y = (bpm) => 4 + (1 - (bpm - low) / (high - low)) * (H - BOTTOM - 8);
  const chart = svg("svg", {
    class: "trend",
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": `heart-rate trend, ${points.length} beats over ${Math.round((to - from) / 60e9)} min`,
    dataset: { points: String(points.length), fromNs: String(from), toNs: String(to) },
  });
  for (let bpm = low; bpm <= high; bpm += 20) {
    chart.append(
      svg("line", { class: "trend-grid", x1: LEFT, y1: y(bpm), x2: W - RIGHT, y2: y(bpm) }),
      svg("text", { class: "trend-label", x: 2, y: y(bpm) + 3 }, String(bpm)),
    );
  }
  const minutes = Math.round((to - from) / 60e9);
  const step = minutes > 20 ? 10 : minutes > 6 ? 2 : 1;
  for (let m = 0; m <= minutes; m += step) {
    const t = from + m * 60e9;
    const rel = Math.round((t - mark) / 60e9);
    chart.append(
      svg("text", { class: "trend-label time", x: x(t), y: H - 3 }, `${rel > 0 ? "+" : ""}${rel} min`),
    );
  }
  // A gap of more than 5 s between beats lifts the pen (no signal, not a rate).
  let d = "";
  let prev = null;
  for (const p of points) {
    if (!Number.isFinite(p.bpm)) continue;
    d += `${prev === null || p.at_ns - prev > 5e9 ? "M" : "L"}${x(p.at_ns).toFixed(1)} ${y(p.bpm).toFixed(1)}`;
    prev = p.at_ns;
  }
  chart.append(
    svg("path", { class: "trend-line", d }),
    svg("line", { class: "trend-mark", x1: x(mark), y1: 2, x2: x(mark), y2: H - BOTTOM }),
  );
  return chart;
}

/** The trend as the page shows it: the chart and what it is, or why there is none. */
export function trendFigure({ from, to, mark, points, averageBeats }) {
  if (points.length === 0) {
    return el("p", { class: "trend-empty", role: "status" }, "No beats stored in this period.");
  }
  return el(
    "figure",
    { class: "trend-figure" },
    drawTrend({ from, to, points, mark }),
    el("figcaption", {}, `Heart rate (bpm) as the HR rules saw it: trimmed mean of ${averageBeats} beats`),
  );
}

/** The points of [from, to) ns from the api: `{points, averageBeats}`. */
export async function fetchTrend(patient, from, to) {
  const answer = await api.call("GET", `/v1/patients/${encodeURIComponent(patient)}/hr?from_ns=${from}&to_ns=${to}`);
  return { points: answer.points, averageBeats: answer.average_beats };
}

/** The trend of [from, to) ns around `mark` (an onset), fetched; an error shows in its place. */
export async function trendAround(patient, from, to, mark) {
  try {
    return trendFigure({ from, to, mark, ...(await fetchTrend(patient, from, to)) });
  } catch (e) {
    return el("p", { role: "alert" }, `No heart-rate trend: ${e.message}`);
  }
}
