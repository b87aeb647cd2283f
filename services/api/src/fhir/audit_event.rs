//! An audit record (docs/security.md, "Audit trail") as a FHIR `AuditEvent`. Pure. Codes
//! are listed in docs/integration.md.

use super::resources::{instant, patient_ref};
use cw_core::audit::{AuditEvent, AuditOutcome};
use serde_json::{Value, json};

/// Our audit actions (`GET /fhir/R4/Patient/{id}`, `break_glass`, …) as codes.
pub const ACTION_SYSTEM: &str = "https://cardiowatch.example/fhir/CodeSystem/audit-action";
const EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
/// The chain's own fields (sequence number, hashes) ride in `entity.detail` under these.
const CHAIN_DETAILS: [&str; 3] = ["seq", "prev_hash", "hash"];

/// A request (`METHOD /route`) is a RESTful operation, its method the action (a required
/// binding: C R U D E); other records (break-glass, an alert manager's answer) are
/// executions of their own kind.
fn kind(action: &str) -> (Value, &'static str) {
    let method = action.split_once(' ').map(|(m, _)| m);
    let code = match method {
        Some("GET" | "HEAD") => "R",
        Some("POST") => "E",
        Some("PUT" | "PATCH") => "U",
        Some("DELETE") => "D",
        _ => "E",
    };
    let kind = match method {
        Some("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE") => {
            json!({"system": EVENT_TYPE, "code": "rest", "display": "RESTful Operation"})
        }
        _ => json!({"system": ACTION_SYSTEM, "code": action}),
    };
    (kind, code)
}

/// The outcome (a required binding: 0 success, 4 minor failure, 8 serious failure): a
/// denial or a refused request is minor, a server error serious; an `attempt` (written
/// before a change runs) has none yet.
fn outcome(o: AuditOutcome, status: u16) -> Option<&'static str> {
    match o {
        AuditOutcome::Attempt => None,
        AuditOutcome::Allowed => Some("0"),
        AuditOutcome::Failed if status >= 500 => Some("8"),
        AuditOutcome::Denied | AuditOutcome::Failed => Some("4"),
    }
}

/// One audit record: `recorded` its time, the caller as the agent (`Practitioner/<user
/// id>` when signed in; `anonymous` or a system's name otherwise) with its network
/// address, the patient and the resource path as entities, and its place in the hash
/// chain as the resource entity's details.
pub fn audit_event(e: &AuditEvent) -> Value {
    let entry = &e.entry;
    let (kind, action) = kind(&entry.action);
    let who = if entry.role.is_empty() {
        json!({"display": entry.actor})
    } else {
        json!({"reference": format!("Practitioner/{}", entry.actor), "display": entry.actor})
    };
    let mut agent = json!({"who": who, "requestor": true});
    if !entry.role.is_empty() {
        agent["role"] = json!([{"text": entry.role}]);
    }
    if !entry.source.is_empty() {
        agent["network"] = json!({"address": entry.source, "type": "2"});
    }
    let details: Vec<Value> = CHAIN_DETAILS
        .into_iter()
        .zip([e.seq.to_string(), e.prev_hash.clone(), e.hash.clone()])
        .map(|(name, value)| json!({"type": name, "valueString": value}))
        .collect();
    let mut resource = json!({
        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
        "detail": details,
    });
    if !entry.resource.is_empty() {
        resource["name"] = json!(entry.resource);
    }
    if !entry.request_id.is_empty() {
        resource["description"] = json!(format!("request {}", entry.request_id));
    }
    let mut entities = vec![resource];
    if let Some(patient) = &entry.patient {
        entities.insert(
            0,
            json!({
                "what": patient_ref(patient.as_str()),
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }),
        );
    }
    let mut event = json!({
        "resourceType": "AuditEvent",
        "id": format!("audit-{}", e.seq),
        "meta": {"lastUpdated": instant(entry.at_ns)},
        "type": kind,
        "subtype": [{"system": ACTION_SYSTEM, "code": entry.action}],
        "action": action,
        "recorded": instant(entry.at_ns),
        "outcomeDesc": match entry.status {
            0 => entry.outcome.as_str().to_owned(),
            s => format!("{} (HTTP {s})", entry.outcome.as_str()),
        },
        "agent": [agent],
        "source": {
            "site": "cardiowatch",
            "observer": {"display": "cardiowatch"},
            "type": [{"system": SOURCE_TYPE, "code": "3", "display": "Web Server"}],
        },
        "entity": entities,
    });
    if let Some(code) = outcome(entry.outcome, entry.status) {
        event["outcome"] = json!(code);
    }
    if !entry.reason.is_empty() {
        event["purposeOfEvent"] = json!([{"text": entry.reason}]);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use cw_core::PatientId;
    use cw_core::audit::AuditEntry;

    fn event(action: &str, outcome: AuditOutcome, status: u16) -> AuditEvent {
        AuditEvent {
            seq: 7,
            entry: AuditEntry {
                at_ns: 1_000_000_000,
                actor: "dr-a".into(),
                role: "doctor".into(),
                action: action.into(),
                resource: "/fhir/R4/Patient/p-1".into(),
                patient: Some(PatientId::parse("p-1").expect("id")),
                outcome,
                status,
                source: "127.0.0.1:5000".into(),
                request_id: "r-1".into(),
                reason: String::new(),
            },
            key_id: None,
            prev_hash: "0".repeat(64),
            hash: "1".repeat(64),
        }
    }

    #[test]
    fn a_read_is_a_rest_event_of_its_agent_about_its_patient() {
        let read = audit_event(&event(
            "GET /fhir/R4/Patient/{id}",
            AuditOutcome::Allowed,
            200,
        ));
        assert_eq!(
            (read["action"].as_str(), read["outcome"].as_str()),
            (Some("R"), Some("0"))
        );
        assert_eq!(read["type"]["code"], "rest");
        assert_eq!(read["agent"][0]["who"]["reference"], "Practitioner/dr-a");
        assert_eq!(read["entity"][0]["what"]["reference"], "Patient/p-1");
        assert_eq!(read["entity"][1]["detail"][0]["valueString"], "7");
        assert_eq!(read["recorded"], "1970-01-01T00:00:01.000Z");
        let denied = audit_event(&event("GET /v1/audit", AuditOutcome::Denied, 403));
        assert_eq!(denied["outcome"], "4");
        let failed = audit_event(&event("POST /v1/patients", AuditOutcome::Failed, 503));
        assert_eq!(
            (failed["outcome"].as_str(), failed["action"].as_str()),
            (Some("8"), Some("E"))
        );
        let attempt = audit_event(&event("break_glass", AuditOutcome::Attempt, 0));
        assert!(attempt.get("outcome").is_none());
        assert_eq!(attempt["type"]["code"], "break_glass");
    }
}
