"""My page: state, provider, follow-up, HbA1c, consents, withdrawal and the data download."""

from __future__ import annotations

import itertools
import json
import logging
import re
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.consent.models import ConsentEvent, ConsentKind
from apps.consent.services import consent_grant, consent_withdraw
from apps.core import clock
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.registry.models import LifecycleEvent, PrepatientState, ProviderRating
from apps.registry.services import lifecycle_exclude, listing_switch, prepatient_enroll
from apps.site.models import FormSubmission
from tests.site import test_marketplace as market
from tests.site.test_marketplace import TODAY, once, signed_in

# The marketplace tests' fixtures: providers with profiles, a candidate, an enrolled person.
providers = market.providers
candidate = market.candidate
enrolled = market.enrolled

pytestmark = pytest.mark.django_db

_references = itertools.count(1)
FOLLOW_UP = [("triglycerides", "1.5", "mmol/L"), ("cholesterol_total", "5.0", "mmol/L"),
             ("ldl", "3.0", "mmol/L"), ("hdl", "1.2", "mmol/L"), ("height", "170", "cm"),
             ("weight", "80", "kg"), ("findrisc", "14", "score")]


def record(prepatient, day: date, values: list[tuple[str, str, str]], *,
           reporter: Reporter, corrects: str = "") -> list[str]:
    references = [f"ref-{next(_references)}" for _ in values]
    with clock.travel_to(day):
        result = measurements_record_batch(items=[
            MeasurementInput(prepatient=prepatient.pseudonym, type=code, value=Decimal(value),
                             unit=unit, taken_on=day, source_reference=reference,
                             corrects=corrects)
            for (code, value, unit), reference in zip(values, references, strict=True)
        ], reporter=reporter)
    assert result.committed, [item.errors for item in result.items]
    return references


@pytest.fixture
def history(enrolled, providers):
    """A complete baseline set, a lab value later corrected, and a missing follow-up."""
    provider = Reporter.for_provider(providers["remote"])
    lab = Reporter.for_lab("Unilabs")
    record(enrolled, date(2026, 8, 20), [("hba1c", "44", "mmol/mol"), *FOLLOW_UP],
           reporter=provider)
    [wrong] = record(enrolled, date(2026, 11, 1), [("hba1c", "43", "mmol/mol")], reporter=lab)
    record(enrolled, date(2026, 11, 1), [("hba1c", "41", "mmol/mol")], reporter=lab,
           corrects=wrong)
    return enrolled


# --- Access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/me/", "/me/consents/", "/me/consents/withdraw/", "/me/data/",
                                  "/me/data/?download=json"])
def test_every_page_needs_sign_in(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login").replace("/en/", "/"))


def test_staff_have_no_my_page(caseworker_client) -> None:
    response = caseworker_client.get("/me/")
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")


# --- Before enrollment -----------------------------------------------------------------------


def test_someone_on_the_way_in_is_told_where_to_continue(make_candidate) -> None:
    waiting = make_candidate(hba1c=None)
    client = signed_in(waiting)
    with clock.travel_to(TODAY):
        swedish = client.get("/me/")
        english = client.get("/en/me/")
    assert swedish.status_code == 200 and 'lang="sv"' in swedish.content.decode()
    html = english.content.decode()
    assert "Continue where you left off" in html
    assert "Your next step: Blood test." in html
    assert f'href="{reverse("site:referral")}"' in html
    assert 'class="progress-steps"' in html
    assert reverse("site:consents") in html and reverse("site:mydata") in html


def test_a_brand_new_account_gets_a_record_and_the_consent_step(client) -> None:
    from tests.factories import UserFactory

    user = UserFactory()
    client.force_login(user)
    html = client.get("/en/me/").content.decode()
    assert f'href="{reverse("site:consent")}"' in html


# --- Enrolled --------------------------------------------------------------------------------


def test_my_page_shows_state_provider_and_the_switch_window(history, providers) -> None:
    client = signed_in(history)
    with clock.travel_to(date(2026, 11, 10)):
        response = client.get("/en/me/")
    html = response.content.decode()
    assert "no-store" in response["Cache-Control"]  # a page about a person is never cached
    assert "You are taking part in the programme." in html
    assert "3 August 2026" in html and "3 August 2028" in html  # joined, ends
    assert f'<a href="/en/providers/{providers["remote"].pk}/">Alfa Digital</a>' in html
    assert "since 3 August 2026" in html
    assert "You can switch to another provider until 3 February 2028." in html
    assert f'href="{reverse("site:marketplace")}"' in html


def test_the_next_follow_up_and_an_overdue_one_say_what_to_measure(history) -> None:
    client = signed_in(history)
    with clock.travel_to(date(2026, 11, 10)):
        html = client.get("/en/me/").content.decode()
    assert 'class="notice error" role="alert"' in html
    assert "Your follow-up results were due on 3 November 2026" in html
    overdue = html[html.index("Still missing:"):html.index("Your next follow-up")]
    assert "Triglycerides" in overdue and "HbA1c" not in overdue  # the lab value counted
    assert "still missing after 3 December 2026, you leave the programme" in html
    assert "Your next follow-up is due on 3 February 2027." in html
    assert "Tests taken from 4 November 2026 count." in html


def test_no_overdue_notice_when_the_sets_are_complete(history) -> None:
    client = signed_in(history)
    with clock.travel_to(date(2026, 8, 25)):
        html = client.get("/en/me/").content.decode()
    assert "Your follow-up tests are late" not in html
    assert "Your next follow-up is due on 3 November 2026." in html


def test_hba1c_is_shown_as_a_chart_and_a_table_of_current_values(history) -> None:
    client = signed_in(history)
    with clock.travel_to(date(2026, 11, 10)):
        response = client.get("/en/me/")
    html = response.content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js"></script>' in html
    assert 'id="outcome-hba1c-chart" data-chart="outcome-hba1c-data" role="img"' in html
    assert "HbA1c over time" in html
    assert ("HbA1c shows your average blood sugar over the last months. "
            "The goal of the programme: below 42 mmol/mol.") in html
    data = json.loads(re.search(r'<script id="outcome-hba1c-data" type="application/json">'
                                r'(.*?)</script>',
                                html, re.S).group(1))
    assert data["values"] == [44.0, 44.0, 41.0]
    assert data["target"] == 42.0
    assert data["targetLabel"] == "Target: below 42 mmol/mol"
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td class="number">([^<]+)</td>'
                      r"<td>([^<]+)</td></tr>", html)
    assert rows == [("3 August 2026", "44", "Laboratory, before you joined"),
                    ("20 August 2026", "44", "Your provider"),
                    ("1 November 2026", "41", "Laboratory")]
    assert ("<caption>Your values: HbA1c in mmol/mol (target: below 42 mmol/mol)</caption>"
            in html)
    assert "cdn" not in html.lower()


def test_no_one_sees_another_persons_values(history, make_candidate, providers) -> None:
    with clock.travel_to(TODAY):
        other = prepatient_enroll(prepatient=make_candidate(), provider=providers["both"])
    record(other, date(2026, 9, 1), [("hba1c", "39.5", "mmol/mol")],
           reporter=Reporter.for_lab("Unilabs"))
    client = signed_in(other)
    with clock.travel_to(date(2026, 11, 10)):
        html = client.get("/en/me/").content.decode()
        download = client.get("/en/me/data/?download=json")
    assert "39.5" in html and ">41<" not in html and "Alfa Digital" not in html
    data = json.loads(download.content)
    assert data["programme_id"] == other.pseudonym
    assert history.pseudonym not in download.content.decode()
    assert [m["value"] for m in data["measurements"]] == ["39.500"]


def test_after_the_window_my_page_says_it_closed(enrolled) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2028, 3, 1)):
        html = client.get("/en/me/").content.decode()
    assert "The time for switching provider ended on 3 February 2028." in html


def test_a_provider_that_lost_its_authorization_is_flagged(enrolled, providers) -> None:
    providers["remote"].authorization_status = "revoked"
    providers["remote"].save()
    client = signed_in(enrolled)
    with clock.travel_to(date(2028, 3, 1)):
        html = client.get("/en/me/").content.decode()
    assert "Your provider is no longer authorized. You can choose another provider" in html


def test_the_rating_link_opens_after_three_months(enrolled, providers) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2026, 10, 1)):
        early = client.get("/en/me/").content.decode()
    with clock.travel_to(date(2026, 11, 3)):
        ready = client.get("/en/me/").content.decode()
        ProviderRating.objects.create(prepatient=enrolled, provider=providers["remote"], stars=4)
        rated = client.get("/en/me/").content.decode()
    assert "You can rate your provider from 3 November 2026." in early
    assert f'href="{reverse("site:rate", args=[providers["remote"].pk])}">Rate Alfa Digital' \
        in ready
    assert "You gave Alfa Digital 4 stars. Change your rating" in rated


def test_the_page_names_the_state_in_plain_words(enrolled, caseworker) -> None:
    with clock.travel_to(date(2026, 12, 10)):
        lifecycle_exclude(prepatient=enrolled, reason="missed_followup", actor=caseworker)
        html = signed_in(enrolled).get("/en/me/").content.decode()
    assert ("Since 10 December 2026 you are no longer taking part in the programme, because "
            "follow-up results were missing.") in html
    assert "Your next follow-up" not in html


# --- Consents --------------------------------------------------------------------------------


def test_the_consents_page_lists_what_was_given_with_the_texts(enrolled) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2026, 9, 1)):
        swedish = client.get("/me/consents/")
        html = client.get("/en/me/consents/").content.decode()
    assert swedish.status_code == 200 and 'lang="sv"' in swedish.content.decode()
    assert "Data sharing between lab, evaluator and provider" in html
    assert "<summary>Consent (version 1)</summary>" in html
    assert "Version 1" in html and "Given" in html
    assert '<caption>Every time you gave or withdrew a consent</caption>' in html
    assert "Donate my data to research" in html
    assert f'href="{reverse("site:withdraw")}"' in html


def test_research_donation_can_be_given_and_stopped_once_each(enrolled) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2026, 9, 1)):
        token = once(client, "/en/me/consents/")
        given = client.post("/en/me/consents/", {"action": "give", "version": "1",
                                                 "once": token})
        again = client.post("/en/me/consents/", {"action": "give", "version": "1",
                                                 "once": token})
        enrolled.refresh_from_db()
        assert enrolled.research_consent
        page = client.get("/en/me/consents/").content.decode()
        assert "You donate your data to research." in page
        assert "Thank you. You now donate your data to research." in page
        stopped = client.post("/en/me/consents/", {"action": "withdraw",
                                                   "once": once(client, "/en/me/consents/")})
    assert given.status_code == again.status_code == stopped.status_code == 302
    enrolled.refresh_from_db()
    assert not enrolled.research_consent
    assert enrolled.state == PrepatientState.ACTIVE
    assert list(ConsentEvent.objects.filter(prepatient=enrolled, kind=ConsentKind.RESEARCH)
                .values_list("action", flat=True)) == ["grant", "withdraw"]


def test_an_outdated_research_text_is_not_agreed_to(enrolled) -> None:
    client = signed_in(enrolled)
    response = client.post("/en/me/consents/", {"action": "give", "version": "0",
                                                "once": "j" * 32})
    assert response.status_code == 200
    assert "The text has been updated." in response.content.decode()
    enrolled.refresh_from_db()
    assert not enrolled.research_consent


# --- Withdrawing -----------------------------------------------------------------------------


def test_the_withdraw_page_says_what_withdrawing_means(enrolled, consent_texts) -> None:
    consent_grant(prepatient=enrolled, text=consent_texts[ConsentKind.RESEARCH])
    client = signed_in(enrolled)
    swedish = client.get("/me/consents/withdraw/")
    html = client.get("/en/me/consents/withdraw/").content.decode()
    assert swedish.status_code == 200 and 'lang="sv"' in swedish.content.decode()
    assert "You leave the programme at once." in html
    assert "Your provider no longer sees your data" in html
    assert "Your donation of data to research also ends." in html
    assert "every payment to providers must be possible to check afterwards" in html
    assert 'class="danger"' in html
    assert 'type="checkbox" name="confirm"' in html


def test_the_withdraw_form_is_sent_to_its_own_address(enrolled) -> None:
    """The form names its action: sent from the page opened at #main (after the skip
    link), it would otherwise carry the fragment on to My page after the redirect."""
    client = signed_in(enrolled)
    for path in ("/me/consents/withdraw/", "/en/me/consents/withdraw/"):
        html = client.get(path).content.decode()
        assert f'<form method="post" action="{path}" novalidate>' in html


def test_withdrawing_needs_the_box_ticked(enrolled) -> None:
    client = signed_in(enrolled)
    response = client.post("/en/me/consents/withdraw/", {"once": "k" * 32})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="#id_confirm">I understand what withdrawing my consent means.: Tick the box' \
        in html
    assert 'aria-invalid="true" aria-describedby="id_confirm_error"' in html
    enrolled.refresh_from_db()
    assert enrolled.consent_valid and enrolled.state == PrepatientState.ACTIVE


def test_withdrawing_leaves_the_programme_once(enrolled) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2026, 10, 1)):
        token = once(client, "/en/me/consents/withdraw/")
        first = client.post("/en/me/consents/withdraw/", {"confirm": "on", "once": token})
        second = client.post("/en/me/consents/withdraw/", {"confirm": "on", "once": token})
        page = client.get("/en/me/").content.decode()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == "/en/me/"
    enrolled.refresh_from_db()
    assert not enrolled.consent_valid
    assert enrolled.state == PrepatientState.EXCLUDED
    assert ConsentEvent.objects.filter(prepatient=enrolled, action="withdraw").count() == 1
    assert LifecycleEvent.objects.filter(prepatient=enrolled,
                                         type="consent_withdrawn").count() == 1
    assert FormSubmission.objects.filter(token=token).count() == 1
    assert "Your consent is withdrawn." in page
    assert "You withdrew your consent on 1 October 2026" in page
    assert "no longer taking part" in page
    assert f'href="{reverse("site:withdraw")}"' not in page
    again = client.get("/en/me/consents/withdraw/").content.decode()
    assert "You have no valid consent to withdraw." in again


def test_a_candidate_who_withdraws_can_continue_later(candidate) -> None:
    client = signed_in(candidate)
    html = client.get("/en/me/consents/withdraw/").content.decode()
    assert "you can give your consent again later and continue" in html
    assert "You leave the programme at once." not in html
    client.post("/en/me/consents/withdraw/", {"confirm": "on", "once": "l" * 32})
    candidate.refresh_from_db()
    assert not candidate.consent_valid and candidate.state == PrepatientState.CANDIDATE
    page = client.get("/en/me/").content.decode()
    assert f'href="{reverse("site:consent")}"' in page


# --- My data ---------------------------------------------------------------------------------


def test_the_data_page_explains_the_download(enrolled) -> None:
    client = signed_in(enrolled)
    assert 'lang="sv"' in client.get("/me/data/").content.decode()
    html = client.get("/en/me/data/").content.decode()
    assert "You have the right to see everything we store about you." in html
    assert 'name="download" value="json"' in html


def test_the_download_holds_everything_about_the_person(history, providers, caplog) -> None:
    with clock.travel_to(date(2026, 11, 3)):
        listing_switch(prepatient=history, provider=providers["both"])
        ProviderRating.objects.create(prepatient=history, provider=providers["remote"],
                                      stars=4, comment="Bra")
        consent_withdraw(prepatient=history, kind=ConsentKind.DATA_SHARING)
    client = signed_in(history)
    with caplog.at_level(logging.DEBUG), clock.travel_to(date(2026, 11, 10)):
        response = client.get("/en/me/data/?download=json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="my-data-{history.pseudonym}-2026-11-10.json"')
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode("utf-8")
    assert text.startswith("{\n  ")  # pretty
    data = json.loads(text)
    history.refresh_from_db()
    assert data["personnummer"] == history.personnummer and len(history.personnummer) == 12
    assert data["account"]["email"] == history.user.email
    assert data["programme_id"] == history.pseudonym
    assert data["birth_date"] == "1970-05-10" and data["sex"] == "F"
    assert data["registered_postcode"] == "16355" and data["lives_in_vulnerable_area"] is True
    assert data["state"] == "excluded" and data["enrolled_on"] == "2026-08-03"
    # The FINDRISC definition scores a woman with a 95 cm waist 15.
    assert data["screenings"][0]["findrisc_score"] == 15
    # The same answers as a response to the programme's screening questionnaire.
    (response_row,) = data["questionnaire_responses"]
    assert (response_row["questionnaire"], response_row["score"]) == ("findrisc", 15)
    assert response_row["answers"]["waist"] == "95"
    assert (data["inclusion_samples"][0]["measure"],
            data["inclusion_samples"][0]["value"]) == ("hba1c", "44.000")
    hba1c = [m for m in data["measurements"] if m["type"] == "hba1c"]
    assert [(m["value"], m["superseded"], m["source"]) for m in hba1c] == [
        ("44.000", False, "provider"), ("43.000", True, "lab"), ("41.000", False, "lab")]
    assert hba1c[2]["corrects"] == hba1c[1]["id"]
    assert [(item["provider"], item["reason"]) for item in data["listings"]] == [
        ("Alfa Digital", "initial"), ("Charlie Hälsa", "switch")]
    assert [e["event"] for e in data["lifecycle_events"]] == ["enrolled", "consent_withdrawn"]
    assert [(e["kind"], e["action"]) for e in data["consent_events"]] == [
        ("data_sharing", "grant"), ("data_sharing", "withdraw")]
    assert data["ratings"] == [{"provider": "Alfa Digital", "stars": 4, "comment": "Bra",
                                "given": data["ratings"][0]["given"],
                                "changed": data["ratings"][0]["changed"]}]
    assert len(data["follow_up_due_dates"]) == 9
    assert "hash" not in text and history.personnummer_hash not in text
    assert history.personnummer not in caplog.text
    assert "41.000" not in caplog.text


def test_the_download_names_referral_codes_by_their_last_characters(make_candidate) -> None:
    from apps.registry.services import referral_issue

    person = make_candidate(hba1c=None)
    referral, code = referral_issue(prepatient=person)
    data = json.loads(signed_in(person).get("/me/data/?download=json").content)
    assert data["referral_codes"] == [{
        "code_ends_with": referral.hint, "issued": referral.issued_at.isoformat(),
        "expires": referral.expires_at.isoformat(), "used": None}]
    assert code.replace("-", "") not in json.dumps(data)
    assert referral.code_hash not in json.dumps(data)


def test_the_blood_test_that_let_the_person_in_is_not_shown_twice(enrolled, providers) -> None:
    record(enrolled, TODAY, [("hba1c", "44", "mmol/mol")], reporter=Reporter.for_lab("Unilabs"))
    with clock.travel_to(date(2026, 9, 1)):
        html = signed_in(enrolled).get("/en/me/").content.decode()
    assert html.count('<th scope="row">3 August 2026</th>') == 1
    assert "Laboratory, before you joined" not in html


def test_a_new_participant_sees_the_starting_value(enrolled) -> None:
    with clock.travel_to(date(2026, 8, 4)):
        html = signed_in(enrolled).get("/en/me/").content.decode()
    assert ('<tr><th scope="row">3 August 2026</th><td class="number">44</td>'
            "<td>Laboratory, before you joined</td></tr>") in html


def test_the_demo_login_has_a_meaningful_my_page(demo) -> None:
    client = Client()
    assert client.login(username="prepatient", password="demo-prepatient")
    with clock.travel_to(date(2026, 11, 23)):
        html = client.get("/en/me/").content.decode()
    assert "You are taking part in the programme." in html
    assert "Hälsocoachen Järva AB" in html
    assert "You can switch to another provider until" in html
    assert 'id="outcome-hba1c-data"' in html and "43.5" in html


def test_the_download_names_the_measure_of_a_safety_notice(history) -> None:
    record(history, date(2026, 11, 1), [("hba1c", "49", "mmol/mol")],
           reporter=Reporter.for_lab("Unilabs"))
    client = signed_in(history)
    with clock.travel_to(date(2026, 11, 10)):
        data = json.loads(client.get("/en/me/data/?download=json").content)
    (notice,) = data["safety_notices"]
    assert (notice["measure"], notice["value"], notice["unit"]) == ("hba1c", "49.000",
                                                                    "mmol/mol")
    assert notice["value_taken_on"] == "2026-11-01"
