// Building the page without markup strings: every value lands in a Text node or an
// attribute, never in innerHTML, so a patient name such as "<script>" stays text
// (docs/console.md, "Security").

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An HTML element: el("td", {class: "x"}, "text", otherNode). */
export function el(tag, props, ...children) {
  return fill(document.createElement(tag), props, children);
}

/** An SVG element, same shape as `el`. */
export function svg(tag, props, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), props, children);
}

/** Replaces everything in `root`. */
export function show(root, ...children) {
  root.replaceChildren(...children.flat().filter((c) => c));
}

/** "3 min 20 s" for a duration in seconds. */
export function age(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A clock time for nanoseconds since the epoch. */
export function clock(ns) {
  return new Date(Number(ns) / 1e6).toLocaleTimeString();
}
