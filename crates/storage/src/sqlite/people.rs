//! Patients, users and devices in the embedded file. Documents are JSON; the columns
//! beside them exist only for the lookups the ports make.

use super::records::SqliteRecords;
use super::{from_json, map_err, to_json};
use crate::ports::{DeviceStore, PatientStore, Result};
use async_trait::async_trait;
use cw_core::{Device, DeviceId, Patient, PatientId, User, UserId};
use rusqlite::{TransactionBehavior, params};

#[async_trait]
impl PatientStore for SqliteRecords {
    async fn put_patient(&self, patient: &Patient) -> Result<()> {
        let patient = patient.clone();
        self.db
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                tx.execute(
                    "INSERT INTO patients (id, doc) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                    params![patient.id.as_str(), to_json(&patient)?],
                )
                .map_err(map_err)?;
                // The assignment table mirrors the document's doctor list.
                tx.execute(
                    "DELETE FROM patient_doctors WHERE patient = ?1",
                    [patient.id.as_str()],
                )
                .map_err(map_err)?;
                for doctor in &patient.doctors {
                    tx.execute(
                        "INSERT OR IGNORE INTO patient_doctors (doctor, patient) VALUES (?1, ?2)",
                        params![doctor.as_str(), patient.id.as_str()],
                    )
                    .map_err(map_err)?;
                }
                tx.commit().map_err(map_err)
            })
            .await
    }

    async fn patient(&self, id: &PatientId) -> Result<Patient> {
        let id = id.clone();
        self.db
            .call(move |conn| {
                doc_by_id(conn, "SELECT doc FROM patients WHERE id = ?1", id.as_str())
            })
            .await
    }

    async fn patients_of(&self, doctor: &UserId) -> Result<Vec<Patient>> {
        let doctor = doctor.clone();
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT p.doc FROM patient_doctors AS d JOIN patients AS p ON p.id = d.patient
                         WHERE d.doctor = ?1 ORDER BY p.id",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([doctor.as_str()], |row| row.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
            })
            .await
    }

    async fn put_user(&self, user: &User) -> Result<()> {
        let user = user.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO users (id, doc) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                    params![user.id.as_str(), to_json(&user)?],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn user(&self, id: &UserId) -> Result<User> {
        let id = id.clone();
        self.db
            .call(move |conn| doc_by_id(conn, "SELECT doc FROM users WHERE id = ?1", id.as_str()))
            .await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.db
            .call(|conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT doc FROM users ORDER BY id")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
            })
            .await
    }
}

#[async_trait]
impl DeviceStore for SqliteRecords {
    async fn put_device(&self, device: &Device) -> Result<()> {
        let device = device.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO devices (id, token_sha256, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE
                     SET token_sha256 = excluded.token_sha256, doc = excluded.doc",
                    params![device.id.as_str(), device.token_sha256, to_json(&device)?],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn register_device(&self, device: &Device) -> Result<()> {
        let device = device.clone();
        self.db
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                let mut patient: Patient = doc_by_id(
                    &tx,
                    "SELECT doc FROM patients WHERE id = ?1",
                    device.patient.as_str(),
                )?;
                if !patient.devices.contains(&device.id) {
                    patient.devices.push(device.id.clone());
                    tx.execute(
                        "UPDATE patients SET doc = ?2 WHERE id = ?1",
                        params![patient.id.as_str(), to_json(&patient)?],
                    )
                    .map_err(map_err)?;
                }
                tx.execute(
                    "INSERT INTO devices (id, token_sha256, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE
                     SET token_sha256 = excluded.token_sha256, doc = excluded.doc",
                    params![device.id.as_str(), device.token_sha256, to_json(&device)?],
                )
                .map_err(map_err)?;
                tx.commit().map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn device(&self, id: &DeviceId) -> Result<Device> {
        let id = id.clone();
        self.db
            .call(move |conn| doc_by_id(conn, "SELECT doc FROM devices WHERE id = ?1", id.as_str()))
            .await
    }

    async fn device_by_token_hash(&self, token_sha256: &str) -> Result<Device> {
        let hash = token_sha256.to_owned();
        self.db
            .call(move |conn| {
                doc_by_id(
                    conn,
                    "SELECT doc FROM devices WHERE token_sha256 = ?1 ORDER BY id LIMIT 1",
                    &hash,
                )
            })
            .await
    }

    async fn device_by_cert_sha256(&self, cert_sha256: &str) -> Result<Device> {
        let hash = cert_sha256.to_owned();
        // Read from the document: devices are few (one per gateway) and a lookup happens
        // once per connection, so no column or index is needed.
        self.db
            .call(move |conn| {
                doc_by_id(
                    conn,
                    "SELECT doc FROM devices WHERE json_extract(doc, '$.cert_sha256') = ?1
                     ORDER BY id LIMIT 1",
                    &hash,
                )
            })
            .await
    }

    async fn list_devices(&self) -> Result<Vec<Device>> {
        self.db
            .call(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT doc FROM devices ORDER BY id")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.map(|row| from_json(&row.map_err(map_err)?)).collect()
            })
            .await
    }
}

/// One document by a key; no row is `NotFound`.
fn doc_by_id<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    sql: &str,
    key: &str,
) -> Result<T> {
    let doc: String = conn
        .query_row(sql, [key], |row| row.get(0))
        .map_err(map_err)?;
    from_json(&doc)
}
