// A horizontal bar chart in SVG, for the fatigue report (fatigue.js): one bar per
// labelled value, an optional darker part of it (acknowledged of the alarms), the value
// written at the bar's end. Each bar carries its figures as data attributes, so a test
// reads what was drawn; the chart is an image with its title as accessible name.
import { svg } from "./dom.js";

const ROW = 22;
const LABEL = 170;
const WIDTH = 640;
const BAR = WIDTH - LABEL - 170; // room for the value's text after a full bar

/**
 * bars: [{label, value, part?, text}], `max` the value of a full bar (at least the
 * largest value). Returns the <svg>.
 */
export function barChart({ id, title, bars, max }) {
  const top = Math.max(max, ...bars.map((b) => b.value), 1e-9);
  const height = ROW * Math.max(bars.length, 1) + 8;
  const rows = bars.map((b, i) => {
    const y = 4 + i * ROW;
    const w = (b.value / top) * BAR;
    const part = b.part === undefined ? null : (b.part / top) * BAR;
    return svg(
      "g",
      { class: "bar", dataset: { label: b.label, value: String(b.value), width: w.toFixed(2) } },
      svg("text", { x: LABEL - 6, y: y + 14, class: "bar-label" }, b.label),
      svg("rect", { x: LABEL, y: y + 2, width: Math.max(w, 0), height: ROW - 6, class: "bar-all" }),
      part === null ? null : svg("rect", { x: LABEL, y: y + 2, width: Math.max(part, 0), height: ROW - 6, class: "bar-part" }),
      svg("text", { x: LABEL + w + 6, y: y + 14, class: "bar-value" }, b.text),
    );
  });
  return svg(
    "svg",
    {
      id,
      class: "chart",
      dataset: { full: String(BAR) },
      role: "img",
      "aria-label": title,
      viewBox: `0 0 ${WIDTH} ${height}`,
      width: WIDTH,
      height,
    },
    svg("title", {}, title),
    svg("line", { x1: LABEL, y1: 0, x2: LABEL, y2: height, class: "axis" }),
    rows,
  );
}
