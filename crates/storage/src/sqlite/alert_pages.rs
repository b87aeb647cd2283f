//! Paged alert lists in the embedded file (uses the `alerts_by_patient` index).

use super::records::SqliteRecords;
use super::{from_json, map_err};
use crate::alert_pages::{AlertPageQuery, AlertPages};
use crate::ports::{Result, StoreError};
use async_trait::async_trait;
use cw_core::{Alert, AlertState, Priority};
use rusqlite::params;

#[async_trait]
impl AlertPages for SqliteRecords {
    async fn alerts_page(&self, q: &AlertPageQuery) -> Result<Vec<Alert>> {
        if q.patients.is_empty() || q.limit == 0 {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(&q.patients)
            .map_err(|e| StoreError::Corrupt(format!("encode: {e}")))?;
        let state = q.state.map(AlertState::as_str);
        let priority = q.priority.map(Priority::as_str);
        let (before_ns, before_id) = match &q.before {
            Some((ns, id)) => (Some(*ns), Some(id.to_string())),
            None => (None, None),
        };
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT doc FROM alerts
                         WHERE patient IN (SELECT value FROM json_each(?1))
                           AND (?2 IS NULL OR state = ?2)
                           AND (?3 IS NULL OR json_extract(doc, '$.priority') = ?3)
                           AND (?4 IS NULL OR fired_ns < ?4 OR (fired_ns = ?4 AND id < ?5))
                         ORDER BY fired_ns DESC, id DESC
                         LIMIT ?6",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map(
                        params![ids, state, priority, before_ns, before_id, limit],
                        |row| row.get::<_, String>(0),
                    )
                    .map_err(map_err)?;
                let mut out = Vec::new();
                for row in rows {
                    out.push(from_json(&row.map_err(map_err)?)?);
                }
                Ok(out)
            })
            .await
    }
}
