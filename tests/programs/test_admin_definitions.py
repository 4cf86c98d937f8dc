"""The back-office for programme definitions: a caseworker drafts a version on the
programme's page, another publishes it; a definition that cannot be evaluated is shown
with the place it names, and nothing is saved."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

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


def test_a_draft_is_tried_on_a_synthetic_cohort_before_it_is_published(
        caseworker: Any, caseworker_client: Client) -> None:
    programme = Programme.objects.get(code="prediabetes-2026")
    cheaper = shipped("programmes", "prediabetes-2026")
    cheaper["payment"]["per_success"] = "40000.00"
    caseworker_client.post(reverse("admin:programs_programme_draft", args=[programme.pk]),
                           {"definition": json.dumps(cheaper)})
    draft = ProgrammeVersion.objects.get(status=DefinitionStatus.DRAFT)
    url = reverse("admin:programs_programmeversion_dry_run", args=[draft.pk])
    assert url in caseworker_client.get(
        reverse("admin:programs_programmeversion_change", args=[draft.pk])).content.decode()
    page = caseworker_client.get(url, {"success_percent": "100"})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="dry-run-recruitment"' in html and 'id="dry-run-money"' in html
    digits = re.sub(r"[\s\xa0 .]", "", html)
    # Everyone succeeding, 21,000 paid outcomes at 40,000: 840 MSEK, within the budget.
    assert "840000000,00SEK" in digits
    with translation.override("sv"):
        assert str(_("Within the budget.")) in html
    refused = caseworker_client.get(url, {"success_percent": "150"})
    assert refused.status_code == 200 and 'class="errorlist' in refused.content.decode()
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.DRAFT  # nothing is saved by a dry run
