use crate::writer::WriterConfig;
use cw_bus::BusConfig;
use cw_storage::StorageConfig;
use cw_tls::{ClientCertConfig, TlsServerConfig};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestConfig {
    /// HTTPS/WSS listener for gateways.
    pub listen: String,
    pub tls: TlsServerConfig,
    /// mTLS: ask gateways for a client certificate, identified by its fingerprint.
    pub client_certs: ClientCertConfig,
    /// The admin listener: `/healthz`, `/readyz` and `/metrics`, with `tls`'s certificate
    /// and limits (no client certificates). `/metrics` is served only here, never to
    /// gateways on `listen` (issue 13 #10): keep it on loopback or an internal network.
    pub admin_listen: String,
    /// ZeroMQ PUB endpoint the alert-engines and api connect to.
    pub publish_endpoint: String,
    pub limits: Limits,
    /// The coalescing writers and their bounded queues: these settings apply to the sample
    /// writer and, separately, to the numerics writer beside it.
    pub writer: WriterConfig,
    /// The "monitoring interrupted" alarm for streaming patients no engine analyses.
    pub unmonitored: crate::unmonitored::UnmonitoredConfig,
    pub storage: StorageConfig,
    pub bus: BusConfig,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8443".into(),
            tls: TlsServerConfig {
                cert_path: "certs/server.pem".into(),
                key_path: "certs/server-key.pem".into(),
                insecure_plaintext: false,
                connections: Default::default(),
            },
            client_certs: ClientCertConfig {
                request: true,
                ca_path: None,
            },
            admin_listen: "127.0.0.1:9101".into(),
            publish_endpoint: "tcp://0.0.0.0:5550".into(),
            limits: Limits::default(),
            writer: WriterConfig::default(),
            unmonitored: Default::default(),
            storage: StorageConfig::default(),
            bus: BusConfig::default(),
        }
    }
}

/// The protocol limits of docs/ingest-protocol.md; each violation is a typed nack.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub min_rate_hz: u32,
    pub max_rate_hz: u32,
    pub max_leads: u8,
    /// Largest accepted |sample| in millivolts.
    pub max_abs_mv: f32,
    /// Largest accepted distance between a frame's start time and the server clock.
    pub max_clock_skew_s: u64,
    /// How far behind a device's highest sequence number a frame may be (resends of
    /// older frames are refused `stale_seq`); also how many published seqs per device
    /// are remembered so a resend is not published twice.
    pub seq_window: u64,
    /// How far above a device's highest stored sequence number a frame may jump (further
    /// is refused `seq_out_of_range`). 2^44: about 200 days of blocks numbered by the
    /// microsecond, as the simulator numbers them, so a gateway back from a long outage
    /// is never refused.
    pub max_seq_jump: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            min_rate_hz: 50,
            max_rate_hz: 2000,
            max_leads: 12,
            max_abs_mv: 20.0,
            max_clock_skew_s: 300,
            seq_window: 4096,
            max_seq_jump: 1 << 44,
        }
    }
}
