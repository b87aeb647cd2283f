//! `VitalStore` on InfluxDB: measurement `vitals`, tags `patient`, `kind`, `site`; fields
//! `status` (string) and `value` (float, only for a valid reading). The series key leaves
//! out the device, as `ecg` does, so a reading resent through any gateway overwrites.

use super::line::escape_tag;
use super::query::{self, PAGE_ROWS, Statement};
use super::samples::InfluxSamples;
use crate::ports::{Result, SampleNodes, StoreError, VitalStore};
use crate::vital_rows::reading;
use async_trait::async_trait;
use cw_core::time::Nanos;
use cw_core::{PatientId, VitalBatch, VitalReading, VitalStatus};

pub(super) const MEASUREMENT: &str = "vitals";

#[async_trait]
impl VitalStore for InfluxSamples {
    async fn write_vitals(&self, batches: &[VitalBatch]) -> Result<()> {
        // One body per node: each batch goes to its patient's node.
        let mut bodies = vec![String::new(); self.all_nodes().len()];
        for batch in batches {
            let prefix = format!(
                "{MEASUREMENT},patient={}",
                escape_tag(batch.patient.as_str())
            );
            let body = &mut bodies[self.node_of(&batch.patient)];
            for r in &batch.readings {
                push_line(body, &prefix, r);
            }
        }
        futures::future::try_join_all(
            self.all_nodes()
                .iter()
                .zip(bodies)
                .enumerate()
                .filter(|(_, (_, body))| !body.is_empty())
                .map(|(node, (client, body))| async move {
                    client
                        .write(body)
                        .await
                        .map_err(|e| self.naming_node(node, e))
                }),
        )
        .await
        .map(drop)
    }

    async fn vitals(
        &self,
        patient: &PatientId,
        from: Nanos,
        to: Nanos,
    ) -> Result<Vec<VitalReading>> {
        let client = self.client_of(patient);
        let mut out = Vec::new();
        let mut cursor = from;
        while cursor < to {
            let q = query::frames_page(&query::quote_ident(MEASUREMENT), patient, cursor, to);
            let statement = client.query(&q, false).await?.into_statement()?;
            let truncated = statement.partial || statement.series.iter().any(|s| s.partial);
            let mut page = parse(&statement)?;
            let full = page.len() >= PAGE_ROWS;
            if !full && !truncated {
                out.extend(page);
                break;
            }
            // Several readings share a timestamp (one per kind and site), so a page may
            // end inside one instant: keep what is before the last instant and read that
            // instant again from the start on the next page.
            let Some(last) = page.iter().map(|r| r.time_ns).max() else {
                break;
            };
            page.retain(|r| r.time_ns < last);
            if page.is_empty() {
                return Err(StoreError::Corrupt(format!(
                    "influxdb answered a full page of vitals all at {last} ns"
                )));
            }
            out.extend(page);
            cursor = last;
        }
        out.sort_by_key(|r| (r.time_ns, r.kind, r.site));
        Ok(out)
    }
}

/// `vitals,patient=p1,kind=spo2,site=unspecified status="valid",value=97.5 <ns>`; a
/// status without a reading has no `value` field.
fn push_line(out: &mut String, prefix: &str, r: &VitalReading) {
    out.push_str(prefix);
    out.push_str(",kind=");
    out.push_str(r.kind.as_str());
    out.push_str(",site=");
    out.push_str(r.site.as_str());
    out.push_str(" status=\"");
    out.push_str(r.status.as_str());
    out.push('"');
    if let (VitalStatus::Valid, Some(value)) = (r.status, r.value) {
        out.push_str(",value=");
        // f32's shortest text reads back as the same f32.
        out.push_str(&value.to_string());
    }
    out.push(' ');
    out.push_str(&r.time_ns.to_string());
    out.push('\n');
}

/// Rows of one page: `time`, `kind`, `site`, `status`, `value` by column name.
fn parse(statement: &Statement) -> Result<Vec<VitalReading>> {
    let mut out = Vec::new();
    for series in &statement.series {
        let column = |name: &str| {
            series
                .columns
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "vitals query answered columns {:?}",
                        series.columns
                    ))
                })
        };
        let (time, kind, site, status) = (
            column("time")?,
            column("kind")?,
            column("site")?,
            column("status")?,
        );
        let value = series.columns.iter().position(|c| c == "value");
        for row in &series.values {
            let text = |col: usize| {
                row.get(col)
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| StoreError::Corrupt(format!("vitals row {row:?}")))
            };
            let at = row
                .get(time)
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("vitals row without ns time: {row:?}"))
                })?;
            let v = value
                .and_then(|col| row.get(col))
                .and_then(serde_json::Value::as_f64);
            out.push(reading(at, text(kind)?, text(site)?, text(status)?, v)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::{Site, VitalKind};

    #[test]
    fn a_reading_is_a_point_and_a_status_has_no_value() {
        let mut out = String::new();
        let valid = VitalReading {
            time_ns: 5,
            kind: VitalKind::Systolic,
            site: Site::Cuff,
            status: VitalStatus::Valid,
            value: Some(121.5),
        };
        push_line(&mut out, "vitals,patient=p", &valid);
        push_line(
            &mut out,
            "vitals,patient=p",
            &VitalReading {
                kind: VitalKind::Spo2,
                site: Site::Unspecified,
                status: VitalStatus::SensorOff,
                value: None,
                ..valid
            },
        );
        assert_eq!(
            out,
            "vitals,patient=p,kind=systolic,site=cuff status=\"valid\",value=121.5 5\n\
             vitals,patient=p,kind=spo2,site=unspecified status=\"sensor_off\" 5\n"
        );
    }

    #[test]
    fn rows_map_by_column_name() {
        let body = r#"{"results":[{"statement_id":0,"series":[{"name":"vitals",
            "columns":["time","kind","patient","site","status","value"],
            "values":[[7,"spo2","p","unspecified","valid",96.5],
                      [7,"respiration_rate","p","unspecified","sensor_off",null]]}]}]}"#;
        let response: query::Response = serde_json::from_str(body).expect("parses");
        let rows = parse(&response.into_statement().expect("ok")).expect("rows");
        assert_eq!(rows[0].value, Some(96.5));
        assert_eq!(rows[1].status, VitalStatus::SensorOff);
        assert_eq!(rows[1].value, None);
    }
}
