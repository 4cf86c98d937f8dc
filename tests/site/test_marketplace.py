"""The marketplace: filters, provider pages, choosing, switching and rating."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.core import clock
from apps.providers.models import AuthorizationStatus
from apps.registry.models import Listing, Prepatient, PrepatientState, ProviderRating
from apps.registry.services import listing_switch, prepatient_enroll
from apps.site.models import FormSubmission
from tests.factories import UserFactory
from tests.providers.factories import ProviderFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 8, 3)  # recruitment is open to everyone after the priority phase


# --- Fixtures (also used by the My page tests) ---------------------------------------------


@pytest.fixture
def providers(programme):
    return {
        "remote": ProviderFactory(
            name="Alfa Digital", delivery_mode="remote", coach_type="ai",
            languages=["sv", "en"], regions=["national"], accessibility=["read_aloud"],
            offer_sv="Digitalt stöd i en app, dygnet runt.",
            offer_en="Digital support in an app, day and night.",
            website="https://alfa.example", email="hej@alfa.example", phone="08 123 45"),
        "on_site": ProviderFactory(
            name="Bravo Idrottsförening", delivery_mode="on_site", coach_type="human",
            languages=["sv", "so"], regions=["Stockholm"],
            offer_sv="Promenader och träning i grupp i Järva.", offer_en=""),
        "both": ProviderFactory(
            name="Charlie Hälsa", delivery_mode="both", coach_type="both",
            languages=["ar", "sv"], regions=["Skåne"], accessibility=["easy_read"],
            offer_sv="Coachning på plats och i video.", offer_en="Coaching on site and by video."),
        "pending": ProviderFactory(name="Delta Väntar", delivery_mode="remote",
                                   authorization_status=AuthorizationStatus.PENDING),
        "suspended": ProviderFactory(name="Echo Avstängd", delivery_mode="remote",
                                     authorization_status=AuthorizationStatus.SUSPENDED),
    }


def signed_in(prepatient: Prepatient) -> Client:
    client = Client()
    client.force_login(prepatient.user)
    return client


@pytest.fixture
def candidate(make_candidate):
    """Included today (lab HbA1c 44), not yet enrolled."""
    return make_candidate()


@pytest.fixture
def enrolled(make_candidate, providers):
    with clock.travel_to(TODAY):
        return prepatient_enroll(prepatient=make_candidate(), provider=providers["remote"])


def once(client: Client, url: str) -> str:
    """The submission token of the form on the page at ``url``."""
    page = client.get(url)
    match = re.search(rb'name="once" value="([0-9a-f]+)"', page.content)
    assert match, page.content.decode()[:2000]
    return match.group(1).decode()


def rate_many(provider, stars: list[int], programme) -> None:
    """Ratings by other people, written directly (the service's rules are tested apart)."""
    for value in stars:
        prepatient = Prepatient.objects.create(programme=programme, user=UserFactory())
        ProviderRating.objects.create(prepatient=prepatient, provider=provider, stars=value,
                                      comment=f"Betyg {value}")


# --- The list ------------------------------------------------------------------------------


def test_the_marketplace_lists_authorized_providers_in_swedish(client, providers) -> None:
    response = client.get("/providers/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'lang="sv"' in html
    for key in ("remote", "on_site", "both"):
        assert providers[key].name in html
    assert "Delta Väntar" not in html and "Echo Avstängd" not in html
    assert "Digitalt stöd i en app" in html
    assert 'role="status"' in html
    assert '<details class="filters">' in html  # closed: no filter is active
    assert "Arabiska" in html  # language names in the page's language, not codes


def test_the_english_marketplace_shows_english_offers_and_marks_swedish_ones(
        client, providers) -> None:
    response = client.get("/en/providers/")
    html = response.content.decode()
    assert 'lang="en"' in html
    assert "Digital support in an app" in html
    assert '<p lang="sv">Promenader och träning' in html  # no English text: Swedish, marked
    assert "3 providers match." in html
    assert "Somali (Soomaali)" in html


@pytest.mark.parametrize(("query", "expected"), [
    ("delivery=remote", {"remote", "both"}),
    ("delivery=on_site", {"on_site", "both"}),
    ("coach=human", {"on_site", "both"}),
    ("coach=ai", {"remote", "both"}),
    ("language=so", {"on_site"}),
    ("language=sv", {"remote", "on_site", "both"}),
    ("read_aloud=on", {"remote"}),
    ("region=Skåne", {"remote", "both"}),  # national providers match every region
    ("region=Stockholm&delivery=on_site", {"on_site"}),
    ("language=ar&coach=ai&region=Skåne", {"both"}),
    ("language=xx", {"remote", "on_site", "both"}),  # a value not offered filters nothing
])
def test_filters(client, providers, query, expected) -> None:
    response = client.get(f"/en/providers/?{query}")
    assert response.status_code == 200
    shown = {key for key, provider in providers.items()
             if f">{provider.name}</a></h2>" in response.content.decode()}
    assert shown == expected
    assert len(response.context["cards"]) == len(expected)


def test_active_filters_open_the_filter_box_and_keep_their_values(client, providers) -> None:
    html = client.get("/en/providers/?delivery=remote&language=so").content.decode()
    assert '<details class="filters" open>' in html
    assert re.search(r'value="remote"[^>]*checked', html)
    assert re.search(r'<option value="so" selected>', html)
    assert "Clear the filters" in html


def test_ratings_are_summarised_in_sql_and_shown_from_five(client, providers, programme) -> None:
    rate_many(providers["remote"], [5, 4, 4, 3, 5], programme)
    rate_many(providers["on_site"], [5, 5], programme)
    html = client.get("/en/providers/").content.decode()
    assert "4.2 out of 5 (5 ratings)" in html
    assert "Not enough ratings yet (shown from 5)" in html
    assert "No ratings yet" in html
    ranked = client.get("/en/providers/?sort=rating").context["cards"]
    assert ranked[0].provider == providers["remote"]


def test_many_providers_take_a_fixed_number_of_queries(
        client, programme, django_assert_max_num_queries) -> None:
    for index in range(60):
        provider = ProviderFactory(name=f"Provider {index:02d}", delivery_mode="both",
                                   languages=["sv", "ar"], regions=["national"])
        if index % 10 == 0:
            rate_many(provider, [4, 4, 5, 5, 3], programme)
    with django_assert_max_num_queries(4):  # languages, count, the page with its ratings
        response = client.get("/providers/?language=ar&region=Uppsala&delivery=remote")
    assert response.context["count"] == 60
    assert len(response.context["cards"]) == 24
    assert "page=2" in response.content.decode()
    second = client.get("/providers/?language=ar&page=3")
    assert len(second.context["cards"]) == 12


# --- A provider's page ---------------------------------------------------------------------


def test_a_provider_page_shows_the_profile_to_anyone(client, providers) -> None:
    provider = providers["remote"]
    html = client.get(f"/en/providers/{provider.pk}/").content.decode()
    assert f"<h1>{provider.name}</h1>" in html
    assert "Digital support in an app" in html
    assert 'class="facts"' in html and "https://alfa.example" in html
    assert "Read aloud (for people with a visual impairment)" in html
    assert "The whole country" in html
    assert "cannot say no to you" in html
    assert "Sign in to choose this provider" in html
    assert reverse("account_login") in html


def test_providers_that_are_not_authorized_have_no_public_page(client, providers) -> None:
    assert client.get(f"/providers/{providers['pending'].pk}/").status_code == 404
    assert client.get(f"/providers/{providers['suspended'].pk}/").status_code == 404
    assert client.get("/providers/999999/").status_code == 404


def test_ratings_on_the_provider_page_need_five(client, providers, programme) -> None:
    provider = providers["both"]
    rate_many(provider, [5, 4, 2, 5], programme)
    html = client.get(f"/en/providers/{provider.pk}/").content.decode()
    assert "The average is shown when at least 5 participants have rated" in html
    assert "So far 4 participants have rated it." in html
    assert "Betyg 5" not in html
    rate_many(provider, [1], programme)
    html = client.get(f"/en/providers/{provider.pk}/").content.decode()
    assert "3.4 out of 5 (5 ratings)" in html
    assert '<caption>How many gave each number of stars</caption>' in html
    assert '<th scope="row">5 stars</th><td class="number">2</td>' in html
    assert '<th scope="row">3 stars</th><td class="number">0</td>' in html
    assert "Betyg 2" in html


def test_an_included_candidate_sees_choose_with_the_switch_end_date(candidate, providers) -> None:
    client = signed_in(candidate)
    with clock.travel_to(TODAY):
        html = client.get(f"/en/providers/{providers['remote'].pk}/").content.decode()
    assert "Choose this provider" in html
    assert "you can switch to another provider until 3 February 2028" in html
    assert reverse("site:choose", args=[providers["remote"].pk]) in html


def test_a_person_still_on_the_way_in_is_sent_to_their_next_step(make_candidate,
                                                                 providers) -> None:
    waiting = make_candidate(hba1c=None)
    client = signed_in(waiting)
    with clock.travel_to(TODAY):
        html = client.get(f"/en/providers/{providers['remote'].pk}/").content.decode()
    assert "Continue where you left off" in html
    assert reverse("site:referral") in html
    assert reverse("site:choose", args=[providers["remote"].pk]) not in html


def test_an_enrolled_person_sees_switch_or_their_own_provider(enrolled, providers) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2027, 1, 10)):
        own = client.get(f"/en/providers/{providers['remote'].pk}/").content.decode()
        other = client.get(f"/en/providers/{providers['both'].pk}/").content.decode()
    assert "This is your provider." in own
    assert "You can switch to another provider until 3 February 2028." in own
    assert "Switch to this provider" in other
    assert "You can switch until 3 February 2028." in other


def test_after_the_window_the_page_says_when_it_closed_and_why(enrolled, providers) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2028, 2, 4)):
        html = client.get(f"/en/providers/{providers['both'].pk}/").content.decode()
    assert "The time for switching provider ended on 3 February 2028." in html
    assert "first 18 months only" in html
    assert reverse("site:choose", args=[providers["both"].pk]) not in html


def test_when_the_provider_lost_its_authorization_switching_stays_open(
        enrolled, providers) -> None:
    remote = providers["remote"]
    remote.authorization_status = AuthorizationStatus.REVOKED
    remote.save()
    client = signed_in(enrolled)
    with clock.travel_to(date(2028, 5, 1)):
        html = client.get(f"/en/providers/{providers['both'].pk}/").content.decode()
        own = client.get(f"/en/providers/{remote.pk}/")  # listed there: still visible
    assert "Your provider is no longer authorized, so you can choose another provider" in html
    assert "Switch to this provider" in html
    assert own.status_code == 200
    assert "not authorized at the moment" in own.content.decode()


# --- Choosing ------------------------------------------------------------------------------


def test_the_confirmation_page_says_the_provider_cannot_refuse(candidate, providers) -> None:
    client = signed_in(candidate)
    with clock.travel_to(TODAY):
        swedish = client.get(f"/providers/{providers['remote'].pk}/choose/")
        english = client.get(f"/en/providers/{providers['remote'].pk}/choose/")
    assert swedish.status_code == 200 and 'lang="sv"' in swedish.content.decode()
    html = english.content.decode()
    assert "You choose Alfa Digital to support you." in html
    assert "The provider cannot say no to you." in html
    assert "You can switch to another provider until 3 February 2028." in html
    assert "start today and end on 3 August 2028" in html
    assert f'action="/en/providers/{providers["remote"].pk}/choose/"' in html
    assert 'name="once"' in html


def test_choosing_enrolls_once_even_when_sent_twice(candidate, providers) -> None:
    client = signed_in(candidate)
    url = f"/en/providers/{providers['remote'].pk}/choose/"
    with clock.travel_to(TODAY):
        token = once(client, url)
        first = client.post(url, {"once": token})
        second = client.post(url, {"once": token})
        page = client.get(first["Location"])
    assert first.status_code == 302 and first["Location"] == "/en/me/"
    assert second.status_code == 302 and second["Location"] == "/en/me/"
    candidate.refresh_from_db()
    assert candidate.state == PrepatientState.ACTIVE
    assert candidate.current_provider == providers["remote"]
    assert candidate.enrolled_on == TODAY
    assert Listing.objects.filter(prepatient=candidate).count() == 1
    assert FormSubmission.objects.filter(token=token).count() == 1
    assert ("You are now listed with Alfa Digital. You can switch provider until "
            "3 February 2028.") in page.content.decode()


def test_a_refused_inclusion_is_explained_with_a_link_to_the_result(make_candidate,
                                                                    providers) -> None:
    high = make_candidate(hba1c=Decimal("50"))
    client = signed_in(high)
    url = f"/en/providers/{providers['remote'].pk}/choose/"
    with clock.travel_to(TODAY):
        page = client.get(url)
        response = client.post(url, {"once": "a" * 32})
    assert "may mean diabetes" in page.content.decode()
    assert f'action="{url}"' not in page.content.decode()
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="notice error" role="alert"' in html
    assert "may mean diabetes" in html
    assert reverse("site:result") in html  # /en/… (tests read URLs in English)
    high.refresh_from_db()
    assert not high.is_enrolled
    assert not FormSubmission.objects.filter(token="a" * 32).exists()  # freed for a retry


def test_choosing_a_provider_that_lost_authorization_meanwhile_is_refused(
        candidate, providers) -> None:
    client = signed_in(candidate)
    provider = providers["both"]
    url = f"/en/providers/{provider.pk}/choose/"
    with clock.travel_to(TODAY):
        token = once(client, url)
        provider.authorization_status = AuthorizationStatus.SUSPENDED
        provider.save()
        response = client.post(url, {"once": token})
    assert response.status_code == 200
    assert "not authorized at the moment" in response.content.decode()
    candidate.refresh_from_db()
    assert not candidate.is_enrolled


def test_the_choose_page_of_a_pending_provider_is_not_found(candidate, providers) -> None:
    client = signed_in(candidate)
    assert client.get(f"/providers/{providers['pending'].pk}/choose/").status_code == 404


def test_choose_needs_sign_in(client, providers) -> None:
    response = client.get(f"/providers/{providers['remote'].pk}/choose/")
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_switching_moves_the_listing_and_names_the_end_date(enrolled, providers) -> None:
    client = signed_in(enrolled)
    url = f"/en/providers/{providers['both'].pk}/choose/"
    with clock.travel_to(date(2027, 1, 10)):
        page = client.get(url)
        assert "Switch to Charlie Hälsa?" in page.content.decode()
        assert "your old provider no longer does" in page.content.decode()
        response = client.post(url, {"once": once(client, url)})
        mypage = client.get("/en/me/")
    assert response.status_code == 302
    enrolled.refresh_from_db()
    assert enrolled.current_provider == providers["both"]
    assert list(Listing.objects.filter(prepatient=enrolled).values_list("reason", flat=True)) \
        == ["initial", "switch"]
    assert ("You are now listed with Charlie Hälsa. You can switch provider until "
            "3 February 2028.") in mypage.content.decode()


@pytest.mark.parametrize(("day", "target", "message"), [
    (date(2028, 2, 4), "both", "Switching was possible until 2028-02-03"),
    (date(2027, 1, 10), "remote", "You are already listed with this provider."),
])
def test_refused_switches_are_explained(enrolled, providers, day, target, message) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(day):
        response = client.post(f"/en/providers/{providers[target].pk}/choose/",
                               {"once": "b" * 32})
    assert response.status_code == 200
    assert message in response.content.decode()
    enrolled.refresh_from_db()
    assert enrolled.current_provider == providers["remote"]


def test_a_second_switch_the_same_day_is_refused(enrolled, providers) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2027, 1, 10)):
        listing_switch(prepatient=enrolled, provider=providers["both"])
        response = client.post(f"/en/providers/{providers['on_site'].pk}/choose/",
                               {"once": "c" * 32})
    assert "You can switch again tomorrow" in response.content.decode()
    enrolled.refresh_from_db()
    assert enrolled.current_provider == providers["both"]


def test_staff_are_sent_to_the_back_office(caseworker_client, providers) -> None:
    response = caseworker_client.get(f"/providers/{providers['remote'].pk}/choose/")
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    page = caseworker_client.get(f"/en/providers/{providers['remote'].pk}/")
    assert "Staff accounts cannot choose a provider." in page.content.decode()


# --- Rating --------------------------------------------------------------------------------


def test_rating_opens_after_three_months_of_listing(enrolled, providers) -> None:
    client = signed_in(enrolled)
    url = f"/en/providers/{providers['remote'].pk}/rate/"
    with clock.travel_to(date(2026, 11, 2)):
        early = client.get(url)
        refused = client.post(url, {"stars": "4", "once": "d" * 32})
    assert "You can rate this provider from 3 November 2026" in early.content.decode()
    assert 'name="stars"' not in early.content.decode()
    assert "been with it for 3 months" in refused.content.decode()
    assert not ProviderRating.objects.exists()
    with clock.travel_to(date(2026, 11, 3)):
        page = client.get(url)
        assert 'type="radio" name="stars" value="5"' in page.content.decode()
        assert "5 stars – very good" in page.content.decode()
        response = client.post(url, {"stars": "4", "comment": "  Bra   stöd. ",
                                     "once": once(client, url)})
    assert response.status_code == 302
    rating = ProviderRating.objects.get()
    assert (rating.prepatient, rating.provider, rating.stars, rating.comment) == (
        enrolled, providers["remote"], 4, "Bra stöd.")


def test_the_rating_form_is_sent_to_its_own_address(enrolled, providers) -> None:
    """Like every form of the site it names its action, so a fragment in the page's
    address (#main, after the skip link) is not carried on after the redirect."""
    client = signed_in(enrolled)
    url = f"/en/providers/{providers['remote'].pk}/rate/"
    with clock.travel_to(date(2027, 1, 10)):
        html = client.get(url).content.decode()
    assert f'<form method="post" action="{url}" class="rating-form"' in html


def test_a_rating_can_be_changed_and_a_repeat_does_nothing_twice(enrolled, providers) -> None:
    client = signed_in(enrolled)
    url = f"/en/providers/{providers['remote'].pk}/rate/"
    with clock.travel_to(date(2027, 1, 10)):
        token = once(client, url)
        client.post(url, {"stars": "2", "once": token})
        client.post(url, {"stars": "5", "once": token})  # the same submission again
        assert ProviderRating.objects.get().stars == 2
        page = client.get(url)
        assert re.search(r'value="2"[^>]*checked', page.content.decode())
        client.post(url, {"stars": "5", "comment": "Bättre nu", "once": once(client, url)})
    rating = ProviderRating.objects.get()
    assert (rating.stars, rating.comment) == (5, "Bättre nu")


def test_rating_errors_keep_what_was_typed_and_name_the_field(enrolled, providers) -> None:
    client = signed_in(enrolled)
    url = f"/en/providers/{providers['remote'].pk}/rate/"
    with clock.travel_to(date(2027, 1, 10)):
        missing = client.post(url, {"comment": "Trevlig coach", "once": "e" * 32})
        number = client.post(url, {"stars": "3", "comment": "Ring 19700510-1234",
                                   "once": "f" * 32})
        too_long = client.post(url, {"stars": "3", "comment": "x" * 501, "once": "g" * 32})
    html = missing.content.decode()
    assert 'class="error-summary"' in html
    assert 'href="#id_stars">Your rating: Choose from 1 to 5 stars.' in html
    assert "Trevlig coach</textarea>" in html
    html = number.content.decode()
    assert "Comment (optional): Please do not write a personnummer" in html
    assert re.search(r'value="3"[^>]*checked', html)
    assert 'aria-invalid="true"' in html
    assert "at most 500 characters" in too_long.content.decode()
    assert not ProviderRating.objects.exists()


def test_no_one_rates_a_provider_they_were_not_listed_with(enrolled, providers,
                                                           make_candidate) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2027, 1, 10)):
        other = client.post(f"/en/providers/{providers['both'].pk}/rate/",
                            {"stars": "1", "once": "h" * 32})
        stranger = signed_in(make_candidate())
        refused = stranger.post(f"/en/providers/{providers['remote'].pk}/rate/",
                                {"stars": "1", "once": "i" * 32})
        hidden = client.get(f"/en/providers/{providers['pending'].pk}/rate/")
    assert "been with it for 3 months" in other.content.decode()
    assert "been with it for 3 months" in refused.content.decode()
    assert hidden.status_code == 404
    assert not ProviderRating.objects.exists()


def test_the_provider_page_offers_rating_to_someone_who_may(enrolled, providers) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2027, 1, 10)):
        html = client.get(f"/en/providers/{providers['remote'].pk}/").content.decode()
    assert "Rate this provider" in html
    assert reverse("site:rate", args=[providers["remote"].pk]) in html


def test_the_provider_and_rating_pages_are_swedish_by_default(enrolled, providers) -> None:
    client = signed_in(enrolled)
    with clock.travel_to(date(2027, 1, 10)):
        for url in (f"/providers/{providers['both'].pk}/",
                    f"/providers/{providers['both'].pk}/choose/",
                    f"/providers/{providers['remote'].pk}/rate/"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert '<html lang="sv">' in response.content.decode(), url


def test_the_demo_marketplace_shows_the_demo_profiles(demo, client) -> None:
    html = client.get("/en/providers/").content.decode()
    assert "Hälsocoachen Järva AB" in html and "Nystart Hälsa AB" not in html
    assert "3 providers match." in html
