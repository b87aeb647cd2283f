//! `docker-compose.yml` run without a docker engine: every cardiowatch service of the
//! file as a native process (the workspace's binaries, which the image holds) with
//! exactly the command, environment, mounted config files, secret files, volumes and
//! ports compose gives it, started in `depends_on` order and held to its own
//! `healthcheck` — against an auth-enabled InfluxDB initialised as the `influxdb` image
//! does it, and the MongoDB-protocol server `scripts/test` runs (an instance of the
//! stack's own, a single-node replica set).
//!
//! What a container would see, mapped onto one host (and nothing else changed):
//! * each `service:port` of the compose network, and a service's own `0.0.0.0:port` /
//!   `localhost:port`, is one loopback address ([`mapping::Network`]);
//! * each mounted path (bind mounts, named volumes, `/run/secrets/NAME`, the image's
//!   WORKDIR and shipped files, Dockerfile) is a host path; mounted text files are
//!   copied with those two mappings applied ([`mapping::Mounts`]);
//! * the two third-party images are the harness's servers (`stack::Stack::up`), and
//!   the MongoDB emulator's fixed replica-set name stands in for compose's.
//!
//! Whatever else a test changes is an [`Override`], the way a
//! `docker-compose.override.yml` would add it (e.g. the Twilio emulator's URL).

pub mod file;
pub mod mapping;
mod operator;
mod stack;

pub use operator::Operator;
pub use stack::{Override, Stack};

use std::path::PathBuf;

/// Why the stack did not come up, as compose (or the failing container) would say it.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("docker-compose.yml: {0}")]
    Invalid(String),
    #[error("docker-compose.yml, {at}: {message}")]
    Interpolation { at: String, message: String },
    #[error("service `{service}` uses secret `{secret}`, which `secrets:` does not define")]
    UndefinedSecret { service: String, secret: String },
    #[error("secret `{secret}` of service `{service}`: file {} does not exist", path.display())]
    MissingSecretFile {
        service: String,
        secret: String,
        path: PathBuf,
    },
    #[error("service `{service}`: bind mount source {} does not exist", path.display())]
    MissingMount { service: String, path: PathBuf },
    #[error("service `{service}` depends on `{dependency}`, which is not an active service")]
    UnknownDependency { service: String, dependency: String },
    #[error("service `{service}`: image `{image}` has no stand-in in the harness")]
    UnsupportedImage { service: String, image: String },
    #[error(
        "service `{service}` runs `{program}`, which is not a binary of the image ({})",
        dir.display()
    )]
    UnknownProgram {
        service: String,
        program: String,
        dir: PathBuf,
    },
    #[error("service `{service}` exited ({status}) before it was healthy; its log ends:\n{log}")]
    Exited {
        service: String,
        status: String,
        log: String,
    },
    #[error(
        "service `{service}` was not healthy within {waited_s} s (start_period + interval × retries); last healthcheck: {last}; its log ends:\n{log}"
    )]
    Unhealthy {
        service: String,
        waited_s: u64,
        last: String,
        log: String,
    },
}

impl ComposeError {
    /// The service the error is about, if one.
    pub fn service(&self) -> Option<&str> {
        match self {
            Self::Invalid(_) | Self::Interpolation { .. } => None,
            Self::UndefinedSecret { service, .. }
            | Self::MissingSecretFile { service, .. }
            | Self::MissingMount { service, .. }
            | Self::UnknownDependency { service, .. }
            | Self::UnsupportedImage { service, .. }
            | Self::UnknownProgram { service, .. }
            | Self::Exited { service, .. }
            | Self::Unhealthy { service, .. } => Some(service),
        }
    }
}
