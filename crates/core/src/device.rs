//! ECG gateways and how they prove who they are.

use crate::{DeviceId, PatientId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub patient: PatientId,
    /// Hex SHA-256 of the device bearer token; the token itself is never stored.
    pub token_sha256: String,
    pub revoked: bool,
}
