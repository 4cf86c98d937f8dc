"""Laboratories: inclusion samples by referral code, and follow-up results as plain
JSON or FHIR R4 (Observation, Bundle)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from apps.api import fhir
from apps.core import clock
from apps.measurements.models import Measurement
from apps.registry.models import InclusionSample, Prepatient
from apps.registry.services import referral_issue
from tests.api.conftest import TODAY, Personas

pytestmark = pytest.mark.django_db

RESULTS = "/api/v1/lab/results/"
REFERRAL = "/api/v1/lab/referral-results/"
FHIR_JSON = "application/fhir+json"


def observation(subject: str, *, loinc: str = "59261-8", value: Any = 44, unit: str = "mmol/mol",
                sample: str = "LAB-1", system: str = fhir.PROGRAMME_ID_SYSTEM,
                effective: str = "2026-11-02T08:30:00+01:00") -> dict[str, Any]:
    return {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"identifier": {"system": system, "value": subject}},
        "effectiveDateTime": effective,
        "valueQuantity": {"value": value, "unit": unit, "system": fhir.UCUM_SYSTEM,
                          "code": unit},
        "identifier": [{"system": "urn:oid:1.2.752.0.0.1", "value": sample}],
    }


def bundle(*resources: dict[str, Any], type: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": type,
            "entry": [{"fullUrl": f"urn:uuid:{i}", "resource": r}
                      for i, r in enumerate(resources)]}


def post_fhir(personas: Personas, body: Any, url: str = RESULTS) -> Any:
    # 5.9 travels as the JSON number 5.9 (the API reads it as a decimal).
    return personas.client("lab").post(url, json.dumps(body),
                                       content_type=FHIR_JSON)


def test_a_fhir_bundle_with_a_percent_hba1c_is_stored_in_mmol_per_mol(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    body = bundle(
        observation(prepatient_a.pseudonym, loinc="4548-4", value=5.9, unit="%",
                    sample="LAB-118811"),
        observation(prepatient_a.pseudonym, loinc="2093-3", value=5, unit="mmol/L",
                    sample="LAB-118812") | {"code": {"coding": [
                        {"system": "urn:other", "code": "x"},
                        {"system": "http://loinc.org", "code": "14647-2"}]}},
    )
    response = post_fhir(personas, body)
    assert response.status_code == 200, response.content
    assert [i["status"] for i in response.json()["items"]] == ["stored", "stored"]
    hba1c = Measurement.objects.get(type__code="hba1c")
    # (5.9 − 2.15) × 10.929 = 40.98… → 41.0 mmol/mol
    assert (hba1c.value, hba1c.reported_value, hba1c.reported_unit) == (
        Decimal("41.0"), Decimal("5.9"), "%")
    assert (hba1c.source_reference, hba1c.taken_on) == ("LAB-118811", TODAY)
    assert (hba1c.reporter_kind, hba1c.reporter) == ("lab", f"lab:{personas.lab.pk}")
    assert Measurement.objects.get(type__code="cholesterol_total").value == Decimal("5")
    # Sent again: nothing stored twice.
    again = post_fhir(personas, body)
    assert [i["status"] for i in again.json()["items"]] == ["duplicate", "duplicate"]
    assert Measurement.objects.count() == 2


def test_a_single_observation_as_plain_json_content_type(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("lab").post(
        RESULTS, json.dumps(observation(prepatient_a.pseudonym, value=39.5)),
        content_type="application/json")
    assert response.status_code == 200
    assert Measurement.objects.get().value == Decimal("39.5")


def test_an_unknown_loinc_code_or_unit_names_the_path(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    good = observation(prepatient_a.pseudonym)
    unknown_code = observation(prepatient_a.pseudonym, loinc="1234-5", sample="L2")
    wrong_unit = observation(prepatient_a.pseudonym, loinc="4548-4", unit="mmol/mol",
                             sample="L3")
    odd_unit = observation(prepatient_a.pseudonym, loinc="14647-2", unit="furlong",
                           sample="L4")
    response = post_fhir(personas, bundle(good, unknown_code, wrong_unit, odd_unit))
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"entry[1].resource.code.coding",
                           "entry[2].resource.valueQuantity.code",
                           "entry[3].resource.valueQuantity.code"}
    assert "1234-5" in fields["entry[1].resource.code.coding"][0]
    assert "furlong" in fields["entry[3].resource.valueQuantity.code"][0]
    assert response.json()["error"]["code"] == "fhir_invalid"
    assert not Measurement.objects.exists()


@pytest.mark.parametrize(("change", "path"), [
    (lambda o: o.pop("status"), "status"),
    (lambda o: o.update(status="preliminary"), "status"),
    (lambda o: o["subject"]["identifier"].update(system="urn:other"), "subject.identifier"),
    (lambda o: o.pop("effectiveDateTime"), "effectiveDateTime"),
    (lambda o: o.update(effectiveDateTime="2026-11"), "effectiveDateTime"),
    (lambda o: o["valueQuantity"].update(value="44"), "valueQuantity.value"),
    (lambda o: o["valueQuantity"].update(system="urn:x"), "valueQuantity.system"),
    (lambda o: o.pop("identifier"), "identifier"),
    (lambda o: o.update(code={}), "code.coding"),
    (lambda o: o.update(resourceType="Patient"), "resourceType"),
])
def test_each_unreadable_element_is_named(
    personas: Personas, prepatient_a: Prepatient, change: Callable[[dict[str, Any]], Any],
    path: str,
) -> None:
    resource = observation(prepatient_a.pseudonym)
    change(resource)
    response = post_fhir(personas, bundle(observation(prepatient_a.pseudonym, sample="ok"),
                                          resource))
    assert response.status_code == 400
    assert f"entry[1].resource.{path}" in response.json()["error"]["fields"]


def test_a_period_start_and_a_utc_time_give_the_swedish_date(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    resource = observation(prepatient_a.pseudonym, effective="2026-10-31T23:30:00Z")
    period = observation(prepatient_a.pseudonym, sample="L2")
    del period["effectiveDateTime"]
    period["effectivePeriod"] = {"start": "2026-10-15"}
    assert post_fhir(personas, bundle(resource, period)).status_code == 200
    assert sorted(Measurement.objects.values_list("taken_on", flat=True)) == [
        TODAY.replace(month=10, day=15), TODAY.replace(month=11, day=1)]


def test_a_batch_bundle_stores_entry_by_entry_and_a_transaction_all_or_nothing(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    good = observation(prepatient_a.pseudonym, sample="good")
    unknown = observation("pp-0000000000", sample="nobody")
    refused = post_fhir(personas, bundle(good, unknown))
    assert refused.status_code == 400
    assert [i["status"] for i in refused.json()["items"]] == ["not_stored", "error"]
    assert "entry[1].resource.subject.identifier.value" in refused.json()["error"]["fields"]
    assert "subject.identifier.value" in refused.json()["items"][1]["errors"]
    assert not Measurement.objects.exists()
    per_entry = post_fhir(personas, bundle(good, unknown, type="batch"))
    assert per_entry.status_code == 200
    assert [i["status"] for i in per_entry.json()["items"]] == ["stored", "error"]


def test_an_out_of_range_value_is_refused_at_its_path(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = post_fhir(personas, observation(prepatient_a.pseudonym, value=250))
    assert response.status_code == 400
    assert "valueQuantity.value" in response.json()["error"]["fields"]


def test_plain_json_items_from_a_lab(personas: Personas, prepatient_a: Prepatient) -> None:
    response = personas.client("lab").post(RESULTS, {"items": [{
        "prepatient": prepatient_a.pseudonym, "type": "hba1c", "value": "6.0", "unit": "%",
        "taken_on": TODAY.isoformat(), "source_reference": "S-1"}]}, format="json")
    assert response.status_code == 200
    assert Measurement.objects.get().value == Decimal("42.1")


# --- Referral results ------------------------------------------------------------------


@pytest.fixture
def referral_code(make_candidate: Callable[..., Prepatient]) -> tuple[Prepatient, str]:
    candidate = make_candidate(hba1c=None)
    _referral, code = referral_issue(prepatient=candidate)
    return candidate, code


def referral_body(code: str, **values: Any) -> dict[str, Any]:
    return {"referral_code": code, "value": "6.3", "unit": "%",
            "taken_on": TODAY.isoformat(), "sample_id": "LAB-0001", **values}


def test_a_referral_result_in_percent_is_stored_in_mmol_per_mol(
    personas: Personas, referral_code: tuple[Prepatient, str],
) -> None:
    candidate, code = referral_code
    client = personas.client("lab")
    response = client.post(REFERRAL, referral_body(code), format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"status": "stored", "sample_id": "LAB-0001", "type": "hba1c",
                               "value": "45.4", "taken_on": TODAY.isoformat()}
    sample = InclusionSample.objects.get(prepatient=candidate)
    assert (sample.value, sample.lab_reference, sample.source) == (
        Decimal("45.4"), "LAB-0001", "lab")
    # The same result again is a duplicate; another sample on the used code is a conflict.
    again = client.post(REFERRAL, referral_body(code), format="json")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    other = client.post(REFERRAL, referral_body(code, sample_id="LAB-0002"), format="json")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "referral_code_used"
    assert "referral_code" in other.json()["error"]["fields"]
    assert InclusionSample.objects.filter(prepatient=candidate).count() == 1


def test_an_unknown_or_expired_referral_code(
    personas: Personas, referral_code: tuple[Prepatient, str],
) -> None:
    _candidate, code = referral_code
    client = personas.client("lab")
    unknown = client.post(REFERRAL, referral_body("ZZZZ-ZZZZ-ZZZZ"), format="json")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "referral_code_unknown"
    with clock.travel_to(TODAY + timedelta(days=91)):
        expired = client.post(REFERRAL, referral_body(code), format="json")
    assert expired.status_code == 409
    assert expired.json()["error"]["code"] == "referral_code_expired"


@pytest.mark.parametrize(("values", "field"), [
    ({"unit": "g"}, "unit"),
    ({"value": "25"}, "value"),  # 25 % is far outside the plausible range
    ({"taken_on": "2027-01-01"}, "taken_on"),
    ({"referral_code": ""}, "referral_code"),
])
def test_a_referral_result_that_is_not_valid(
    personas: Personas, referral_code: tuple[Prepatient, str], values: dict[str, Any],
    field: str,
) -> None:
    _candidate, code = referral_code
    response = personas.client("lab").post(REFERRAL, referral_body(code, **values),
                                           format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_a_referral_result_as_a_fhir_observation(
    personas: Personas, referral_code: tuple[Prepatient, str],
) -> None:
    candidate, code = referral_code
    resource = observation(code, value=44, system=fhir.REFERRAL_CODE_SYSTEM,
                           effective=TODAY.isoformat())
    response = post_fhir(personas, resource, REFERRAL)
    assert response.status_code == 201, response.content
    assert InclusionSample.objects.get(prepatient=candidate).value == Decimal("44.0")
    other_test = copy.deepcopy(resource)  # total cholesterol: not what the programme takes
    other_test["code"]["coding"][0]["code"] = "14647-2"
    other_test["valueQuantity"].update(unit="mmol/L", code="mmol/L", value=5.2)
    refused = post_fhir(personas, other_test, REFERRAL)
    assert refused.status_code == 400
    assert "code.coding" in refused.json()["error"]["fields"]
    unknown = post_fhir(personas, observation("ZZZZ-ZZZZ-ZZZZ", system=fhir.REFERRAL_CODE_SYSTEM,
                                              effective=TODAY.isoformat()), REFERRAL)
    assert unknown.status_code == 404
    assert "subject.identifier.value" in unknown.json()["error"]["fields"]


def test_a_lab_asking_for_fhir_json_gets_the_json_answer(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("lab").post(
        RESULTS, json.dumps(observation(prepatient_a.pseudonym)), content_type=FHIR_JSON,
        HTTP_ACCEPT=FHIR_JSON)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_another_content_type_is_refused_in_the_error_shape(personas: Personas) -> None:
    response = personas.client("lab").post(RESULTS, "<Observation/>",
                                           content_type="application/fhir+xml")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
