"""Validates FHIR resources with fhir.resources (PyPI; its R4B models, the R4 technical
correction) : one JSON resource per line on stdin, each Bundle's entries too. Prints one
line per resource ("ok Type" or "invalid Type: why") and exits 1 if any is invalid. Used
by tests/tests/e2e/fhir.rs on every resource the facade answers."""
import json
import sys

from fhir.resources.R4B import get_fhir_model_class

failed = False

# Codes whose binding is "required" in R4 for the elements the facade fills: the models
# check structure and types, not these value sets. A path walks into lists and objects
# ("entry.search.mode": every entry's search mode).
OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected",
                      "cancelled", "entered-in-error", "unknown"}
ISSUE_TYPE = {"invalid", "structure", "required", "value", "invariant", "security", "login",
              "unknown", "expired", "forbidden", "suppressed", "processing", "not-supported",
              "duplicate", "multiple-matches", "not-found", "deleted", "too-long",
              "code-invalid", "extension", "too-costly", "business-rule", "conflict",
              "transient", "lock-error", "no-store", "exception", "timeout", "incomplete",
              "throttled", "informational"}
REQUIRED = {
    ("Observation", "status"): OBSERVATION_STATUS,
    ("DetectedIssue", "status"): OBSERVATION_STATUS,
    ("DetectedIssue", "severity"): {"high", "moderate", "low"},
    ("DiagnosticReport", "status"): {"registered", "partial", "preliminary", "final", "amended",
                                     "corrected", "appended", "cancelled", "entered-in-error",
                                     "unknown"},
    ("Device", "status"): {"active", "inactive", "entered-in-error", "unknown"},
    ("Patient", "identifier.use"): {"usual", "official", "temp", "secondary", "old"},
    ("Communication", "status"): {"preparation", "in-progress", "not-done", "on-hold", "stopped",
                                  "completed", "entered-in-error", "unknown"},
    ("Communication", "priority"): {"routine", "urgent", "asap", "stat"},
    ("AuditEvent", "action"): {"C", "R", "U", "D", "E"},
    ("AuditEvent", "outcome"): {"0", "4", "8", "12"},
    ("AuditEvent", "agent.network.type"): {"1", "2", "3", "4", "5"},
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response",
                         "batch", "batch-response", "history", "searchset", "collection"},
    ("Bundle", "entry.search.mode"): {"match", "include", "outcome"},
    ("CapabilityStatement", "status"): {"draft", "active", "retired", "unknown"},
    ("CapabilityStatement", "kind"): {"instance", "capability", "requirements"},
    ("CapabilityStatement", "rest.mode"): {"client", "server"},
    ("CapabilityStatement", "rest.resource.interaction.code"): {
        "read", "vread", "update", "patch", "delete", "history-instance", "history-type",
        "create", "search-type"},
    ("CapabilityStatement", "rest.resource.searchParam.type"): {
        "number", "date", "string", "token", "reference", "composite", "quantity", "uri",
        "special"},
    ("OperationOutcome", "issue.severity"): {"fatal", "error", "warning", "information"},
    ("OperationOutcome", "issue.code"): ISSUE_TYPE,
}


def values(obj, path):
    """Every value at `path` (dot-separated) in obj, through lists."""
    if isinstance(obj, list):
        return [v for item in obj for v in values(item, path)]
    if not path:
        return [obj]
    head, _, rest = path.partition(".")
    if not isinstance(obj, dict) or head not in obj:
        return []
    return values(obj[head], rest)


def check(obj):
    global failed
    kind = obj.get("resourceType", "?")
    try:
        get_fhir_model_class(kind).model_validate(obj)
        for (k, path), allowed in REQUIRED.items():
            for value in values(obj, path) if k == kind else []:
                if value not in allowed:
                    raise ValueError(f"{path} {value!r} is not in its required value set")
        print(f"ok {kind}")
    except Exception as e:  # noqa: BLE001 - every failure is reported, whatever its type
        failed = True
        print(f"invalid {kind}: {e}".replace("\n", " | "))
    for entry in obj.get("entry", []) if kind == "Bundle" else []:
        check(entry["resource"])


for line in sys.stdin:
    if line.strip():
        check(json.loads(line))
sys.exit(1 if failed else 0)
