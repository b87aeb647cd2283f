// The alarm-fatigue report as charts (doctor, admin, ops; docs/console.md, "Admin and
// ops"): GET /v1/reports/fatigue?days=N (docs/api.md, docs/reports.md) — alarms per day
// with the acknowledged part, and per rule the false-alarm rate from triage (artifact +
// false over triaged). The report names patients by opaque id only and this page shows
// none of them, and reads nothing else: ops, who see no PHI, use it as it is.
import * as api from "./api.js";
import { el, show } from "./dom.js";
import { barChart } from "./chart.js";
import { dataTable, refusal } from "./forms.js";

const DAYS = [1, 7, 30, 90];
const DAY_MS = 86_400_000;

function percent(x) {
  return `${Math.round(x * 100)} %`;
}

/** Alarms and acknowledged alarms per UTC day, oldest first, every day of the window. */
export function perDay(report, days, today) {
  const out = [];
  for (let d = today - days + 1; d <= today; d++) out.push({ day: d, alarms: 0, acked: 0 });
  for (const row of report.rows) {
    const slot = out.find((o) => o.day === row.day);
    if (slot) {
      slot.alarms += row.alarms;
      slot.acked += row.acked;
    }
  }
  return out;
}

export function view(root, status) {
  const page = el("section", { id: "fatigue-page" }, el("h1", {}, "Alarm fatigue"), el("p", {}, "Loading…"));
  show(root, page);
  let closed = false;
  const days = el(
    "select",
    { id: "fatigue-days", onchange: () => load().catch(fail) },
    DAYS.map((d) => el("option", { value: d, selected: d === 7 }, d === 1 ? "the last day" : `the last ${d} days`)),
  );

  async function load() {
    const n = Number(days.value);
    let report;
    try {
      report = await api.call("GET", `/v1/reports/fatigue?days=${n}`);
    } catch (e) {
      show(page, el("h1", {}, "Alarm fatigue"), refusal(e));
      return;
    }
    if (closed) return;
    const today = Math.floor(Date.now() / DAY_MS);
    const byDay = perDay(report, n, today);
    const dayChart = barChart({
      id: "chart-days",
      title: "Alarms per day (darker: acknowledged)",
      bars: byDay.map((d) => ({
        label: new Date(d.day * DAY_MS).toISOString().slice(0, 10),
        value: d.alarms,
        part: d.acked,
        text: `${d.alarms} (${d.acked} ack)`,
      })),
      max: 1,
    });
    const judged = report.rules.filter((r) => r.false_alarm_rate !== null);
    const ruleChart = barChart({
      id: "chart-false-alarms",
      title: "False-alarm rate per rule, from triage (artifact + false over triaged)",
      bars: judged.map((r) => ({
        label: r.rule,
        value: r.false_alarm_rate,
        text: `${percent(r.false_alarm_rate)} of ${r.triaged} triaged`,
      })),
      max: 1,
    });
    const rules = dataTable(
      { id: "fatigue-rules" },
      "Per rule",
      ["Rule", "Alarms", "Triaged", "Confirmed", "Artifact", "False", "False-alarm rate"],
      el(
        "tbody",
        {},
        report.rules.map((r) =>
          el(
            "tr",
            { dataset: { rule: r.rule } },
            [r.rule, r.alarms, r.triaged, r.confirmed, r.artifact, r.false_alarms].map((v) => el("td", {}, String(v))),
            el("td", {}, r.false_alarm_rate === null ? "not triaged" : percent(r.false_alarm_rate)),
          ),
        ),
      ),
    );
    const ttack = report.median_time_to_ack_s === null ? "–" : `${Math.round(report.median_time_to_ack_s)} s`;
    show(
      page,
      el("h1", {}, "Alarm fatigue"),
      el("div", { class: "field-row" }, el("label", { for: "fatigue-days" }, "Over"), days),
      el(
        "p",
        { id: "fatigue-summary", dataset: { alarms: String(report.alarms) } },
        `${report.alarms} alarms, ${percent(report.ack_rate)} acknowledged, median time to acknowledge ${ttack}.`,
      ),
      el("h2", {}, "Alarms per day"),
      dayChart,
      el("h2", {}, "False alarms per rule"),
      judged.length ? ruleChart : el("p", { id: "chart-false-alarms-empty" }, "No alarm was triaged in this window."),
      rules,
    );
    page.dataset.ready = "1";
  }

  function fail(e) {
    status(`Could not load the report: ${e.message}`);
  }

  load().catch(fail);
  return () => {
    closed = true;
  };
}
