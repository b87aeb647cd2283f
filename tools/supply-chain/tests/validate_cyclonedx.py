"""Validates a CycloneDX JSON document against the official schema of its spec version,
as shipped by cyclonedx-python-lib (scripts/test installs it). Exit 1 with the error."""
import json
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

text = open(sys.argv[1], encoding="utf-8").read()
version = SchemaVersion.from_version(json.loads(text)["specVersion"])
error = JsonStrictValidator(version).validate_str(text)
if error is not None:
    print(f"invalid CycloneDX {version.to_version()}: {error}", file=sys.stderr)
    sys.exit(1)
