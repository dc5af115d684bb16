"""pytest tools/test_validate_fhir.py: the checker passes the US Core examples and our gateway-shaped
fixtures, and fails each hand-broken fixture for the expected reason."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("FHIR_SHARED", HERE.parents[1] / "shared" / "fhir"))
SCRIPT = HERE / "validate_fhir.py"
VALID, INVALID = HERE / "fixtures" / "valid", HERE / "fixtures" / "invalid"

pytestmark = pytest.mark.skipif(not (SHARED / "r4" / "fhir.schema.json").is_file(),
                                reason=f"FHIR reference data not found at {SHARED} (set FHIR_SHARED)")


def run(*args):
    p = subprocess.run([sys.executable, str(SCRIPT), "--shared", str(SHARED), *map(str, args)],
                       capture_output=True, text=True, timeout=300)
    m = re.fullmatch(r"(\d+) passed, (\d+) failed", p.stdout.strip().splitlines()[-1])
    assert m, p.stdout + p.stderr
    return p.returncode, int(m[1]), int(m[2]), p.stdout


@pytest.mark.parametrize("profile", ["us-core", "base"])
def test_us_core_examples_pass(profile):
    rc, passed, failed, out = run("--profile", profile, SHARED / "us-core" / "examples")
    assert (rc, failed) == (0, 0), out
    assert passed > 200


@pytest.mark.parametrize("profile", ["us-core", "base", "gateway"])
def test_gateway_fixtures_pass(profile):
    rc, passed, failed, out = run("--profile", profile, VALID)
    assert (rc, failed, passed) == (0, 0, 7), out  # the Bundle and its 6 entries


EXPECTED = {  # fixture -> a line that must be reported with --profile us-core
    "Patient-missing-identifier": "Patient/pat-1001: Patient.identifier: min cardinality 1",
    "Patient-bad-gender": "Patient/pat-1001: Patient.gender: 'M' is not one of",
    "Encounter-missing-class": "Encounter/enc-5001: Encounter.class: required element missing",
    "MedicationRequest-bad-status": "MedicationRequest.status: code not in required ValueSet",
    "Practitioner-name-without-family": "Practitioner.name[0].family: min cardinality 1",
    "Bundle-encounter-without-subject": "#1: Encounter/enc-5001: Encounter.subject: min cardinality 1",
}


def test_every_invalid_fixture_has_an_expectation():
    assert sorted(p.stem for p in INVALID.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
@pytest.mark.parametrize("fhirkit", [True, False])
def test_invalid_fixture_fails(fixture, fhirkit):
    args = ["--profile", "us-core", INVALID / f"{fixture}.json"] + ([] if fhirkit else ["--no-fhirkit"])
    rc, passed, failed, out = run(*args)
    assert rc == 1 and failed == 1, out
    assert EXPECTED[fixture] in out, out


@pytest.mark.parametrize("fixture", ["Patient-bad-gender", "Encounter-missing-class"])
def test_base_profile_catches_core_errors(fixture):
    rc, _, failed, out = run("--profile", "base", "--no-fhirkit", INVALID / f"{fixture}.json")
    assert rc == 1 and failed == 1, out


def test_our_profiles_are_valid_narrowings_of_us_core():
    sys.path.insert(0, str(HERE))
    import validate_fhir

    checker = validate_fhir.Checker(SHARED, "gateway", use_fhirkit=False)
    for rtype, name in validate_fhir.GATEWAY_MAP.items():
        sd = json.loads((HERE.parent / "profiles" / f"StructureDefinition-{name}.json").read_text())
        assert sd["url"] == f"https://fhir-gateway.dev/StructureDefinition/{name}"
        assert sd["baseDefinition"] == validate_fhir.US_CORE + validate_fhir.US_CORE_MAP[rtype]
        assert (sd["type"], sd["kind"], sd["derivation"], sd["fhirVersion"]) == (rtype, "resource", "constraint", "4.0.1")
        checker.derived_profile(sd)  # raises if an element doesn't resolve or loosens cardinality
        assert not checker.check(sd), name  # schema-valid StructureDefinition
