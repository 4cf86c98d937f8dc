"""Programme definitions and questionnaires as stored data: published questionnaires,
drafts checked against what exists, four-eyes publishing, and published versions that
the database refuses to change."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from apps.core.errors import DomainError
from apps.programs import selectors
from apps.programs.errors import (
    DefinitionConflict,
    DefinitionInvalid,
    FourEyesRequired,
    VersionNotDraft,
)
from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion, Questionnaire
from apps.programs.services import (
    programme_version_draft,
    programme_version_publish,
    questionnaire_publish,
    shipped_definitions_publish,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "data"


def shipped(kind: str, code: str) -> dict[str, Any]:
    return json.loads((DATA / kind / f"{code}.json").read_text("utf-8"))


@pytest.fixture
def prediabetes() -> Programme:
    return Programme.objects.get(code="prediabetes-2026")


SHIPPED_QUESTIONNAIRES = ["fall_history", "findrisc", "short_fes_i", "ucla3"]


@pytest.fixture
def findrisc() -> Questionnaire:
    """FINDRISC as it ships (published by the migrations, with the first programme)."""
    return questionnaire_publish(definition=shipped("questionnaires", "findrisc"))


def refused_at(error: pytest.ExceptionInfo[DomainError]) -> list[str]:
    return list(error.value.fields)


def test_a_shipped_questionnaire_is_published_once(findrisc: Questionnaire) -> None:
    assert findrisc.status == DefinitionStatus.PUBLISHED and findrisc.published_at
    assert questionnaire_publish(definition=shipped("questionnaires", "findrisc")) == findrisc
    changed = shipped("questionnaires", "findrisc")
    changed["title"]["en"] += " (revised)"
    with pytest.raises(DefinitionConflict):
        questionnaire_publish(definition=changed)
    assert selectors.questionnaire_codes() == SHIPPED_QUESTIONNAIRES


def test_a_questionnaire_that_cannot_be_scored_is_refused_naming_the_place() -> None:
    broken = shipped("questionnaires", "ucla3") | {"code": "ucla3-short", "version": 1}
    broken["items"][0]["options"] = broken["items"][0]["options"][:1]
    with pytest.raises(DefinitionInvalid) as refused:
        questionnaire_publish(definition=broken)
    assert refused_at(refused) == ["items[0].options"]
    assert not Questionnaire.objects.filter(code="ucla3-short").exists()


def test_the_first_programme_ships_published_and_every_enrollment_has_a_version(
        prediabetes: Programme) -> None:
    first = selectors.programme_version_current(prediabetes)
    assert first is not None and (first.version, first.status) == (1, DefinitionStatus.PUBLISHED)
    assert first.definition == shipped("programmes", "prediabetes-2026")
    assert first.created_by is None and first.published_by is None  # shipped with a release


def test_a_draft_is_numbered_and_checked_against_what_exists(prediabetes: Programme) -> None:
    author = UserFactory()
    unpublished = shipped("programmes", "prediabetes-2026")
    unpublished["screening"]["questionnaires"] = ["stroke_risk"]
    with pytest.raises(DefinitionInvalid) as refused:
        programme_version_draft(programme=prediabetes, author=author, definition=unpublished)
    assert refused_at(refused) == ["screening.questionnaires[0]"]  # no such questionnaire
    first = programme_version_draft(programme=prediabetes, author=author,
                                    definition=shipped("programmes", "prediabetes-2026"))
    second = programme_version_draft(programme=prediabetes, author=author,
                                     definition=shipped("programmes", "prediabetes-2026"))
    assert (first.version, second.version) == (2, 3)  # version 1 ships with the programme
    assert second.definition["version"] == 3 and second.status == DefinitionStatus.DRAFT


@pytest.mark.parametrize("change,path", [
    (lambda d: d.update(code="another-programme"), "code"),
    (lambda d: d["followup"]["measures"].append("grip_strength"), "followup.measures[7]"),
    (lambda d: d["outcome"]["criteria"][0].update(unit="%"), "outcome.criteria[0].unit"),
    (lambda d: d["inclusion"][0].update(op="between"), "inclusion[0].op"),
])
def test_a_draft_naming_what_does_not_exist_is_refused(
        prediabetes: Programme, findrisc: Questionnaire, change: Any, path: str) -> None:
    definition = shipped("programmes", "prediabetes-2026")
    change(definition)
    with pytest.raises(DefinitionInvalid) as refused:
        programme_version_draft(programme=prediabetes, author=UserFactory(),
                                definition=definition)
    assert refused_at(refused) == [path]
    assert not ProgrammeVersion.objects.filter(status=DefinitionStatus.DRAFT).exists()


@pytest.mark.parametrize("code", ["obesity-2027", "activity-2027", "loneliness-2027",
                                  "falls-2027"])
def test_every_shipped_programme_is_drafted_without_code(code: str) -> None:
    programme = Programme.objects.create(code=code, name=code)
    version = programme_version_draft(programme=programme, author=UserFactory(),
                                      definition=shipped("programmes", code))
    assert version.version == 1 and version.definition["code"] == code


def test_a_programme_needing_an_unpublished_questionnaire_is_refused() -> None:
    programme = Programme.objects.create(code="loneliness-2027", name="Loneliness")
    definition = shipped("programmes", "loneliness-2027")
    definition["screening"]["questionnaires"] = ["isolation_index"]
    with pytest.raises(DefinitionInvalid) as refused:
        programme_version_draft(programme=programme, author=UserFactory(),
                                definition=definition)
    assert refused_at(refused) == ["screening.questionnaires[0]"]


def test_publishing_needs_a_second_caseworker(prediabetes: Programme,
                                              findrisc: Questionnaire) -> None:
    author, reviewer = UserFactory(), UserFactory()
    draft = programme_version_draft(programme=prediabetes, author=author,
                                    definition=shipped("programmes", "prediabetes-2026"))
    with pytest.raises(FourEyesRequired):
        programme_version_publish(version=draft, publisher=author)
    published = programme_version_publish(version=draft, publisher=reviewer)
    assert (published.status, published.published_by) == (DefinitionStatus.PUBLISHED, reviewer)
    assert selectors.programme_version_current(prediabetes) == published
    with pytest.raises(VersionNotDraft):
        programme_version_publish(version=draft, publisher=UserFactory())


def test_a_published_version_cannot_be_changed_even_by_sql(prediabetes: Programme,
                                                           findrisc: Questionnaire) -> None:
    draft = programme_version_draft(programme=prediabetes, author=UserFactory(),
                                    definition=shipped("programmes", "prediabetes-2026"))
    published = programme_version_publish(version=draft, publisher=UserFactory())
    table = ProgrammeVersion._meta.db_table
    attempts = [
        lambda: ProgrammeVersion.objects.filter(pk=published.pk).update(definition={}),
        lambda: ProgrammeVersion.objects.filter(pk=published.pk).update(
            status=DefinitionStatus.DRAFT),
        lambda: connection.cursor().execute(
            f"UPDATE {table} SET version = 9 WHERE id = %s", [published.pk]),  # noqa: S608
        lambda: ProgrammeVersion.objects.filter(pk=published.pk).update(
            published_at=F("published_at") + timedelta(days=1)),
        lambda: ProgrammeVersion.objects.filter(pk=published.pk).update(
            published_by=UserFactory()),
        lambda: Questionnaire.objects.filter(pk=findrisc.pk).update(definition={}),
    ]
    if connection.vendor == "postgresql":  # SQLite's flush deletes rows: no DELETE trigger
        attempts += [lambda: ProgrammeVersion.objects.filter(pk=published.pk).delete(),
                     lambda: Questionnaire.objects.filter(pk=findrisc.pk).delete()]
    for attempt in attempts:
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    published.refresh_from_db()
    assert published.definition == shipped("programmes", "prediabetes-2026") | {"version": 2}
    # Written back as it is (a restored copy of the database), it is not a change.
    published.save()
    findrisc.save()
    # A draft is still the author's to change or drop.
    other = programme_version_draft(programme=prediabetes, author=UserFactory(),
                                    definition=shipped("programmes", "prediabetes-2026"))
    ProgrammeVersion.objects.filter(pk=other.pk).delete()


def test_the_shipped_definitions_are_published_once(prediabetes: Programme) -> None:
    author, publisher = UserFactory(), UserFactory()
    published = shipped_definitions_publish(directory=DATA, author=author, publisher=publisher)
    assert [(v.programme.code, v.version, v.status, v.created_by, v.published_by)
            for v in published] == [
        (code, 1, DefinitionStatus.PUBLISHED, author, publisher)
        for code in ("activity-2027", "falls-2027", "loneliness-2027", "obesity-2027")]
    assert selectors.questionnaire_codes() == SHIPPED_QUESTIONNAIRES
    assert shipped_definitions_publish(directory=DATA, author=author,
                                       publisher=publisher) == []
    assert ProgrammeVersion.objects.count() == 5 and Questionnaire.objects.count() == 4
    obesity = Programme.objects.get(code="obesity-2027")
    # The programme row carries the published version's programme-wide figures.
    assert (obesity.name, obesity.cap, obesity.start_date.isoformat(), obesity.min_attributed,
            obesity.budget_authorization, obesity.outcome_criteria[0]["measure"]) == (
        "Fetma: stöd till viktnedgång", 10000, "2027-01-01", 20,
        Decimal("100000000.00"), "weight")
