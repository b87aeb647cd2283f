// The version history of a patient's threshold policy with what each version changed
// (`GET /v1/patients/{id}/thresholds/history`, newest first, docs/api.md). A diff is
// between neighbouring versions, field by field (dotted paths, as the api names fields
// in its errors): presentation only, the api keeps every version whole.
import * as api from "./api.js";
import { el } from "./dom.js";

/** {"hr_high.bpm": 120, …}: every leaf of a policy (null rules stay one null leaf). */
export function flatten(value, prefix = "", out = {}) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out[prefix] = value;
  }
  return out;
}

const OWNED = new Set(["patient", "version"]);

/** The fields whose value differs between `before` (or nothing) and `after`. */
export function diff(before, after) {
  const a = before ? flatten(before) : {};
  const b = flatten(after);
  const changes = [];
  for (const field of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (OWNED.has(field)) continue;
    const was = field in a ? a[field] : null;
    const now = field in b ? b[field] : null;
    if (JSON.stringify(was) !== JSON.stringify(now)) changes.push({ field, was, now });
  }
  return changes.sort((x, y) => x.field.localeCompare(y.field));
}

function shown(value) {
  return value === null || value === undefined ? "off" : JSON.stringify(value);
}

/** The history as a list: each version with its changes from the one before. */
export async function historyList(patient) {
  const versions = await api.call("GET", `/v1/patients/${encodeURIComponent(patient)}/thresholds/history`);
  if (versions.length === 0) return el("p", { id: "policy-history", role: "status" }, "No saved version yet.");
  return el(
    "ol",
    { id: "policy-history", class: "policy-history", reversed: true },
    versions.map((version, i) => {
      const before = versions[i + 1] || null;
      // The oldest listed version's own predecessor is not in the page: no diff for it.
      const changes = before === null && version.version > 1 ? null : diff(before, version);
      return el(
        "li",
        { class: "policy-version", dataset: { version: String(version.version) } },
        el("strong", {}, `Version ${version.version}`),
        changes === null
          ? el("p", { class: "note" }, "the versions before it are not listed")
          : changes.length === 0
            ? el("p", { class: "note" }, "no field changed")
            : el(
                "table",
                { class: "policy-diff" },
                changes.map((c) =>
                  el(
                    "tr",
                    { dataset: { field: c.field } },
                    el("td", { class: "field" }, c.field),
                    el("td", { class: "was" }, shown(c.was)),
                    el("td", { class: "arrow", "aria-hidden": "true" }, "→"),
                    el("td", { class: "now" }, shown(c.now)),
                  ),
                ),
              ),
      );
    }),
  );
}
