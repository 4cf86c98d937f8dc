"""What every page of the site shares: the way-in steps, submit-once, staff kept out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.test import Client, RequestFactory
from django.views import View

from apps.core import clock
from apps.site import journey
from apps.site.mixins import SubmitOnceMixin
from apps.site.models import FormSubmission
from apps.site.tasks import purge_form_submissions
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class CountingView(SubmitOnceMixin, View):
    calls = 0

    def post(self, request: HttpRequest) -> HttpResponse:
        CountingView.calls += 1
        if request.POST.get("fail"):
            return HttpResponse("form with errors", status=200)
        return HttpResponseRedirect(f"/done/{CountingView.calls}/")


def _post(user, data):
    request = RequestFactory().post("/form/", data)
    request.user = user
    return CountingView.as_view()(request)


def test_a_repeated_submission_is_handled_once_and_goes_where_the_first_went() -> None:
    user = UserFactory()
    CountingView.calls = 0
    first = _post(user, {"once": "a" * 32})
    second = _post(user, {"once": "a" * 32})
    assert CountingView.calls == 1
    assert first["Location"] == second["Location"] == "/done/1/"
    assert FormSubmission.objects.get().result_url == "/done/1/"


def test_a_submission_with_errors_frees_its_token_and_other_tokens_are_handled() -> None:
    user = UserFactory()
    CountingView.calls = 0
    _post(user, {"once": "b" * 32, "fail": "1"})
    assert not FormSubmission.objects.exists()
    _post(user, {"once": "b" * 32})
    _post(user, {"once": "c" * 32})
    assert CountingView.calls == 3


def test_another_persons_token_does_not_redirect_to_their_result() -> None:
    first, second = UserFactory(), UserFactory()
    CountingView.calls = 0
    _post(first, {"once": "d" * 32})
    response = _post(second, {"once": "d" * 32})
    assert CountingView.calls == 1
    assert response["Location"] == "/form/"


def test_old_tokens_are_forgotten() -> None:
    user = UserFactory()
    with clock.travel_to(clock.today() - timedelta(days=40)):
        FormSubmission.objects.create(token="e" * 32, user=user, path="/x/")
    FormSubmission.objects.create(token="f" * 32, user=user, path="/x/")
    assert purge_form_submissions() == 1
    assert list(FormSubmission.objects.values_list("token", flat=True)) == ["f" * 32]


def test_staff_are_sent_to_the_back_office_and_never_become_prepatients(
        caseworker_client: Client) -> None:
    from apps.registry.models import Prepatient

    response = caseworker_client.get("/continue/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert not Prepatient.objects.filter(user__is_staff=True).exists()


def test_a_new_account_continues_at_the_consent_step(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    response = client.get("/continue/")
    assert response.status_code == 302
    assert response["Location"] == "/join/consent/"
    prepatient = user.prepatients.get()
    steps = journey.steps(prepatient)
    assert [step.name for step in steps] == ["consent", "identity", "questionnaire",
                                             "referral", "result"]
    assert [step.current for step in steps] == [True, False, False, False, False]


def test_the_about_page_explains_data_and_leaving_in_both_languages(client: Client) -> None:
    swedish = client.get("/about/")
    english = client.get("/en/about/")
    assert swedish.status_code == english.status_code == 200
    assert b'lang="sv"' in swedish.content
    assert b"Who sees your data" in english.content
    # The programme in its definition's words, its goal from its outcome criteria.
    page = english.content.decode()
    assert "Prediabetes" in page and "HbA1c: below 42 mmol/mol" in page
    assert "Free for you, every 3 months" in page and "24 months" in page


def test_the_language_switch_posts_this_page_in_the_other_language(client: Client) -> None:
    english = client.get("/en/about/").content.decode()
    assert 'name="next" value="/about/"' in english
    swedish = client.get("/about/").content.decode()
    assert 'name="next" value="/en/about/"' in swedish
    moved = client.post("/i18n/setlang/", {"language": "sv", "next": "/about/"})
    assert moved["Location"] == "/about/"
