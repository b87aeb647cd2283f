//! Connection settings and tables of the embedded file.

use rusqlite::Connection;
use std::time::Duration;

/// Several services may open the file at once; a writer waits this long for another's
/// transaction instead of failing at once.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS sample_blocks (
    patient  TEXT    NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns   INTEGER NOT NULL,
    device   TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    rate_hz  INTEGER NOT NULL,
    leads    INTEGER NOT NULL,
    frames   INTEGER NOT NULL,
    samples  BLOB    NOT NULL,
    PRIMARY KEY (patient, start_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sample_spans (
    patient     TEXT PRIMARY KEY,
    max_span_ns INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS vitals (
    patient TEXT    NOT NULL,
    time_ns INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    site    TEXT    NOT NULL,
    status  TEXT    NOT NULL,
    value   REAL,
    PRIMARY KEY (patient, time_ns, kind, site)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS news2 (
    patient TEXT    NOT NULL,
    time_ns INTEGER NOT NULL,
    total   INTEGER NOT NULL,
    doc     TEXT    NOT NULL,
    PRIMARY KEY (patient, time_ns)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS patients (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS patient_doctors (
    doctor  TEXT NOT NULL,
    patient TEXT NOT NULL,
    PRIMARY KEY (doctor, patient)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS patient_doctors_by_patient ON patient_doctors (patient);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id           TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_by_token ON devices (token_sha256);

CREATE TABLE IF NOT EXISTS policies (
    patient TEXT    NOT NULL,
    version INTEGER NOT NULL,
    doc     TEXT    NOT NULL,
    PRIMARY KEY (patient, version)
);

CREATE TABLE IF NOT EXISTS alerts (
    id       TEXT PRIMARY KEY,
    patient  TEXT    NOT NULL,
    state    TEXT    NOT NULL,
    fired_ns INTEGER NOT NULL,
    doc      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_patient ON alerts (patient, fired_ns);
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state);
CREATE TABLE IF NOT EXISTS open_alerts (
    dedup_key TEXT PRIMARY KEY,
    alert_id  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS deliveries (
    idempotency_key TEXT PRIMARY KEY,
    alert_id        TEXT NOT NULL,
    doc             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_alert ON deliveries (alert_id);
";

/// Sets the pragmas and creates the tables (idempotent: every service runs it at start).
pub(super) fn prepare(conn: &mut Connection) -> rusqlite::Result<()> {
    // First, so that switching to WAL below waits for other processes instead of failing.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers in other processes proceed while one process writes.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            mode,
            "sqlite did not switch to WAL; concurrent access will be slower"
        );
    }
    // FULL: a commit is on disk when it returns, as the ports' durability contract says
    // (NORMAL could lose the last commits on power loss).
    conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(TABLES)?;
    tx.execute_batch(super::audit::TABLES)?;
    tx.execute_batch(super::directory::TABLES)?;
    tx.execute_batch(super::credentials::TABLES)?;
    tx.execute_batch(super::replay_guard::TABLES)?;
    tx.execute_batch(super::report_days::TABLES)?;
    tx.execute_batch(super::shard_leases::TABLES)?;
    super::shard_leases::upgrade(&tx)?;
    tx.execute_batch(super::watchdog_probes::TABLES)?;
    tx.execute_batch(super::retention::TABLES)?;
    tx.commit()
}
