//! The patient directory in the embedded file: MRN hashes are looked up through an
//! expression index over the patient document.

use super::records::SqliteRecords;
use super::{from_json, map_err};
use crate::directory::PatientDirectory;
use crate::ports::Result;
use async_trait::async_trait;
use cw_core::Patient;

/// Created by `schema::prepare` with the other tables.
pub(super) const TABLES: &str = "
CREATE INDEX IF NOT EXISTS patients_by_mrn_hash ON patients (json_extract(doc, '$.mrn_hash'));
";

#[async_trait]
impl PatientDirectory for SqliteRecords {
    async fn patient_by_mrn_hash(&self, mrn_hash: &str) -> Result<Patient> {
        let hash = mrn_hash.to_owned();
        self.db
            .call(move |conn| {
                let doc: String = conn
                    .query_row(
                        "SELECT doc FROM patients WHERE json_extract(doc, '$.mrn_hash') = ?1
                         ORDER BY id LIMIT 1",
                        [hash],
                        |row| row.get(0),
                    )
                    .map_err(map_err)?;
                from_json(&doc)
            })
            .await
    }

    async fn all_patients(&self) -> Result<Vec<Patient>> {
        self.db
            .call(|conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT doc FROM patients ORDER BY id")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |row| row.get::<_, String>(0))
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
