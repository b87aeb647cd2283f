// The live ECG sweep of the patient view: like a bedside monitor, each lead is drawn left
// to right over a fixed window at 25 mm/s and 10 mm/mV and wraps round, erasing just
// ahead of the pen. It draws what the live socket sends (`ecg` messages: min and max per
// lead for each bucket, docs/live.md), so a QRS spike survives the subsampling. Drawing
// happens once per animation frame for everything that arrived since the last one, so
// input at any rate costs one canvas pass per frame (docs/benchmarks.md, "Console in the browser").
import { el } from "./dom.js";
import { MM_PER_MV, MM_PER_S } from "./strip.js";

export const SWEEP_S = 10;
const PX_PER_MM = 96 / 25.4; // the CSS millimetre, as the strip declares it
const LEAD_MM = 30; // ±1.5 mV around the lead's baseline
const GAP_PX = 12; // erased ahead of the pen
const BASELINE_S = 2; // the baseline follows the signal's mean over about this long

/**
 * A sweep for `leads` leads. `push(t_ns, min, max)` queues one bucket (µV per lead);
 * the canvas's dataset counts what was drawn (`samples`, `frames`) and the slowest
 * frame's drawing time in ms (`maxFrameMs`), which the browser test and the benchmark read.
 */
export function createSweep(leads) {
  const width = Math.round(SWEEP_S * MM_PER_S * PX_PER_MM);
  const leadPx = LEAD_MM * PX_PER_MM;
  const canvas = el("canvas", {
    id: "sweep",
    class: "sweep",
    width,
    height: Math.round(leads * leadPx),
    role: "img",
    "aria-label": `live ECG, ${leads} lead${leads > 1 ? "s" : ""}, ${SWEEP_S} s sweep at 25 mm/s and 10 mm/mV`,
    dataset: { samples: "0", frames: "0", maxFrameMs: "0" },
  });
  const ctx = canvas.getContext("2d");
  const pxPerNs = (MM_PER_S * PX_PER_MM) / 1e9;
  const pxPerUv = (MM_PER_MV * PX_PER_MM) / 1000;
  let pending = [];
  let origin = null;
  let last = null; // {x, y: [per lead]}
  let baseline = null;
  let samples = 0;
  let frames = 0;
  let maxFrameMs = 0;
  let raf = 0;
  let stopped = false;

  function draw() {
    raf = 0;
    if (stopped || pending.length === 0) return;
    const started = performance.now();
    const batch = pending;
    pending = [];
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = "#0a7d32";
    ctx.lineJoin = "round";
    const alpha = 1 / (BASELINE_S * 50); // per bucket, at the socket's 50 buckets/s
    for (const { t, min, max } of batch) {
      if (origin === null) origin = t;
      const x = (((t - origin) * pxPerNs) % width + width) % width;
      if (baseline === null) baseline = min.map((v, i) => (v + max[i]) / 2);
      const wrapped = last === null || x < last.x;
      // Erase ahead of the pen (across the wrap too).
      const from = wrapped ? 0 : last.x + 1;
      const to = x + GAP_PX;
      if (to > from) ctx.clearRect(from, 0, to - from, canvas.height);
      if (to > width) ctx.clearRect(0, 0, to - width, canvas.height);
      const ys = [];
      ctx.beginPath();
      for (let lead = 0; lead < min.length && lead < leads; lead++) {
        const mid = lead * leadPx + leadPx / 2;
        baseline[lead] += alpha * ((min[lead] + max[lead]) / 2 - baseline[lead]);
        const yMin = mid - (min[lead] - baseline[lead]) * pxPerUv;
        const yMax = mid - (max[lead] - baseline[lead]) * pxPerUv;
        if (wrapped) ctx.moveTo(x, yMin);
        else ctx.moveTo(last.x, last.y[lead]);
        ctx.lineTo(x, yMin);
        ctx.lineTo(x, yMax);
        ys.push((yMin + yMax) / 2);
      }
      ctx.stroke();
      last = { x, y: ys };
      samples++;
    }
    frames++;
    maxFrameMs = Math.max(maxFrameMs, performance.now() - started);
    canvas.dataset.samples = String(samples);
    canvas.dataset.frames = String(frames);
    canvas.dataset.maxFrameMs = maxFrameMs.toFixed(2);
  }

  return {
    element: canvas,
    push(t, min, max) {
      if (stopped) return;
      pending.push({ t, min, max });
      if (!raf) raf = requestAnimationFrame(draw);
    },
    stop() {
      stopped = true;
      if (raf) cancelAnimationFrame(raf);
    },
  };
}
