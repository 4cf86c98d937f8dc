"""A programme no code knows: a caseworker defines it in the back-office as data,
another publishes it, and people are recruited to it, followed up and settled."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.roles import caseworker_group
from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion
from tests.factories import UserFactory, changed, shipped_definition
from tests.programs.journeys import Journey, after_the_window

pytestmark = pytest.mark.django_db

WAIST = {"subject": "measure", "measure": "waist", "unit": "cm", "sources": ["lab"]}
DEFINITION = changed(shipped_definition("obesity-2027"), {
    "code": "waist-2027",
    "name": {"sv": "Midjemått: stöd för en mindre midja", "en": "Waist: support for a "
                                                                "smaller waist"},
    "description": {"sv": "Ersättning för varje deltagare vars midjemått minskat med minst "
                          "4 cm efter 12 månader.",
                    "en": "A payment for each participant whose waist is at least 4 cm "
                          "smaller after 12 months."},
    "cap": 500, "budget": "2000000.00",
    "inclusion": [
        {"subject": "age", "op": "ge", "threshold": "30", "reason": "age_out_of_range"},
        {**WAIST, "op": "ge", "threshold": "102", "reason": "waist_below_range"},
    ],
    "priority": [],
    "followup": {"measures": ["waist", "weight"]},
    "outcome.criteria": [{"measure": "waist", "unit": "cm", "sources": ["provider"],
                          "aggregate": "closest", "compare": "change", "op": "le",
                          "threshold": "-4"}],
    "payment": {"per_success": "3000.00", "currency": "SEK", "floor_share": "0",
                "ceiling_share": "1", "min_attributed": 1, "payments_from": "2028-04-01",
                "payments_until": "2029-06-30"},
    "consent": {"sv": "Jag samtycker till att mina mätvärden behandlas för programmet.",
                "en": "I consent to my measurements being processed for the programme."},
})


def caseworker(name: str, settings: Any) -> Client:
    settings.STAFF_MFA_REQUIRED = False
    user = UserFactory(username=name, is_staff=True)
    user.groups.add(caseworker_group())
    client = Client()
    client.force_login(user)
    return client


def test_a_programme_defined_in_the_admin_recruits_follows_and_settles(
        settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any) -> None:
    author, reviewer = caseworker("defines", settings), caseworker("reviews", settings)
    add = reverse("admin:programs_programme_add")
    form = author.get(add)
    assert form.status_code == 200 and "new-programme" in form.content.decode()
    broken = {**DEFINITION, "followup": {"measures": ["waist", "grip_strength"]}}
    refused = author.post(add, {"definition": json.dumps(broken)})
    assert refused.status_code == 200 and "followup.measures[1]" in refused.content.decode()
    assert not Programme.objects.filter(code="waist-2027").exists()  # nothing half-saved

    saved = author.post(add, {"definition": json.dumps(DEFINITION)})
    assert saved.status_code == 302, saved.content.decode()[-2000:]
    draft = ProgrammeVersion.objects.get(programme__code="waist-2027")
    assert (draft.version, draft.status) == (1, DefinitionStatus.DRAFT)
    publish = reverse("admin:programs_programmeversion_publish", args=[draft.pk])
    assert author.post(publish, {"confirm": "on"}).status_code == 200  # four eyes
    assert reviewer.post(publish, {"confirm": "on"}).status_code == 302
    programme = Programme.objects.get(code="waist-2027")
    assert (programme.name, programme.cap, programme.payment_per_success) == (
        "Midjemått: stöd för en mindre midja", 500, Decimal("3000.00"))

    register = tmp_path / "register.csv"
    register.write_text("personnummer,postcode\n")
    waist = Journey(programme, register, django_capture_on_commit_callbacks)
    slim = waist.person(born=date(1979, 1, 1), on=date(2027, 2, 1))
    waist.lab_result(slim, "waist", "95", "cm", on=date(2027, 2, 1))
    assert waist.decision(slim, on=date(2027, 2, 3)) == "waist_below_range"
    people = []
    for born in (date(1970, 2, 2), date(1985, 3, 3)):
        person = waist.person(born=born, on=date(2027, 2, 1))
        waist.lab_result(person, "waist", "110", "cm", on=date(2027, 2, 1))
        assert waist.decision(person, on=date(2027, 2, 3)) == "included"
        people.append(waist.enroll(person, on=date(2027, 2, 3)))
    smaller, same = people
    start = [("waist", "110", "cm"), ("weight", "95.0", "kg")]
    waist.followed(smaller, start, [("waist", "104", "cm"), ("weight", "91.0", "kg")])
    waist.followed(same, start, [("waist", "108", "cm"), ("weight", "94.0", "kg")])

    run, lines = waist.settle(after_the_window(waist, people))
    assert lines == {smaller.pseudonym: ("success", "target_met"),
                     same.pseudonym: ("failure", "target_not_met:waist")}
    assert run.total_amount == Decimal("3000.00")  # one success, every success paid
    result = waist.recomputed(run, tmp_path)
    assert result["total_amount"] == "3000.00"
    assert {p["id"]: (p["result"], p["reason"]) for p in result["prepatients"]} == lines
