"""Reads an EDF file with pyedflib (PyPI) and prints what it found as JSON: the
independent reader of the ECG export's round-trip test (tests/tests/e2e/api_export.rs)."""
import json
import sys

import pyedflib

with pyedflib.EdfReader(sys.argv[1]) as f:
    n = f.signals_in_file
    out = {
        "start": f.getStartdatetime().isoformat(),
        "duration_s": f.getFileDuration(),
        "labels": f.getSignalLabels(),
        "fs": [f.getSampleFrequency(i) for i in range(n)],
        "dimension": [f.getPhysicalDimension(i) for i in range(n)],
        "physical_min": [f.getPhysicalMinimum(i) for i in range(n)],
        "physical_max": [f.getPhysicalMaximum(i) for i in range(n)],
        "digital_min": [f.getDigitalMinimum(i) for i in range(n)],
        "digital_max": [f.getDigitalMaximum(i) for i in range(n)],
        "digital": [f.readSignal(i, digital=True).tolist() for i in range(n)],
        "physical": [f.readSignal(i).tolist() for i in range(n)],
    }
json.dump(out, sys.stdout)
