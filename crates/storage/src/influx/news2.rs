//! `News2Store` on InfluxDB: measurement `news2`, tag `patient`; fields `total` (integer),
//! `response` (string) for charts and queries, and `score`, the whole assessment as JSON
//! (components, missing, assumed), which is what is read back. One point per (patient,
//! time), so a rewritten score overwrites.

use super::line::escape_tag;
use super::query::{self, PAGE_ROWS, Statement};
use super::samples::InfluxSamples;
use crate::ports::{News2Store, Result, StoreError};
use async_trait::async_trait;
use cw_core::PatientId;
use cw_core::news2::News2Assessment;
use cw_core::time::Nanos;

pub(super) const MEASUREMENT: &str = "news2";

#[async_trait]
impl News2Store for InfluxSamples {
    async fn write_news2(&self, patient: &PatientId, scores: &[News2Assessment]) -> Result<()> {
        let prefix = format!("{MEASUREMENT},patient={}", escape_tag(patient.as_str()));
        let mut body = String::new();
        for score in scores {
            push_line(&mut body, &prefix, score)?;
        }
        if body.is_empty() {
            return Ok(());
        }
        self.client_of(patient).write(body).await
    }

    async fn news2(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<News2Assessment>> {
        let client = self.client_of(patient);
        let mut out = Vec::new();
        let mut cursor = from;
        while cursor < to {
            let q = query::frames_page(MEASUREMENT, patient, cursor, to);
            let statement = client.query(&q, false).await?.into_statement()?;
            let page = parse(&statement)?;
            let Some(last) = page.last().map(|s| s.at_ns) else {
                break;
            };
            let full = page.len() >= PAGE_ROWS;
            out.extend(page);
            if !full {
                break;
            }
            // One point per instant: the next page starts after the last.
            cursor = last + 1;
        }
        Ok(out)
    }
}

/// `news2,patient=p total=5i,response="urgent",score="{…}" <ns>`.
fn push_line(out: &mut String, prefix: &str, score: &News2Assessment) -> Result<()> {
    let json = serde_json::to_string(score)
        .map_err(|e| StoreError::Corrupt(format!("news2 score not serialisable: {e}")))?;
    let response = serde_json::to_value(score.score.response)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    out.push_str(prefix);
    out.push_str(&format!(
        " total={}i,response={},score={} {}\n",
        score.score.total,
        string_field(&response),
        string_field(&json),
        score.at_ns
    ));
    Ok(())
}

/// A line-protocol string field: quoted, with `"` and `\` escaped.
fn string_field(raw: &str) -> String {
    format!("\"{}\"", raw.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Rows of one page, by the `score` column, in time order.
fn parse(statement: &Statement) -> Result<Vec<News2Assessment>> {
    let mut out = Vec::new();
    for series in &statement.series {
        let score = series
            .columns
            .iter()
            .position(|c| c == "score")
            .ok_or_else(|| {
                StoreError::Corrupt(format!("news2 query answered columns {:?}", series.columns))
            })?;
        for row in &series.values {
            let text = row
                .get(score)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| StoreError::Corrupt(format!("news2 row {row:?}")))?;
            out.push(
                serde_json::from_str(text)
                    .map_err(|e| StoreError::Corrupt(format!("news2 score: {e}")))?,
            );
        }
    }
    out.sort_by_key(|s: &News2Assessment| s.at_ns);
    Ok(out)
}
