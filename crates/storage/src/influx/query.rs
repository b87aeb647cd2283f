//! InfluxQL text and the JSON that `/query` answers with.

use crate::ports::{EcgEnvelope, Result, StoreError};
use cw_core::PatientId;
use cw_core::time::Nanos;
use serde::Deserialize;

/// InfluxDB's valid time range is narrower than i64 (the extremes are sentinels).
const MIN_TIME: Nanos = -9_223_372_036_854_775_806;
const MAX_TIME: Nanos = 9_223_372_036_854_775_806;

/// Rows per `/query` page: bounded memory per page, and correct even where the server's
/// `max-row-limit` truncates results.
pub(super) const PAGE_ROWS: usize = 10_000;

/// A single-quoted InfluxQL string literal.
pub(super) fn quote_str(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 2);
    out.push('\'');
    for c in raw.chars() {
        if matches!(c, '\'' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A double-quoted InfluxQL identifier.
pub(super) fn quote_ident(raw: &str) -> String {
    format!("\"{}\"", raw.replace('\\', "\\\\").replace('"', "\\\""))
}

fn range(patient: &PatientId, from: Nanos, to: Nanos) -> String {
    format!(
        "\"patient\" = {} AND time >= {} AND time < {}",
        quote_str(patient.as_str()),
        from.max(MIN_TIME),
        to.min(MAX_TIME)
    )
}

pub(super) fn count_frames(
    measurement: &str,
    patient: &PatientId,
    from: Nanos,
    to: Nanos,
) -> String {
    format!(
        "SELECT count(\"l0\") FROM {} WHERE {}",
        quote_ident(measurement),
        range(patient, from, to)
    )
}

/// One page of frames from `source` (a quoted measurement, or `"rp"."measurement"`);
/// the next page starts one nanosecond after the last row.
pub(super) fn frames_page(source: &str, patient: &PatientId, from: Nanos, to: Nanos) -> String {
    format!(
        "SELECT * FROM {source} WHERE {} ORDER BY time ASC LIMIT {PAGE_ROWS}",
        range(patient, from, to)
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct Response {
    #[serde(default)]
    pub results: Vec<Statement>,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Statement {
    #[serde(default)]
    pub series: Vec<Series>,
    pub error: Option<String>,
    #[serde(default)]
    pub partial: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct Series {
    /// The measurement, or for `SHOW CONTINUOUS QUERIES` the database.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub values: Vec<Vec<serde_json::Value>>,
    #[serde(default)]
    pub partial: bool,
}

impl Response {
    /// The first statement's result, or the error InfluxDB reported for it.
    pub(super) fn into_statement(self) -> Result<Statement> {
        if let Some(error) = self.error {
            return Err(StoreError::Corrupt(format!("influxdb: {error}")));
        }
        let statement = self.results.into_iter().next().unwrap_or(Statement {
            series: Vec::new(),
            error: None,
            partial: false,
        });
        match statement.error {
            Some(error) => Err(StoreError::Corrupt(format!("influxdb: {error}"))),
            None => Ok(statement),
        }
    }
}

/// The first column of every row (e.g. the names `SHOW DATABASES` lists).
pub(super) fn first_column(statement: &Statement) -> impl Iterator<Item = &str> {
    statement
        .series
        .iter()
        .flat_map(|series| &series.values)
        .filter_map(|row| row.first().and_then(|v| v.as_str()))
}

/// The value of `count(...)` in a count query's answer (no series: nothing stored).
pub(super) fn parse_count(statement: &Statement) -> Result<u64> {
    let Some(series) = statement.series.first() else {
        return Ok(0);
    };
    let column = series
        .columns
        .iter()
        .position(|c| c == "count")
        .ok_or_else(|| {
            StoreError::Corrupt(format!("count query answered columns {:?}", series.columns))
        })?;
    series
        .values
        .iter()
        .map(|row| {
            row.get(column)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| StoreError::Corrupt(format!("count query answered row {row:?}")))
        })
        .sum()
}

/// Frames of one page: (time, leads) where leads are the `lN` columns. A lead missing in
/// a row (a block with fewer leads) reads as 0 when a higher lead is present.
pub(super) fn parse_frames(statement: &Statement) -> Result<Vec<(Nanos, Vec<i16>)>> {
    parse_leads(statement, "l")
}

/// Downsampled ECG of one page: the `min_lN` and `max_lN` columns the continuous query
/// writes (`lifecycle.rs`), read like frames.
pub(super) fn parse_envelopes(statement: &Statement) -> Result<Vec<EcgEnvelope>> {
    let mins = parse_leads(statement, "min_l")?;
    let maxs = parse_leads(statement, "max_l")?;
    Ok(mins
        .into_iter()
        .zip(maxs)
        .map(|((start_ns, min), (_, max))| EcgEnvelope { start_ns, min, max })
        .collect())
}

/// (time, leads) of each row, the leads being the columns `{prefix}N`.
fn parse_leads(statement: &Statement, prefix: &str) -> Result<Vec<(Nanos, Vec<i16>)>> {
    let mut out = Vec::new();
    for series in &statement.series {
        let time = series
            .columns
            .iter()
            .position(|c| c == "time")
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "frames query answered columns {:?}",
                    series.columns
                ))
            })?;
        let leads: Vec<(usize, usize)> = series
            .columns
            .iter()
            .enumerate()
            .filter_map(|(col, name)| Some((lead_index(name, prefix)?, col)))
            .collect();
        let width = leads.iter().map(|(lead, _)| lead + 1).max().unwrap_or(0);
        for row in &series.values {
            let at = row
                .get(time)
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("frames query row without ns time: {row:?}"))
                })?;
            let mut values = vec![0i16; width];
            let mut present = 0;
            for &(lead, col) in &leads {
                match row.get(col) {
                    None | Some(serde_json::Value::Null) => {}
                    Some(v) => {
                        let v =
                            v.as_i64()
                                .and_then(|v| i16::try_from(v).ok())
                                .ok_or_else(|| {
                                    StoreError::Corrupt(format!("lead l{lead} is not an i16: {v}"))
                                })?;
                        values[lead] = v;
                        present = present.max(lead + 1);
                    }
                }
            }
            values.truncate(present);
            out.push((at, values));
        }
    }
    out.sort_by_key(|(at, _)| *at);
    Ok(out)
}

/// `l7` → 7; other columns (time, tags) → None.
fn lead_index(column: &str, prefix: &str) -> Option<usize> {
    let digits = column.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quotes() {
        assert_eq!(quote_str(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn count_query_bounds_the_range_half_open() {
        let p = PatientId::parse("p1").expect("valid");
        assert_eq!(
            count_frames("ecg", &p, 5, 9),
            "SELECT count(\"l0\") FROM \"ecg\" WHERE \"patient\" = 'p1' AND time >= 5 AND time < 9"
        );
    }

    #[test]
    fn frames_map_lead_columns_by_name() {
        let body = r#"{"results":[{"statement_id":0,"series":[{"name":"ecg",
            "columns":["time","l0","l1","patient"],
            "values":[[2,3,4,"p"],[1,-1,null,"p"]]}]}]}"#;
        let response: Response = serde_json::from_str(body).expect("parses");
        let frames = parse_frames(&response.into_statement().expect("ok")).expect("frames");
        assert_eq!(frames, vec![(1, vec![-1]), (2, vec![3, 4])]);
    }

    #[test]
    fn statement_errors_surface() {
        let body = r#"{"results":[{"statement_id":0,"error":"database not found: x"}]}"#;
        let response: Response = serde_json::from_str(body).expect("parses");
        assert!(
            matches!(response.into_statement(), Err(StoreError::Corrupt(m)) if m.contains("database not found"))
        );
    }
}
