"""The back-office for programme definitions: a caseworker drafts a version on the
programme's page, another publishes it; a definition that cannot be evaluated is shown
with the place it names, and nothing is saved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.core.roles import caseworker_group
from apps.programs.errors import FourEyesRequired
from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "data"


def shipped(kind: str, code: str) -> dict[str, Any]:
    return json.loads((DATA / kind / f"{code}.json").read_text("utf-8"))


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def second_caseworker(db: Any) -> Any:
    user = UserFactory(username="caseworker-b", is_staff=True)
    user.groups.add(caseworker_group())
    return user


def test_a_version_is_drafted_on_the_programme_and_published_by_another(
        caseworker: Any, caseworker_client: Client, second_caseworker: Any,
        settings: Any) -> None:
    programme = Programme.objects.get(code="prediabetes-2026")  # version 1 ships with it
    page = caseworker_client.get(reverse("admin:programs_programme_change",
                                         args=[programme.pk]))
    draft_url = reverse("admin:programs_programme_draft", args=[programme.pk])
    assert page.status_code == 200 and draft_url in page.content.decode()

    broken = shipped("programmes", "prediabetes-2026")
    broken["outcome"]["criteria"][0]["op"] = "below"
    answer = caseworker_client.post(draft_url, {"definition": json.dumps(broken)})
    assert answer.status_code == 200
    assert "outcome.criteria[0].op" in answer.content.decode()
    drafts = ProgrammeVersion.objects.filter(status=DefinitionStatus.DRAFT)
    assert not drafts.exists()
    assert caseworker_client.post(draft_url, {"definition": "{not json"}).status_code == 200
    assert not drafts.exists()

    raised = shipped("programmes", "prediabetes-2026")
    raised["payment"]["per_success"] = "50000.00"
    answer = caseworker_client.post(draft_url, {"definition": json.dumps(raised)})
    assert answer.status_code == 302
    version = drafts.get()
    assert (version.version, version.status, version.created_by) == (
        2, DefinitionStatus.DRAFT, caseworker)

    publish_url = reverse("admin:programs_programmeversion_publish", args=[version.pk])
    assert publish_url in caseworker_client.get(
        reverse("admin:programs_programmeversion_change", args=[version.pk])).content.decode()
    own = caseworker_client.post(publish_url, {"confirm": "on"})
    with translation.override("sv"):
        refusal = str(FourEyesRequired.default_message)
    assert own.status_code == 200 and refusal in own.content.decode()
    version.refresh_from_db()
    assert version.status == DefinitionStatus.DRAFT

    settings.STAFF_MFA_REQUIRED = False
    other = client_for(second_caseworker)
    assert other.post(publish_url, {}).status_code == 200  # the box is not ticked
    assert other.post(publish_url, {"confirm": "on"}).status_code == 302
    version.refresh_from_db()
    assert (version.status, version.published_by) == (DefinitionStatus.PUBLISHED,
                                                      second_caseworker)
    # The next draft starts from the latest version's definition.
    start = caseworker_client.get(draft_url).content.decode()
    assert "&quot;per_success&quot;: &quot;50000.00&quot;" in start
    programme.refresh_from_db()
    assert programme.payment_per_success == 50000  # the current version's figure


def test_staff_without_the_permission_cannot_draft_or_publish(settings: Any) -> None:
    settings.STAFF_MFA_REQUIRED = False
    programme = Programme.objects.get(code="prediabetes-2026")
    staff = client_for(UserFactory(is_staff=True))
    assert staff.get(reverse("admin:programs_programme_draft",
                             args=[programme.pk])).status_code == 403
