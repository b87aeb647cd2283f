//! `cardiowatch device add|revoke|list`: the device registry, straight against the
//! configured storage (the same `[storage]` section and `CW_STORAGE__*` overrides the
//! services read). A bearer token is printed once at `add` and never stored; a device
//! with a client certificate is registered by the certificate's fingerprint.

use anyhow::{Context, bail};
use clap::Subcommand;
use cw_core::device::token_sha256;
use cw_core::{Device, DeviceId, PatientId};
use cw_storage::{RecordStore, StoreError};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum DeviceCommand {
    /// Register a gateway for a patient; prints its bearer token once (or registers the
    /// fingerprint of `--cert` for mTLS and prints no token).
    Add {
        /// The new device's id (up to 64 letters, digits, `-`, `_`), e.g. gw-1.
        #[arg(long)]
        id: String,
        /// The registered patient whose ECG this gateway sends.
        #[arg(long)]
        patient: String,
        /// The gateway's client certificate (PEM): it authenticates by mTLS.
        #[arg(long)]
        cert: Option<PathBuf>,
    },
    /// Revoke a device: its token and certificate are refused from the next connection.
    Revoke {
        /// The device's id.
        #[arg(long)]
        id: String,
    },
    /// List devices (id, patient, credential, state); never prints secrets.
    List,
}

/// The record store by the CLI's one rule (`crate::store_args`).
pub async fn open_records(
    store: &crate::store_args::StoreArgs,
) -> anyhow::Result<std::sync::Arc<dyn RecordStore>> {
    Ok(store.open().await?.records)
}

/// Runs one device command, printing its outcome to stdout.
pub async fn run(command: DeviceCommand, records: &dyn RecordStore) -> anyhow::Result<()> {
    match command {
        DeviceCommand::Add { id, patient, cert } => {
            let id = DeviceId::parse(&id).context("--id")?;
            let patient = PatientId::parse(&patient).context("--patient")?;
            match records.patient(&patient).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => bail!("no patient {patient} is registered"),
                Err(e) => return Err(e).context("looking up the patient"),
            }
            match records.device(&id).await {
                Ok(_) => bail!("device {id} exists already; revoke it and register a new id"),
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e).context("looking up the device"),
            }
            let (token, cert_sha256) = match &cert {
                Some(path) => (
                    None,
                    Some(
                        cw_tls::cert_sha256_of_pem(path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    ),
                ),
                None => (Some(crate::secrets::device_token()), None),
            };
            let device = Device {
                id: id.clone(),
                patient,
                // Certificate-only devices have no token: an empty hash matches none.
                token_sha256: token.as_deref().map(token_sha256).unwrap_or_default(),
                revoked: false,
                cert_sha256: cert_sha256.clone(),
            };
            // Stores the device and lists it on its patient as one change, like the api.
            match records.register_device(&device).await {
                Ok(()) => {}
                Err(StoreError::NotFound) => {
                    bail!("no patient {}: add the patient first", device.patient)
                }
                Err(e) => return Err(e).context("storing the device"),
            }
            match (token, cert_sha256) {
                (Some(token), _) => {
                    println!(
                        "device {id} registered; its token (shown once, store it on the gateway):"
                    );
                    println!("{token}");
                }
                (None, Some(fingerprint)) => {
                    println!("device {id} registered by certificate sha256 {fingerprint}");
                }
                (None, None) => {}
            }
            Ok(())
        }
        DeviceCommand::Revoke { id } => {
            let id = DeviceId::parse(&id).context("--id")?;
            let mut device = match records.device(&id).await {
                Ok(device) => device,
                Err(StoreError::NotFound) => bail!("no device {id}"),
                Err(e) => return Err(e).context("looking up the device"),
            };
            device.revoked = true;
            records
                .put_device(&device)
                .await
                .context("storing the device")?;
            println!("device {id} revoked");
            Ok(())
        }
        DeviceCommand::List => {
            let devices = records.list_devices().await.context("listing devices")?;
            println!("{:<28} {:<28} {:<12} state", "id", "patient", "credential");
            for d in devices {
                let credential = match (&d.cert_sha256, d.token_sha256.is_empty()) {
                    (Some(_), true) => "cert",
                    (Some(_), false) => "cert+token",
                    (None, _) => "token",
                };
                println!(
                    "{:<28} {:<28} {:<12} {}",
                    d.id.as_str(),
                    d.patient.as_str(),
                    credential,
                    if d.revoked { "revoked" } else { "active" }
                );
            }
            Ok(())
        }
    }
}
