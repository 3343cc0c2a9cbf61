"""Validates deploy/kubernetes: the core kinds against Kubernetes' own schemas (PyPI
kubernetes-validate, strict: unknown fields fail), the KEDA ScaledObject against the minimal
schema kept in deploy/kubernetes/schemas. Prints PASS/FAIL lines and exits non-zero on any
failure; a deliberately broken copy of each file must fail, so the check itself is checked."""
import copy
import glob
import json
import os
import sys

import jsonschema
import kubernetes_validate
import yaml

VERSION = "1.31.0"
root = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "kubernetes")
scaled_schema = json.load(open(os.path.join(root, "schemas", "scaledobject.schema.json")))
failures = 0


def check(doc):
    if doc["kind"] == "ScaledObject":
        jsonschema.validate(doc, scaled_schema)
    else:
        kubernetes_validate.validate(doc, VERSION, strict=True)


def report(ok, what):
    global failures
    print(("PASS " if ok else "FAIL ") + what)
    failures += 0 if ok else 1


def broken(doc):
    bad = copy.deepcopy(doc)
    bad["spec"]["colonyTypo"] = True
    return bad


kinds = set()
for path in sorted(glob.glob(os.path.join(root, "*.yaml"))):
    for doc in yaml.safe_load_all(open(path)):
        name = f"{os.path.basename(path)}: {doc['kind']} {doc['metadata']['name']}"
        kinds.add(doc["kind"])
        try:
            check(doc)
            report(True, f"manifest {name} is valid")
        except Exception as e:  # noqa: BLE001 - any validation error is a failure to show
            report(False, f"manifest {name}: {str(e).splitlines()[0]}")
        try:
            check(broken(doc))
            report(False, f"manifest {name}: an unknown spec field was not caught")
        except Exception:  # noqa: BLE001
            pass

expected = {"Service", "StatefulSet", "Deployment", "PersistentVolumeClaim", "ScaledObject"}
report(expected <= kinds, f"manifests cover {sorted(expected)}")
sys.exit(1 if failures else 0)
