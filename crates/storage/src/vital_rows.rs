//! Vital-sign readings as both backends store them: kind, site and status by their stable
//! names (`cw_core::vitals`), the value only for a valid reading.

use crate::ports::{Result, StoreError};
use cw_core::time::Nanos;
use cw_core::{Site, VitalKind, VitalReading, VitalStatus};

/// A stored row back as a reading; a name this release does not know is corrupt data.
pub(crate) fn reading(
    time_ns: Nanos,
    kind: &str,
    site: &str,
    status: &str,
    value: Option<f64>,
) -> Result<VitalReading> {
    let corrupt =
        |what: &str, name: &str| StoreError::Corrupt(format!("vitals: unknown {what} `{name}`"));
    let status = VitalStatus::parse(status).ok_or_else(|| corrupt("status", status))?;
    Ok(VitalReading {
        time_ns,
        kind: VitalKind::parse(kind).ok_or_else(|| corrupt("kind", kind))?,
        site: Site::parse(site).ok_or_else(|| corrupt("site", site))?,
        status,
        // Only a valid reading has a value, whatever the row holds.
        value: value
            .filter(|_| status == VitalStatus::Valid)
            .map(|v| v as f32),
    })
}
