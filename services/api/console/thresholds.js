// The threshold editor of the patient view: the current policy as a form (one input per
// field, named by its dotted path as the api names fields in its errors), a backtest
// preview of the edited policy over stored ECG before it can be saved, and the version
// history with diffs (policy_history.js). The api validates: its own error for a field is
// shown beside that field, nothing is checked twice here (docs/console.md).
import * as api from "./api.js";
import { clock, el, show } from "./dom.js";
import { flatten, historyList } from "./policy_history.js";
import { frames } from "./alert.js";
import { drawStrip } from "./strip.js";

const WINDOW_NS = 3600e9; // the backtest route replays at most an hour per request
const PREVIEW_HOURS = [24, 6, 1];
const STRIP_AROUND_NS = 10e9;
const OWNED = new Set(["patient", "version"]);

/** A dotted path into a nested object, creating the objects on the way. */
function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") node[key] = {};
    node = node[key];
  }
  node[keys[keys.length - 1]] = value;
}

/** What an input holds, as JSON: the api says when it is the wrong type. */
function valueOf(input) {
  if (input.type === "checkbox") return input.checked;
  const text = input.value.trim();
  if (text === "") return null;
  if (input.dataset.kind === "string") return text;
  if (text === "true" || text === "false") return text === "true";
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}

function fieldInput(path, value) {
  const id = `field-${path.replace(/[^a-z0-9_]/gi, "-")}`;
  const kind = value === null ? "unset" : typeof value;
  const name = path.split(".").pop();
  let input;
  if (kind === "boolean") {
    input = el("input", { id, type: "checkbox", checked: value, dataset: { field: path, kind } });
  } else if (name === "priority") {
    input = el(
      "select",
      { id, dataset: { field: path, kind: "string" } },
      ["high", "medium", "low"].map((p) => el("option", { value: p, selected: p === value }, p)),
    );
  } else {
    input = el("input", {
      id,
      type: "text",
      inputmode: kind === "number" ? "decimal" : undefined,
      value: value === null ? "" : String(value),
      placeholder: value === null ? "not set" : undefined,
      dataset: { field: path, kind },
    });
  }
  return el(
    "div",
    { class: "field-row" },
    el("label", { for: id }, path),
    input,
    el("span", { class: "field-error", role: "alert", dataset: { errorFor: path } }),
  );
}

function ruleFieldset(rule, value) {
  const on = el("input", { type: "checkbox", checked: true, class: "rule-on", "aria-label": `${rule} on` });
  return el(
    "fieldset",
    { class: "rule", dataset: { rule } },
    el("legend", {}, rule, " ", on),
    Object.entries(flatten(value, rule)).map(([path, v]) => fieldInput(path, v)),
    el("span", { class: "field-error", role: "alert", dataset: { errorFor: rule } }),
  );
}

function addedRule(rule) {
  const id = `rule-json-${rule}`;
  return el(
    "fieldset",
    { class: "rule added", dataset: { rule } },
    el("legend", {}, `${rule} (new)`),
    el("label", { for: id }, "its fields as JSON; the api fills in the defaults it has"),
    el("textarea", { id, rows: 2, dataset: { ruleJson: rule } }, "{}"),
    el("span", { class: "field-error", role: "alert", dataset: { errorFor: rule } }),
  );
}

/** The field an api error names: its `field`, or the path its message starts with (400). */
function fieldOf(error) {
  if (error.field) return error.field;
  const head = /^([a-z0-9_]+(?:\.[a-z0-9_]+)*)(?:\[\d+\])?:/i.exec(error.message || "");
  return head ? head[1] : null;
}

/** The editor for `patient`; `status` reports what happened (the page's status line). */
export function editor(patient, status) {
  const section = el("section", { id: "thresholds", class: "thresholds" }, el("p", {}, "Loading the policy…"));
  const base = `/v1/patients/${encodeURIComponent(patient)}`;
  let generation = 0; // a preview answers only for the form it was run on

  async function load() {
    const [policy, history, rules] = await Promise.all([
      api.call("GET", `${base}/thresholds`),
      historyList(patient),
      api.rules(),
    ]);
    const settings = Object.fromEntries(Object.entries(policy).filter(([k]) => !OWNED.has(k)));
    const off = Object.keys(settings).filter((k) => settings[k] === null);
    const general = el("p", { id: "thresholds-error", class: "field-error", role: "alert" });
    const hours = el(
      "select",
      { id: "backtest-hours", "aria-label": "Backtest over" },
      PREVIEW_HOURS.map((h) => el("option", { value: h }, `last ${h} h`)),
    );
    const previewButton = el("button", { type: "button", id: "backtest-run" }, "Preview (backtest)");
    const saveButton = el("button", { type: "submit", id: "thresholds-save", disabled: true }, "Save new version");
    const preview = el("section", { id: "backtest-preview", class: "backtest-preview", "aria-live": "polite" });
    const addSelect = el(
      "select",
      { id: "rule-add", "aria-label": "Rule to turn on" },
      off.map((rule) => el("option", { value: rule }, rule)),
    );
    const added = el("div", { class: "added-rules" });
    const form = el(
      "form",
      { id: "thresholds-form", class: "thresholds-form", novalidate: true, dataset: { version: String(policy.version) } },
      Object.entries(settings)
        .filter(([, v]) => v !== null)
        .map(([key, v]) => (typeof v === "object" ? ruleFieldset(key, v) : fieldInput(key, v))),
      added,
      off.length
        ? el(
            "div",
            { class: "field-row" },
            addSelect,
            el(
              "button",
              {
                type: "button",
                id: "rule-add-button",
                onclick: () => {
                  const rule = addSelect.value;
                  if (!rule || form.querySelector(`fieldset[data-rule="${rule}"]`)) return;
                  added.append(addedRule(rule));
                  stale();
                },
              },
              "Turn on",
            ),
          )
        : null,
      general,
      el("div", { class: "actions" }, hours, previewButton, saveButton),
    );

    function clearErrors() {
      for (const span of form.querySelectorAll(".field-error")) span.textContent = "";
      for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    }

    function showError(error) {
      const field = fieldOf(error);
      const rule = field ? field.split(".")[0] : null;
      const span =
        (field && form.querySelector(`.field-error[data-error-for="${CSS.escape(field)}"]`)) ||
        (rule && form.querySelector(`.field-error[data-error-for="${CSS.escape(rule)}"]`)) ||
        general;
      span.textContent = error.message;
      const input = field && form.querySelector(`[data-field="${CSS.escape(field)}"]`);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    }

    /** The body of a PUT: the form's fields over the current policy. */
    function body() {
      const out = structuredClone(settings);
      for (const input of form.querySelectorAll("[data-field]")) setPath(out, input.dataset.field, valueOf(input));
      for (const fieldset of form.querySelectorAll("fieldset.rule:not(.added)")) {
        if (!fieldset.querySelector(".rule-on").checked) out[fieldset.dataset.rule] = null;
      }
      for (const area of form.querySelectorAll("[data-rule-json]")) {
        try {
          out[area.dataset.ruleJson] = JSON.parse(area.value);
        } catch (e) {
          throw Object.assign(new Error(`${area.dataset.ruleJson}: not JSON (${e.message})`), {
            field: area.dataset.ruleJson,
          });
        }
      }
      return out;
    }

    function stale() {
      generation++;
      saveButton.disabled = true;
      if (preview.childElementCount) preview.dataset.stale = "1";
    }
    form.addEventListener("input", stale);
    form.addEventListener("change", stale);

    previewButton.addEventListener("click", async () => {
      clearErrors();
      const mine = ++generation;
      let policyBody;
      try {
        policyBody = body();
      } catch (e) {
        showError(e);
        return;
      }
      const span = Number(hours.value) * WINDOW_NS;
      const to = Math.floor(Date.now()) * 1e6;
      const from = to - span;
      const windows = [];
      for (let start = from; start < to; start += WINDOW_NS) windows.push([start, Math.min(to, start + WINDOW_NS)]);
      show(preview, el("p", { role: "status" }, "Replaying the stored ECG…"));
      delete preview.dataset.stale;
      const would = [];
      try {
        for (const [i, [start, end]] of windows.entries()) {
          const report = await api.call("POST", `${base}/backtest`, { from_ns: start, to_ns: end, policy: policyBody });
          if (mine !== generation) return;
          would.push(...report.alerts);
          show(preview, el("p", { role: "status" }, `Replaying the stored ECG… hour ${i + 1} of ${windows.length}`));
        }
      } catch (e) {
        if (mine !== generation) return;
        show(preview);
        showError(e);
        return;
      }
      renderPreview(preview, would, Number(hours.value), windows, rules);
      saveButton.disabled = false;
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      try {
        const saved = await api.call("PUT", `${base}/thresholds`, body());
        status(`Saved the threshold policy: version ${saved.version}`);
        await load();
      } catch (e) {
        showError(e);
      }
    });

    show(
      section,
      el("h2", {}, `Thresholds (version ${policy.version})`),
      form,
      preview,
      el("h2", {}, "Version history"),
      history,
    );
  }

  /** The alarms the edited policy would have raised, each with its strip on demand. */
  function renderPreview(preview, would, hours, windows, rules) {
    preview.dataset.count = String(would.length);
    preview.dataset.windows = JSON.stringify(windows.map(([a, b]) => [String(a), String(b)]));
    show(
      preview,
      el(
        "p",
        { id: "backtest-count", class: "backtest-count" },
        `This policy would have raised ${would.length} alarm${would.length === 1 ? "" : "s"} over the last ${hours} h.`,
      ),
      el(
        "ol",
        { class: "backtest-alarms" },
        would.map((alarm, i) => {
          const box = el("div", { class: "strip-box" });
          const item = el(
            "details",
            { class: `backtest-alarm ${alarm.technical ? "technical" : "prio-" + alarm.priority}`, dataset: { index: String(i) } },
            el(
              "summary",
              {},
              `${(rules[alarm.rule] || { describe: alarm.rule }).describe} · ${alarm.priority} · onset ${clock(alarm.started_ns)}` +
                (alarm.resolved_ns ? ` · resolved ${clock(alarm.resolved_ns)}` : " · still open at the end"),
            ),
            box,
          );
          item.addEventListener("toggle", () => {
            if (item.open && !box.childElementCount) loadStrip(box, alarm, i);
          });
          return el("li", {}, item);
        }),
      ),
    );
    const first = preview.querySelector("details.backtest-alarm");
    if (first) first.open = true;
  }

  async function loadStrip(box, alarm, i) {
    show(box, el("p", {}, "Loading the ECG…"));
    const from = alarm.started_ns - STRIP_AROUND_NS;
    const to = alarm.started_ns + STRIP_AROUND_NS;
    try {
      const [data, beats] = await Promise.all([
        frames(patient, from, to),
        api.call("GET", `/v1/patients/${encodeURIComponent(patient)}/beats?from_ns=${from}&to_ns=${to}`),
      ]);
      show(box, drawStrip({ from, to, onset: alarm.started_ns, frames: data, beats: beats.beats, id: `backtest-strip-${i}` }));
    } catch (e) {
      show(box, el("p", { role: "alert" }, `No strip: ${e.message}`));
    }
  }

  load().catch((e) => {
    if (e.status === 403) show(section);
    else show(section, el("p", { role: "alert" }, `Could not load the thresholds: ${e.message}`));
  });
  return section;
}
