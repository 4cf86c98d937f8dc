"""Who may rate a provider, and how ratings are kept and summarised: the readers in
``apps.registry.selectors``, the writers in ``apps.registry.services``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.consent.models import ConsentKind
from apps.consent.services import consent_withdraw
from apps.core import clock
from apps.core.errors import InvalidInput
from apps.providers.models import Provider
from apps.registry import selectors, services
from apps.registry.errors import RatingNotAllowed
from apps.registry.models import Prepatient, ProviderRating
from apps.registry.services import lifecycle_drop_out, listing_switch, prepatient_enroll
from tests.factories import UserFactory
from tests.providers.factories import ProviderFactory

pytestmark = pytest.mark.django_db

ENROLLED = date(2026, 8, 3)


@pytest.fixture
def first():
    return ProviderFactory(name="First")


@pytest.fixture
def second():
    return ProviderFactory(name="Second")


@pytest.fixture
def enrolled(make_candidate, first):
    with clock.travel_to(ENROLLED):
        return prepatient_enroll(prepatient=make_candidate(), provider=first)


def test_rating_opens_three_months_after_the_listing(enrolled, first) -> None:
    assert selectors.RATING_AFTER_MONTHS == 3
    assert selectors.rating_opens_on(enrolled, first, today=date(2026, 9, 1)) == date(2026, 11, 3)
    assert not selectors.may_rate(enrolled, first, today=date(2026, 11, 2))
    assert selectors.may_rate(enrolled, first, today=date(2026, 11, 3))


def test_a_short_stay_with_a_provider_never_opens_rating(enrolled, first, second) -> None:
    with clock.travel_to(date(2026, 10, 1)):
        listing_switch(prepatient=enrolled, provider=second)
    assert selectors.rating_opens_on(enrolled, first, today=date(2027, 6, 1)) is None
    assert not selectors.may_rate(enrolled, first, today=date(2027, 6, 1))
    assert selectors.rating_opens_on(enrolled, second, today=date(2027, 6, 1)) == date(2027, 1, 1)
    assert selectors.rateable_providers(enrolled, today=date(2027, 6, 1)) == [
        (second.pk, date(2027, 1, 1))]


def test_a_former_provider_may_be_rated_after_a_long_enough_stay(enrolled, first,
                                                                 second) -> None:
    with clock.travel_to(date(2026, 12, 1)):
        listing_switch(prepatient=enrolled, provider=second)
    assert selectors.may_rate(enrolled, first, today=date(2026, 12, 2))
    assert not selectors.may_rate(enrolled, second, today=date(2026, 12, 2))
    assert selectors.rateable_providers(enrolled, today=date(2026, 12, 2)) == [
        (first.pk, date(2026, 11, 3)), (second.pk, date(2027, 3, 1))]


def test_leaving_the_programme_stops_the_clock(enrolled, first) -> None:
    with clock.travel_to(date(2026, 10, 1)):
        lifecycle_drop_out(prepatient=enrolled)
    enrolled.refresh_from_db()
    assert selectors.rating_opens_on(enrolled, first, today=date(2027, 1, 1)) is None
    assert selectors.rateable_providers(enrolled, today=date(2027, 1, 1)) == []


def test_someone_who_left_after_three_months_may_still_rate(enrolled, first) -> None:
    with clock.travel_to(date(2026, 12, 1)):
        lifecycle_drop_out(prepatient=enrolled)
    enrolled.refresh_from_db()
    assert selectors.may_rate(enrolled, first, today=date(2027, 1, 1))


def test_without_valid_consent_no_rating(enrolled, first) -> None:
    with clock.travel_to(date(2026, 12, 1)):
        consent_withdraw(prepatient=enrolled, kind=ConsentKind.DATA_SHARING)
        enrolled.refresh_from_db()
        assert not selectors.may_rate(enrolled, first)
        with pytest.raises(RatingNotAllowed):
            services.rating_give(prepatient=enrolled, provider=first, stars=5)


def test_a_candidate_never_rates(make_candidate, first) -> None:
    candidate = make_candidate()
    assert selectors.rating_opens_on(candidate, first) is None
    assert selectors.rateable_providers(candidate) == []


def test_giving_again_changes_the_one_rating(enrolled, first) -> None:
    with clock.travel_to(date(2026, 12, 1)):
        created = services.rating_give(prepatient=enrolled, provider=first, stars=3,
                                      comment="  Okej  ")
    with clock.travel_to(date(2027, 2, 1)):
        changed = services.rating_give(prepatient=enrolled, provider=first, stars="5")
    assert changed.pk == created.pk
    rating = ProviderRating.objects.get()
    assert (rating.stars, rating.comment) == (5, "")
    assert rating.created_at.date() == date(2026, 12, 1)
    assert rating.updated_at.date() == date(2027, 2, 1)


@pytest.mark.parametrize(("stars", "comment", "field"), [
    (0, "", "stars"), (6, "", "stars"), ("fem", "", "stars"),
    (3, "x" * 501, "comment"),
    (3, "Mitt nummer 700510-1234", "comment"),
    (3, "Ring 0701234567", "comment"),
])
def test_invalid_ratings_name_the_field(enrolled, first, stars, comment, field) -> None:
    with clock.travel_to(date(2026, 12, 1)), pytest.raises(InvalidInput) as refused:
        services.rating_give(prepatient=enrolled, provider=first, stars=stars, comment=comment)
    assert set(refused.value.fields) == {field}
    assert not ProviderRating.objects.exists()


def test_the_database_keeps_one_rating_per_person_and_provider(enrolled, first) -> None:
    ProviderRating.objects.create(prepatient=enrolled, provider=first, stars=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderRating.objects.create(prepatient=enrolled, provider=first, stars=2)


@pytest.mark.parametrize("stars", [0, 6])
def test_the_database_keeps_stars_from_one_to_five(enrolled, first, stars) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderRating.objects.create(prepatient=enrolled, provider=first, stars=stars)


def _rate(provider: Provider, values: list[int], programme) -> None:
    for value in values:
        person = Prepatient.objects.create(programme=programme, user=UserFactory())
        ProviderRating.objects.create(prepatient=person, provider=provider, stars=value)


def test_summaries_show_from_five_ratings(first, programme) -> None:
    _rate(first, [5, 4, 4, 5], programme)
    summary = selectors.rating_summary(first)
    assert (summary.count, summary.average, summary.shown) == (4, None, False)
    _rate(first, [3], programme)
    summary = selectors.rating_summary(first)
    assert (summary.count, summary.average, summary.shown) == (5, Decimal("4.2"), True)
    assert summary.distribution == [(5, 2), (4, 2), (3, 1), (2, 0), (1, 0)]


def test_the_list_summary_is_aggregated_in_sql(first, second, programme,
                                               django_assert_num_queries) -> None:
    _rate(first, [5, 5, 4, 4, 4, 4], programme)  # 4.33… → 4.3
    _rate(second, [1, 2], programme)
    with django_assert_num_queries(1):
        rows = {p.pk: selectors.summary_of(p) for p in selectors.with_rating_summary(
            Provider.objects.filter(pk__in=[first.pk, second.pk]))}
    assert (rows[first.pk].count, rows[first.pk].average) == (6, Decimal("4.3"))
    assert (rows[second.pk].count, rows[second.pk].average) == (2, None)


def test_averages_round_half_up(first, programme) -> None:
    _rate(first, [5, 5, 5, 4, 4, 4, 4, 4], programme)  # 4.375 → 4.4
    assert selectors.rating_summary(first).average == Decimal("4.4")


# --- Moderation ---------------------------------------------------------------------


def _commented(enrolled, first) -> ProviderRating:
    with clock.travel_to(date(2026, 11, 10)):
        return services.rating_give(prepatient=enrolled, provider=first, stars=2,
                                   comment="Rude words about a coach by name")


def test_a_caseworker_hides_a_comment_with_a_reason_and_the_stars_still_count(
        enrolled, first) -> None:
    rating = _commented(enrolled, first)
    caseworker = UserFactory(is_staff=True)
    with pytest.raises(InvalidInput) as missing:
        services.rating_hide_comment(rating=rating, reason="  ", caseworker=caseworker)
    assert "reason" in missing.value.fields
    services.rating_hide_comment(rating=rating, reason="Names a member of staff.",
                                caseworker=caseworker)
    rating.refresh_from_db()
    assert rating.comment_hidden_reason == "Names a member of staff."
    assert rating.comment_hidden_by == caseworker
    assert selectors.recent_comments(first) == []
    assert ProviderRating.objects.filter(provider=first, stars=2).count() == 1


def test_a_new_text_from_the_person_is_shown_until_hidden_again(enrolled, first) -> None:
    rating = _commented(enrolled, first)
    services.rating_hide_comment(rating=rating, reason="Names a member of staff.",
                                caseworker=UserFactory(is_staff=True))
    with clock.travel_to(date(2026, 11, 20)):
        services.rating_give(prepatient=enrolled, provider=first, stars=3,
                            comment="Better now, good walking group")
    rating.refresh_from_db()
    assert rating.comment_hidden_at is None and rating.comment_hidden_reason == ""
    assert [item.comment for item in selectors.recent_comments(first)] == [
        "Better now, good walking group"]


def test_the_database_refuses_a_hidden_comment_without_a_reason(enrolled, first) -> None:
    rating = _commented(enrolled, first)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderRating.objects.filter(pk=rating.pk).update(comment_hidden_at=clock.now())


def test_the_back_office_hides_a_comment_on_its_own_page(enrolled, first,
                                                         caseworker_client) -> None:
    rating = _commented(enrolled, first)
    url = f"/admin/registry/providerrating/{rating.pk}/hide/"
    page = caseworker_client.get(url)
    assert page.status_code == 200
    assert b"Rude words" in page.content
    refused = caseworker_client.post(url, {"reason": ""})
    assert refused.status_code == 200
    assert b"errorlist" in refused.content
    done = caseworker_client.post(url, {"reason": "Names a member of staff."})
    assert done.status_code == 302
    rating.refresh_from_db()
    assert rating.comment_hidden_at is not None
    listing = caseworker_client.get("/admin/registry/providerrating/")
    assert listing.status_code == 200
    assert b"<s>Rude words" in listing.content
