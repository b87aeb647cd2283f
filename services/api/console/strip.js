// The ECG strip on standard paper: 25 mm/s, 10 mm/mV, a 1 mm grid with 5 mm major
// lines, a 1 mV calibration pulse (10 mm × 200 ms) before each lead, beat marks with
// their class, and the onset. Drawn in SVG whose user unit is the CSS millimetre
// (width="…mm" with a viewBox in mm), so the page declares its scale exactly:
// 1 mm = 96/25.4 CSS px, and 1 mm on paper when printed (docs/console.md).
import { el, svg } from "./dom.js";

export const MM_PER_S = 25;
export const MM_PER_MV = 10;
const LEAD_MM = 40; // ±2 mV around the lead's median
const LEFT_MM = 10; // room for the calibration pulse
const TOP_MM = 6; // beat marks
const BOTTOM_MM = 6; // second labels
const SNAP_MM = 1; // a caliper end this close to a beat mark lands on it

function median(values) {
  const sorted = Float64Array.from(values).sort();
  return sorted.length ? sorted[sorted.length >> 1] : 0;
}

function gridLines(width, height, step, className) {
  const lines = [];
  for (let x = 0; x <= width + 1e-9; x += step) {
    lines.push(svg("line", { class: className, x1: x.toFixed(2), y1: 0, x2: x.toFixed(2), y2: height }));
  }
  for (let y = 0; y <= height + 1e-9; y += step) {
    lines.push(svg("line", { class: className, x1: 0, y1: y.toFixed(2), x2: width, y2: y.toFixed(2) }));
  }
  return lines;
}

/** One path per lead; a gap in the timestamps (over 1.5 sample periods) lifts the pen. */
function tracePath(frames, lead, from, mid, baselineUv) {
  const parts = [];
  let last = null;
  let period = Infinity;
  if (frames.length > 1) period = frames[1][0] - frames[0][0];
  for (const [t, values] of frames) {
    const v = values[lead];
    if (v === undefined) continue;
    const x = LEFT_MM + ((t - from) / 1e9) * MM_PER_S;
    const y = mid - ((v - baselineUv) / 1000) * MM_PER_MV;
    const pen = last === null || t - last > 1.5 * period ? "M" : "L";
    parts.push(`${pen}${x.toFixed(3)} ${y.toFixed(3)}`);
    last = t;
  }
  return parts.join("");
}

/**
 * Calipers: two clicks mark two instants and the readout gives the interval in ms (and
 * as a rate). An end within SNAP_MM of a beat mark lands on it, so an RR is read from
 * the detector's beat times rather than to the nearest pixel (1 px ≈ 10 ms at 25 mm/s).
 */
function calipers(paper, height, beatXs, readout) {
  const group = svg("g", { class: "calipers" });
  paper.append(group);
  let first = null;
  paper.addEventListener("click", (event) => {
    const point = paper.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    let x = point.matrixTransform(paper.getScreenCTM().inverse()).x;
    const near = beatXs.reduce((best, bx) => (Math.abs(bx - x) < Math.abs(best - x) ? bx : best), Infinity);
    if (Math.abs(near - x) <= SNAP_MM) x = near;
    const mark = svg("line", { class: "caliper", x1: x, y1: 0, x2: x, y2: height });
    if (first === null) {
      first = x;
      group.replaceChildren(mark);
      readout.textContent = "Calipers: click the second point.";
      delete readout.dataset.ms;
      return;
    }
    const ms = (Math.abs(x - first) / MM_PER_S) * 1000;
    const y = height / 2;
    group.append(mark, svg("line", { class: "caliper-span", x1: first, y1: y, x2: x, y2: y }));
    readout.dataset.ms = ms.toFixed(1);
    readout.textContent = `Calipers: ${Math.round(ms)} ms (${ms > 0 ? Math.round(60000 / ms) : "–"} /min)`;
    first = null;
  });
}

/**
 * The strip of [from, to) ns: `frames` as the ECG route answers them raw
 * ([time_ns, [µV per lead]]), `beats` as the beats route ({at_ns, class}).
 */
export function drawStrip({ from, to, onset, frames, beats, id = "strip" }) {
  const leads = frames.length ? frames[0][1].length : 0;
  if (!leads) return el("p", { role: "status" }, "No ECG was stored around this alert.");
  const traceMm = ((to - from) / 1e9) * MM_PER_S;
  const width = LEFT_MM + traceMm;
  const height = TOP_MM + leads * LEAD_MM + BOTTOM_MM;
  const xOf = (t) => LEFT_MM + ((t - from) / 1e9) * MM_PER_S;
  const paper = svg(
    "svg",
    {
      id,
      class: "strip",
      width: `${width}mm`,
      height: `${height}mm`,
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `ECG, ${leads} leads, ${((to - from) / 1e9).toFixed(0)} s at 25 mm/s and 10 mm/mV`,
      dataset: { mmPerS: MM_PER_S, mmPerMv: MM_PER_MV, fromNs: String(from), leftMm: LEFT_MM },
    },
    // The 1 mm grid as one tiled pattern rather than a line per millimetre: a 60 s strip
    // would otherwise carry ~1,600 elements more, most of its drawing time
    // (docs/benchmarks.md, "Console in the browser").
    svg(
      "defs",
      {},
      svg(
        "pattern",
        { id: `${id}-minor`, width: 1, height: 1, patternUnits: "userSpaceOnUse" },
        svg("path", { class: "minor", d: "M0 0H1M0 0V1" }),
      ),
    ),
    svg("rect", { class: "grid-minor", x: 0, y: 0, width, height, fill: `url(#${id}-minor)` }),
    svg("g", { class: "grid-major" }, gridLines(width, height, 5, "major")),
  );
  for (let lead = 0; lead < leads; lead++) {
    const mid = TOP_MM + lead * LEAD_MM + LEAD_MM / 2;
    const baseline = median(frames.map((f) => f[1][lead]).filter((v) => v !== undefined));
    paper.append(
      svg("path", {
        class: "calibration",
        dataset: { lead },
        d: `M1 ${mid}H2V${mid - MM_PER_MV}H${2 + 0.2 * MM_PER_S}V${mid}H${LEFT_MM - 1}`,
      }),
      svg("text", { class: "lead-label", x: 1, y: mid + 6 }, `lead ${lead + 1}`),
      svg("path", { class: "trace", dataset: { lead }, d: tracePath(frames, lead, from, mid, baseline) }),
    );
  }
  for (const beat of beats || []) {
    if (beat.at_ns < from || beat.at_ns >= to) continue;
    const x = xOf(beat.at_ns);
    paper.append(
      svg(
        "g",
        { class: `beat beat-${beat.class}`, dataset: { atNs: String(beat.at_ns), class: beat.class } },
        svg("line", { x1: x, y1: 0.5, x2: x, y2: TOP_MM - 1 }),
        svg("text", { x: x + 0.6, y: TOP_MM - 2 }, beat.class),
      ),
    );
  }
  for (let s = 0; s * 1e9 <= to - from; s += 5) {
    const x = LEFT_MM + s * MM_PER_S;
    const rel = Math.round((from + s * 1e9 - onset) / 1e9);
    paper.append(svg("text", { class: "second", x: x + 0.5, y: height - 1.5 }, `${rel > 0 ? "+" : ""}${rel} s`));
  }
  const onsetX = xOf(onset);
  paper.append(svg("line", { class: "onset", x1: onsetX, y1: 0, x2: onsetX, y2: height }));
  // The alert's one strip keeps the ids the tests know; others (a backtest preview's) get their own.
  const readout = el("output", { id: id === "strip" ? "caliper-readout" : `${id}-calipers` }, "Calipers: click two points on the strip (RR, QRS, QT).");
  calipers(paper, height, (beats || []).map((b) => xOf(b.at_ns)), readout);
  return el(
    "figure",
    { class: "strip-figure" },
    el("div", { class: "strip-scroll", tabindex: 0 }, paper),
    readout,
    el("figcaption", {}, `25 mm/s · 10 mm/mV · ${leads} lead${leads > 1 ? "s" : ""} · onset marked · beats: N normal, S supraventricular, V ventricular, F fusion, Q unclassified`),
  );
}
