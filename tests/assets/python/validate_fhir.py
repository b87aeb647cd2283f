"""Validates FHIR resources with fhir.resources (PyPI; its R4B models, the R4 technical
correction) : one JSON resource per line on stdin, each Bundle's entries too. Prints one
line per resource ("ok Type" or "invalid Type: why") and exits 1 if any is invalid. Used
by tests/tests/e2e/fhir.rs on every resource the facade answers."""
import json
import sys

from fhir.resources.R4B import get_fhir_model_class

failed = False

# Codes whose binding is "required" in R4 for the elements the facade fills: the models
# check structure and types, not these value sets.
OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected",
                      "cancelled", "entered-in-error", "unknown"}
REQUIRED = {
    ("Observation", "status"): OBSERVATION_STATUS,
    ("DetectedIssue", "status"): OBSERVATION_STATUS,
    ("DetectedIssue", "severity"): {"high", "moderate", "low"},
    ("Device", "status"): {"active", "inactive", "entered-in-error", "unknown"},
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response",
                         "batch", "batch-response", "history", "searchset", "collection"},
    ("CapabilityStatement", "status"): {"draft", "active", "retired", "unknown"},
    ("CapabilityStatement", "kind"): {"instance", "capability", "requirements"},
    ("OperationOutcome", "issue"): None,
}


def check(obj):
    global failed
    kind = obj.get("resourceType", "?")
    try:
        get_fhir_model_class(kind).model_validate(obj)
        for (k, field), allowed in REQUIRED.items():
            if k == kind and allowed is not None and field in obj and obj[field] not in allowed:
                raise ValueError(f"{field} {obj[field]!r} is not in its required value set")
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
