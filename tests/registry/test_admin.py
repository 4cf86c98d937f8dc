"""The caseworkers' back-office: prepatients, their actions, postcodes and consent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from apps.consent.models import ConsentEvent, ConsentKind, ConsentText
from apps.core import clock
from apps.core.models import AccessLogEntry, AccessPurpose
from apps.registry.models import (
    ExclusionReason,
    LifecycleEvent,
    LifecycleEventType,
    Prepatient,
    PrepatientState,
    VulnerableAreaPostcode,
)
from apps.registry.services import lifecycle_exclude
from tests.factories import UserFactory
from tests.registry import factories

pytestmark = pytest.mark.django_db

TODAY = date(2026, 9, 1)
CHANGELIST = "admin:registry_prepatient_changelist"


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.travel_to(TODAY):
        yield


@pytest.fixture
def active() -> Prepatient:
    return factories.enrolled_prepatient(postcode="16355")


def staff_client(settings: Any, *codenames: str) -> Client:
    settings.STAFF_MFA_REQUIRED = False
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def change_url(prepatient: Prepatient) -> str:
    return reverse("admin:registry_prepatient_change", args=[prepatient.pk])


def action_url(action: str, prepatient: Prepatient, *args: Any) -> str:
    return reverse(f"admin:registry_prepatient_{action}", args=[prepatient.pk, *args])


def number_forms(digits: str) -> list[str]:
    """Every way the personnummer could appear in a page."""
    return [digits, digits[2:], f"{digits[:8]}-{digits[8:]}", f"{digits[2:8]}-{digits[8:]}"]


# --- Who may see the list -------------------------------------------------------


def test_the_prepatient_list_loads_for_a_caseworker(caseworker_client: Client,
                                                    active: Prepatient) -> None:
    response = caseworker_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert active.pseudonym in response.content.decode()


def test_the_list_sends_someone_who_is_not_staff_to_the_login(settings: Any) -> None:
    settings.STAFF_MFA_REQUIRED = False
    client = Client()
    client.force_login(UserFactory(is_staff=False))
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_the_list_is_refused_to_staff_without_the_permission(settings: Any) -> None:
    response = staff_client(settings).get(reverse(CHANGELIST))
    assert response.status_code == 403


def test_the_list_neither_decrypts_the_personnummer_nor_logs_reads(
    caseworker_client: Client, active: Prepatient
) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = caseworker_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert not any('"registry_prepatient"."personnummer",' in query["sql"]
                   or '"registry_prepatient"."personnummer" ' in query["sql"]
                   for query in queries.captured_queries)
    page = response.content.decode()
    assert not any(form in page for form in number_forms(active.personnummer))
    assert AccessLogEntry.objects.count() == 0


# --- Search ---------------------------------------------------------------------


@pytest.mark.parametrize("form", ["twelve", "ten_with_hyphen"])
def test_search_by_personnummer_finds_exactly_that_prepatient_without_showing_the_number(
    caseworker_client: Client, form: str
) -> None:
    wanted = factories.enrolled_prepatient()
    other = factories.enrolled_prepatient()
    digits = wanted.personnummer
    term = digits if form == "twelve" else f"{digits[2:8]}-{digits[8:]}"
    response = caseworker_client.get(reverse(CHANGELIST), {"q": term}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain  # the number is swapped for the programme ID
    assert list(response.context["cl"].result_list) == [wanted]
    page = response.content.decode()
    assert other.pseudonym not in page
    assert not any(shown in page for shown in number_forms(digits))
    assert all(term not in url for url, _status in response.redirect_chain)


def test_a_personnummer_nobody_has_finds_nothing_and_is_shown_masked(
    caseworker_client: Client, active: Prepatient
) -> None:
    unknown = factories.make_personnummer(date(1980, 1, 2))
    response = caseworker_client.get(reverse(CHANGELIST), {"q": unknown}, follow=True)
    assert list(response.context["cl"].result_list) == []
    page = response.content.decode()
    assert "198001**-****" in page
    assert unknown not in page


def test_a_personnummer_search_by_staff_without_the_permission_is_refused(
    settings: Any, active: Prepatient
) -> None:
    response = staff_client(settings).get(reverse(CHANGELIST), {"q": active.personnummer})
    assert response.status_code == 403


def test_get_search_results_looks_a_personnummer_up_by_its_hash(caseworker: Any,
                                                                active: Prepatient) -> None:
    model_admin = admin.site._registry[Prepatient]
    request = RequestFactory().get("/")
    request.user = caseworker
    digits = active.personnummer
    with CaptureQueriesContext(connection) as queries:
        found, duplicates = model_admin.get_search_results(
            request, Prepatient.objects.all(), f"{digits[:8]}-{digits[8:]}")
        assert list(found) == [active]
    assert duplicates is False
    assert "LIKE" not in queries.captured_queries[-1]["sql"].upper()


def test_search_by_programme_id_and_by_postcode(caseworker_client: Client,
                                                active: Prepatient) -> None:
    elsewhere = factories.enrolled_prepatient(postcode="41101")
    by_pseudonym = caseworker_client.get(reverse(CHANGELIST), {"q": active.pseudonym})
    assert list(by_pseudonym.context["cl"].result_list) == [active]
    by_postcode = caseworker_client.get(reverse(CHANGELIST), {"q": "411 01"})
    assert list(by_postcode.context["cl"].result_list) == [elsewhere]
    partial = caseworker_client.get(reverse(CHANGELIST), {"q": active.pseudonym[:6]})
    assert list(partial.context["cl"].result_list) == []


# --- The change page ------------------------------------------------------------


def test_the_change_page_shows_the_full_personnummer_and_logs_one_read(
    caseworker_client: Client, caseworker: Any, active: Prepatient
) -> None:
    response = caseworker_client.get(change_url(active))
    assert response.status_code == 200
    digits = active.personnummer
    page = response.content.decode()
    assert f"{digits[:8]}-{digits[8:]}" in page
    assert active.current_provider.name in page
    entry = AccessLogEntry.objects.get()
    assert entry.actor_user == caseworker
    assert (entry.subject_type, entry.subject_id) == ("registry.prepatient", str(active.pk))
    assert entry.purpose == AccessPurpose.CASEWORK
    assert entry.what == "admin detail"


def test_the_change_page_shows_the_history_but_never_a_referral_code(
    caseworker_client: Client, active: Prepatient
) -> None:
    response = caseworker_client.get(change_url(active))
    formsets = {formset.opts.model for formset in response.context["inline_admin_formsets"]}
    assert {ConsentEvent, LifecycleEvent} <= formsets
    assert ConsentEvent.objects.filter(prepatient=active).exists()
    assert "code_hash" not in response.content.decode()


def test_the_change_page_cannot_be_saved_and_nothing_can_be_added_or_deleted(
    caseworker_client: Client, active: Prepatient
) -> None:
    assert caseworker_client.post(change_url(active), {"state": "excluded"}).status_code == 403
    delete = reverse("admin:registry_prepatient_delete", args=[active.pk])
    assert caseworker_client.post(delete, {"post": "yes"}).status_code == 403
    assert caseworker_client.get(reverse("admin:registry_prepatient_add")).status_code == 403
    active.refresh_from_db()
    assert active.state == PrepatientState.ACTIVE


def test_the_change_page_links_the_actions_the_state_allows(caseworker_client: Client,
                                                             active: Prepatient) -> None:
    page = caseworker_client.get(change_url(active)).content.decode()
    assert action_url("exclude", active) in page
    assert action_url("register_death", active) in page
    assert action_url("reinstate", active) not in page


# --- Actions ----------------------------------------------------------------------


def test_excluding_without_a_note_shows_an_error_and_changes_nothing(
    caseworker_client: Client, active: Prepatient
) -> None:
    response = caseworker_client.post(action_url("exclude", active),
                                      {"reason": ExclusionReason.MISSED_FOLLOWUP, "note": " "})
    assert response.status_code == 200
    assert "note" in response.context["form"].errors
    active.refresh_from_db()
    assert active.state == PrepatientState.ACTIVE
    assert not LifecycleEvent.objects.filter(type=LifecycleEventType.EXCLUDED).exists()


def test_excluding_with_a_reason_records_the_event_with_its_actor(
    caseworker_client: Client, caseworker: Any, active: Prepatient
) -> None:
    response = caseworker_client.post(action_url("exclude", active), {
        "reason": ExclusionReason.MOVED_ABROAD, "note": "Letter from the person"})
    assert response.status_code == 302
    assert response["Location"] == change_url(active)
    active.refresh_from_db()
    assert active.state == PrepatientState.EXCLUDED
    event = LifecycleEvent.objects.get(type=LifecycleEventType.EXCLUDED)
    assert (event.actor, event.reason, event.note, event.on) == (
        caseworker, ExclusionReason.MOVED_ABROAD, "Letter from the person", TODAY)


def test_reinstating_after_an_exclusion_needs_a_reason(
    caseworker_client: Client, caseworker: Any, active: Prepatient
) -> None:
    lifecycle_exclude(prepatient=active, reason=ExclusionReason.MISSED_FOLLOWUP,
                      actor=caseworker)
    page = caseworker_client.get(change_url(active)).content.decode()
    assert action_url("reinstate", active) in page

    refused = caseworker_client.post(action_url("reinstate", active), {"note": ""})
    assert "note" in refused.context["form"].errors
    active.refresh_from_db()
    assert active.state == PrepatientState.EXCLUDED

    response = caseworker_client.post(action_url("reinstate", active),
                                      {"note": "The sample was delayed at the lab"})
    assert response.status_code == 302
    active.refresh_from_db()
    assert active.state == PrepatientState.ACTIVE
    event = LifecycleEvent.objects.get(type=LifecycleEventType.REINSTATED)
    assert event.actor == caseworker


def test_a_refusal_of_the_service_is_shown_on_the_form_and_nothing_is_saved(
    caseworker_client: Client, active: Prepatient
) -> None:
    response = caseworker_client.post(action_url("reinstate", active), {"note": "By mistake"})
    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1  # the service's message: not possible while active
    assert escape(errors[0]) in response.content.decode()
    assert not LifecycleEvent.objects.filter(type=LifecycleEventType.REINSTATED).exists()


def test_registering_a_death_needs_a_date_and_a_note(caseworker_client: Client,
                                                     caseworker: Any,
                                                     active: Prepatient) -> None:
    url = action_url("register_death", active)
    missing = caseworker_client.post(url, {"on": "2026-08-20", "note": ""})
    assert "note" in missing.context["form"].errors
    future = caseworker_client.post(url, {"on": "2026-09-02", "note": "Population register"})
    assert "on" in future.context["form"].errors
    before = caseworker_client.post(url, {"on": "2026-07-01", "note": "Population register"})
    assert "on" in before.context["form"].errors  # the service: before the enrollment
    active.refresh_from_db()
    assert active.state == PrepatientState.ACTIVE

    response = caseworker_client.post(url, {"on": "2026-08-20", "note": "Population register"})
    assert response.status_code == 302
    active.refresh_from_db()
    assert active.state == PrepatientState.DECEASED
    event = LifecycleEvent.objects.get(type=LifecycleEventType.DECEASED)
    assert (event.on, event.actor) == (date(2026, 8, 20), caseworker)


def test_verifying_a_self_reported_sample_records_the_caseworker(
    caseworker_client: Client, caseworker: Any
) -> None:
    prepatient = factories.candidate()
    sample = factories.self_reported_sample(prepatient)
    url = action_url("verify_sample", prepatient, sample.pk)
    assert url in caseworker_client.get(change_url(prepatient)).content.decode()

    missing = caseworker_client.post(url, {"note": ""})
    assert "note" in missing.context["form"].errors
    sample.refresh_from_db()
    assert sample.verified_by is None

    response = caseworker_client.post(url, {"note": "Lab printout seen at the visit"})
    assert response.status_code == 302
    sample.refresh_from_db()
    assert sample.verified_by == caseworker
    assert sample.verification_note == "Lab printout seen at the visit"
    again = caseworker_client.post(url, {"note": "Twice"})
    assert again.context["form"].non_field_errors()


def test_a_sample_of_another_prepatient_is_not_found(caseworker_client: Client,
                                                     active: Prepatient) -> None:
    sample = factories.self_reported_sample(factories.candidate())
    response = caseworker_client.get(action_url("verify_sample", active, sample.pk))
    assert response.status_code == 404


@pytest.mark.parametrize("action", ["exclude", "reinstate", "register_death"])
def test_the_actions_are_refused_without_the_change_permission(
    settings: Any, active: Prepatient, action: str
) -> None:
    viewer = staff_client(settings, "view_prepatient")
    assert viewer.get(change_url(active)).status_code == 200
    assert viewer.get(action_url(action, active)).status_code == 403
    assert viewer.post(action_url(action, active), {
        "reason": ExclusionReason.MOVED_ABROAD, "note": "x", "on": "2026-08-20"}
    ).status_code == 403
    outsider = Client()
    outsider.force_login(UserFactory(is_staff=False))
    assert outsider.get(action_url(action, active)).status_code == 302
    active.refresh_from_db()
    assert active.state == PrepatientState.ACTIVE


# --- Samples awaiting verification ---------------------------------------------------


def test_the_sample_list_shows_self_reports_awaiting_verification_by_default(
    caseworker_client: Client, caseworker: Any, active: Prepatient
) -> None:
    awaiting = factories.self_reported_sample(active, hba1c="45")
    url = reverse("admin:registry_inclusionsample_changelist")
    response = caseworker_client.get(url)
    assert list(response.context["cl"].result_list) == [awaiting]
    assert action_url("verify_sample", active, awaiting.pk) in response.content.decode()
    everything = caseworker_client.get(url, {"verified": "all"})
    assert len(everything.context["cl"].result_list) == 2
    assert caseworker_client.get(reverse("admin:registry_inclusionsample_add")).status_code \
        == 403


# --- Vulnerable-area postcodes --------------------------------------------------------


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("postcodes.csv", text.encode(), content_type="text/csv")


def test_the_postcode_import_adds_new_rows_and_skips_listed_ones(
    caseworker_client: Client,
) -> None:
    programme = factories.programme()
    VulnerableAreaPostcode.objects.create(programme=programme, postcode="16355",
                                          area_name="Hjulsta")
    changelist = reverse("admin:registry_vulnerableareapostcode_changelist")
    import_url = reverse("admin:registry_vulnerableareapostcode_import")
    assert import_url in caseworker_client.get(changelist).content.decode()

    response = caseworker_client.post(import_url, {
        "programme": programme.pk,
        "file": upload("postcode,area_name\n163 55,Renamed\n16356,Tensta\n"),
    }, follow=True)
    assert response.status_code == 200
    assert [message.level_tag for message in response.context["messages"]] == ["success"]
    rows = dict(VulnerableAreaPostcode.objects.values_list("postcode", "area_name"))
    assert rows == {"16355": "Hjulsta", "16356": "Tensta"}


def test_a_bad_postcode_file_shows_the_line_and_saves_nothing(caseworker_client: Client) -> None:
    programme = factories.programme()
    response = caseworker_client.post(reverse("admin:registry_vulnerableareapostcode_import"), {
        "programme": programme.pk,
        "file": upload("postcode,area_name\n16355,Hjulsta\n12A45,Somewhere\n"),
    })
    assert response.status_code == 200
    assert "Line 3" in response.content.decode()
    assert response.context["form"].errors["file"]
    assert not VulnerableAreaPostcode.objects.exists()


def test_the_postcode_import_is_refused_without_the_add_permission(settings: Any) -> None:
    viewer = staff_client(settings, "view_vulnerableareapostcode")
    response = viewer.get(reverse("admin:registry_vulnerableareapostcode_import"))
    assert response.status_code == 403


# --- Consent ------------------------------------------------------------------------


def publish(client: Client, title: str) -> Any:
    return client.post(reverse("admin:consent_consenttext_add"), {
        "programme": factories.programme().pk, "kind": ConsentKind.DATA_SHARING,
        "title_sv": title, "title_en": title, "body_sv": "Text", "body_en": "Text",
    })


def test_adding_a_consent_text_publishes_the_next_version(caseworker_client: Client) -> None:
    assert publish(caseworker_client, "Första").status_code == 302
    assert publish(caseworker_client, "Andra").status_code == 302
    texts = list(ConsentText.objects.order_by("version").values_list("version", "title_sv"))
    assert texts == [(1, "Första"), (2, "Andra")]


def test_a_published_consent_text_cannot_be_changed_or_deleted(
    caseworker_client: Client,
) -> None:
    publish(caseworker_client, "Första")
    text = ConsentText.objects.get()
    url = reverse("admin:consent_consenttext_change", args=[text.pk])
    assert caseworker_client.get(url).status_code == 200  # shown read-only
    response = caseworker_client.post(url, {
        "programme": text.programme_id, "kind": text.kind, "title_sv": "Ändrad",
        "title_en": "Changed", "body_sv": "Ny", "body_en": "New",
    })
    assert response.status_code == 403
    delete = reverse("admin:consent_consenttext_delete", args=[text.pk])
    assert caseworker_client.post(delete, {"post": "yes"}).status_code == 403
    text.refresh_from_db()
    assert text.title_sv == "Första"


def test_the_consent_events_are_listed_read_only(caseworker_client: Client,
                                                 active: Prepatient) -> None:
    response = caseworker_client.get(reverse("admin:consent_consentevent_changelist"))
    assert response.status_code == 200
    assert active.pseudonym in response.content.decode()
    event = ConsentEvent.objects.get(prepatient=active)
    url = reverse("admin:consent_consentevent_change", args=[event.pk])
    assert caseworker_client.post(url, {}).status_code == 403
    assert caseworker_client.get(reverse("admin:consent_consentevent_add")).status_code == 403


def test_the_lists_take_the_same_number_of_queries_for_more_rows(
    caseworker_client: Client, active: Prepatient
) -> None:
    factories.self_reported_sample(active)
    urls = [reverse(CHANGELIST), reverse("admin:registry_inclusionsample_changelist"),
            reverse("admin:consent_consentevent_changelist")]

    def counts() -> list[int]:
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert caseworker_client.get(url).status_code == 200
            result.append(len(queries.captured_queries))
        return result

    few = counts()
    for _ in range(3):
        factories.self_reported_sample(factories.enrolled_prepatient())
    assert counts() == few
