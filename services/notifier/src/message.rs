//! What a doctor reads or hears. Only the opaque patient id, never PHI: SMS and email
//! cross networks we do not control.

use cw_core::Alert;

pub fn subject(alert: &Alert) -> String {
    format!(
        "[cardiowatch {}] {} - patient {}",
        alert.priority.as_str().to_uppercase(),
        alert.rule.describe(),
        alert.patient
    )
}

pub fn text(alert: &Alert) -> String {
    let unit = alert.rule.unit();
    format!(
        "cardiowatch {} alert: {} for patient {}: {:.0} {unit} (limit {:.0}). Alert {}. Reply 1 to acknowledge.",
        alert.priority.as_str().to_uppercase(),
        alert.rule.describe(),
        alert.patient,
        alert.value,
        alert.limit,
        alert.id
    )
}
