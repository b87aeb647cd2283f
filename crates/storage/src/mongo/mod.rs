//! The MongoDB adapter for records (official driver). Uniqueness rules live in the
//! database — `_id` of `open_alerts` is the (patient, rule) dedup key, `_id` of
//! `deliveries` the idempotency key — so they hold across any number of service replicas
//! and need neither transactions nor a replica set. A change that writes two
//! collections runs in a transaction where the server has them (`two_writes.rs`).

pub mod accounts;
mod alert_pages;
mod alerts;
mod audit;
mod audit_appender;
mod credentials;
mod deliveries;
mod directory;
mod docs;
mod indexes;
mod people;
mod policies;
mod replay_guard;
mod report_days;
mod shard_leases;
mod two_writes;
mod watchdog_probes;

pub use two_writes::Interrupt;

use crate::config::MongoConfig;
use crate::ports::{Result, StoreError};
use cw_core::secret::ExposeSecret;
use mongodb::bson::Document;
use mongodb::options::{AuthMechanism, ClientOptions, Credential};
use mongodb::{Client, Collection, Database};

/// Every record port on one MongoDB database.
#[derive(Clone)]
pub struct MongoRecords {
    client: Client,
    db: Database,
    /// Two-collection changes run in a transaction (the server supports them).
    transactions: bool,
    /// Test-only crash simulation for two-collection changes.
    interrupt: std::sync::Arc<Interrupt>,
    /// Groups this process's audit appends into ordered batches.
    audit: std::sync::Arc<audit_appender::AuditAppender>,
    /// Seals audit events; unkeyed until [`MongoRecords::with_audit`].
    sealer: std::sync::Arc<crate::audit_sealer::AuditSealer>,
    /// How long a delivery row lives after its last change; `None` keeps it forever.
    delivery_ttl_ns: Option<cw_core::time::Nanos>,
}

impl MongoRecords {
    /// Connects and creates the indexes (idempotent), so a server that cannot be reached
    /// or refuses us shows at start.
    pub async fn connect(cfg: &MongoConfig) -> Result<Self> {
        let client = client(cfg).await?;
        let db = client.database(&cfg.database);
        indexes::create(&db).await?;
        let transactions = two_writes::supported(&db).await;
        tracing::info!(database = %cfg.database, transactions, "mongodb record store ready");
        Ok(Self {
            client,
            db,
            transactions,
            interrupt: Default::default(),
            audit: Default::default(),
            sealer: std::sync::Arc::new(crate::audit_sealer::AuditSealer::unkeyed()),
            delivery_ttl_ns: None,
        })
    }

    /// The same store sealing audit events with `sealer`.
    pub fn with_audit(mut self, sealer: std::sync::Arc<crate::audit_sealer::AuditSealer>) -> Self {
        self.sealer = sealer;
        self
    }

    /// The same store expiring delivery rows `retention.delivery_days` after their last
    /// change (MongoDB's TTL monitor deletes them; docs/operations.md, "Data lifecycle").
    pub fn with_retention(mut self, retention: &crate::config::RetentionConfig) -> Self {
        self.delivery_ttl_ns = (retention.delivery_days > 0)
            .then(|| i64::from(retention.delivery_days) * 86_400 * cw_core::time::NANOS_PER_SEC);
        self
    }

    /// Whether two-collection changes run in transactions (found out at connect).
    pub fn uses_transactions(&self) -> bool {
        self.transactions
    }

    /// The same store with two-collection changes as the ordered, self-repairing
    /// sequence instead of transactions (what a standalone server gets).
    pub fn without_transactions(mut self) -> Self {
        self.transactions = false;
        self
    }

    /// Test-only: stops the next two-collection change after its first write.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Closes connections and background monitors; the driver asks for this before the
    /// async runtime ends. Other clones stop working afterwards.
    pub async fn shutdown(self) {
        self.client.shutdown().await;
    }

    fn coll(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }
}

/// A client for `cfg`: the URI's options (TLS among them), signed in as `username`
/// when one is configured.
pub(crate) async fn client(cfg: &MongoConfig) -> Result<Client> {
    // The driver's parse errors may quote the URI, which can carry a password.
    let mut options = ClientOptions::parse(cfg.uri.expose_secret())
        .await
        .map_err(|_| StoreError::Unavailable("invalid MongoDB connection string".into()))?;
    match (&cfg.username, &cfg.password) {
        (Some(username), password) => {
            options.credential = Some(
                Credential::builder()
                    .username(username.clone())
                    .password(password.as_ref().map(|p| p.expose_secret().to_owned()))
                    .source(cfg.auth_source.clone().unwrap_or(cfg.database.clone()))
                    .mechanism(AuthMechanism::ScramSha256)
                    .build(),
            );
        }
        (None, Some(_)) => {
            return Err(StoreError::Unavailable(
                "storage.mongo.password is set but storage.mongo.username is not".into(),
            ));
        }
        (None, None) => {}
    }
    Client::with_options(options).map_err(map_err)
}

#[async_trait::async_trait]
impl crate::ports::Reachable for MongoRecords {
    /// `ping` on our database, over a pooled connection (authenticated as this service
    /// when the pool opened it).
    async fn ping(&self) -> Result<()> {
        self.db
            .run_command(mongodb::bson::doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(map_err)
    }
}

/// MongoDB's duplicate-key error code (E11000), raised by unique indexes and `_id`.
const DUPLICATE_KEY: i32 = 11000;

pub(crate) fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// Classifies driver errors: unreadable documents are `Corrupt`; anything else (network,
/// server selection, server-side refusals) is `Unavailable`, worth retrying.
pub(crate) fn map_err(err: mongodb::error::Error) -> StoreError {
    use mongodb::error::ErrorKind;
    if is_duplicate_key(&err) {
        return StoreError::Conflict(format!("mongodb: {err}"));
    }
    match err.kind.as_ref() {
        ErrorKind::BsonDeserialization(_)
        | ErrorKind::BsonSerialization(_)
        | ErrorKind::InvalidResponse { .. } => StoreError::Corrupt(format!("mongodb: {err}")),
        _ => StoreError::Unavailable(format!("mongodb: {err}")),
    }
}
