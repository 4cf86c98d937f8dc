"""Bulk upload by providers (idempotent, all or nothing or per item) and the history."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from apps.core import clock
from apps.measurements.models import Measurement
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.registry.models import Prepatient
from tests.api.conftest import TODAY, Personas

pytestmark = pytest.mark.django_db

URL = "/api/v1/measurements/"


def item(prepatient: Prepatient, reference: str, **values: Any) -> dict[str, Any]:
    return {"prepatient": prepatient.pseudonym, "type": "hba1c", "value": "41.5",
            "unit": "mmol/mol", "taken_on": TODAY.isoformat(), "source_reference": reference,
            **values}


def test_a_batch_is_stored_and_each_item_answered(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("provider_a").post(URL, {"items": [
        item(prepatient_a, "v1-hba1c"),
        item(prepatient_a, "v1-weight", type="weight", value="82.4", unit="kg"),
    ]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["committed"], body["stored"], body["duplicates"], body["errors"]) == (
        True, 2, 0, 0)
    ids = [i["measurement_id"] for i in body["items"]]
    assert [i["status"] for i in body["items"]] == ["stored", "stored"]
    stored = Measurement.objects.get(pk=ids[0])
    assert (stored.value, stored.reporter, stored.provider) == (
        Decimal("41.5"), f"provider:{personas.provider_a.pk}", personas.provider_a)


def test_a_retried_batch_stores_nothing_twice(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    batch = {"items": [item(prepatient_a, "r1"), item(prepatient_a, "r2", value="42")]}
    client = personas.client("provider_a")
    first = client.post(URL, batch, format="json").json()
    again = client.post(URL, batch, format="json")
    assert again.status_code == 200
    assert [i["status"] for i in again.json()["items"]] == ["duplicate", "duplicate"]
    assert [i["measurement_id"] for i in again.json()["items"]] == [
        i["measurement_id"] for i in first["items"]]
    assert again.json()["stored"] == 0
    assert Measurement.objects.count() == 2


def test_an_all_or_nothing_batch_with_one_bad_item_stores_nothing(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("provider_a").post(URL, {"items": [
        item(prepatient_a, "ok"),
        item(prepatient_a, "bad", value="250"),
        item(prepatient_a, "unit", unit="mg"),
    ]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["committed"] is False
    assert [i["status"] for i in body["items"]] == ["not_stored", "error", "error"]
    assert "250" in body["items"][1]["errors"]["value"][0]
    assert body["error"]["code"] == "batch_refused"
    assert set(body["error"]["fields"]) == {"items[1].value", "items[2].unit"}
    assert not Measurement.objects.exists()


def test_a_per_item_batch_stores_the_good_items(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("provider_a").post(URL, {"all_or_nothing": False, "items": [
        item(prepatient_a, "ok"),
        item(prepatient_a, "future", taken_on="2027-01-01"),
        {"prepatient": prepatient_a.pseudonym, "type": "hba1c"},  # not even readable
    ]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [i["status"] for i in body["items"]] == ["stored", "error", "error"]
    assert "taken_on" in body["items"][1]["errors"]
    assert {"value", "unit", "taken_on", "source_reference"} <= set(body["items"][2]["errors"])
    assert Measurement.objects.count() == 1


def test_an_unreadable_item_refuses_an_all_or_nothing_batch_in_its_place(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    response = personas.client("provider_a").post(URL, {"items": [
        item(prepatient_a, "ok"), "not an object", item(prepatient_a, "x", value="abc"),
    ]}, format="json")
    assert response.status_code == 400
    assert [i["status"] for i in response.json()["items"]] == ["not_stored", "error", "error"]
    assert "items[2].value" in response.json()["error"]["fields"]
    assert not Measurement.objects.exists()


@pytest.mark.parametrize("body", [
    {}, {"items": []}, {"items": "x"}, [], {"items": [{}], "all_or_nothing": "maybe"},
])
def test_a_malformed_batch_is_refused_in_the_error_shape(
    personas: Personas, body: Any,
) -> None:
    response = personas.client("provider_a").post(URL, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == "invalid"


def test_too_many_items_are_refused(personas: Personas, prepatient_a: Prepatient) -> None:
    body = {"items": [item(prepatient_a, f"r{i}") for i in range(5001)]}
    response = personas.client("provider_a").post(URL, body, format="json")
    assert response.status_code == 400
    assert "items" in response.json()["error"]["fields"]


def test_json_numbers_are_read_as_decimals_never_as_floats(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    # 0.1 + 0.2 style trouble: a float would not store 41.45 as written.
    raw = json.dumps({"items": [item(prepatient_a, "n", value="VALUE")]}).replace(
        '"VALUE"', "41.45")
    response = personas.client("provider_a").post(URL, raw, content_type="application/json")
    assert response.status_code == 200, response.content
    stored = Measurement.objects.get()
    assert stored.reported_value == Decimal("41.45")
    assert stored.value == Decimal("41.5")  # one decimal, rounded half up


def test_the_history_shows_own_references_and_corrections(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    client = personas.client("provider_a")
    client.post(URL, {"items": [item(prepatient_a, "first", value="44")]}, format="json")
    client.post(URL, {"items": [item(prepatient_a, "fix", value="43", corrects="first")]},
                format="json")
    with clock.travel_to(TODAY):
        measurements_record_batch(items=[MeasurementInput(
            prepatient=prepatient_a.pseudonym, type="hba1c", value="40", unit="mmol/mol",
            taken_on=TODAY, source_reference="LAB-1")], reporter=Reporter.for_lab("9"))
    response = client.get(f"/api/v1/prepatients/{prepatient_a.pseudonym}/measurements/")
    assert response.status_code == 200
    rows = {(r["value"], r["source_reference"], r["reporter_kind"], r["superseded"])
            for r in response.json()["results"]}
    assert rows == {("44.000", "first", "provider", True), ("43.000", "fix", "provider", False),
                    ("40.000", None, "lab", False)}
    fix = next(r for r in response.json()["results"] if r["source_reference"] == "fix")
    first = next(r for r in response.json()["results"] if r["source_reference"] == "first")
    assert fix["corrects"] == first["id"]
    only_weight = client.get(
        f"/api/v1/prepatients/{prepatient_a.pseudonym}/measurements/?type=weight")
    assert only_weight.json()["results"] == []


def test_a_new_provider_sees_the_history_but_not_the_old_providers_references(
    personas: Personas, prepatient_a: Prepatient,
) -> None:
    from apps.registry.services import listing_switch

    personas.client("provider_a").post(URL, {"items": [item(prepatient_a, "a-secret")]},
                                       format="json")
    listing_switch(prepatient=prepatient_a, provider=personas.provider_b)
    response = personas.client("provider_b").get(
        f"/api/v1/prepatients/{prepatient_a.pseudonym}/measurements/")
    [row] = response.json()["results"]
    assert row["source_reference"] is None
    assert row["reporter_kind"] == "provider"
