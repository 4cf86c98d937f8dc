"""Prepatients' ratings of providers (SPEC §3.6: "by quality, rating and filters").

A person may rate a provider once they have been listed with it for
``RATING_AFTER_MONTHS`` months in one stretch (a first impression is not a
rating); the stretch counts until the next listing, or until the person left
the programme. One rating per person and provider: giving it again changes it.
Summaries (average and distribution) are shown only from ``RATINGS_SHOWN_FROM``
ratings, so that a single person's view is never shown as "the" rating and no
rating can be traced to one person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, QuerySet
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.errors import Conflict, InvalidInput
from apps.core.logging import PERSONNUMMER_LIKE
from apps.providers.models import Provider
from apps.registry.models import (
    LifecycleEvent,
    LifecycleEventType,
    Listing,
    Prepatient,
    PrepatientState,
    ProviderRating,
)
from prevention_engine.dates import add_months

RATING_AFTER_MONTHS = 3
RATINGS_SHOWN_FROM = 5
COMMENT_MAX_LENGTH = 500
STARS = (1, 2, 3, 4, 5)
# States in which a person may rate: everyone who was enrolled, except the deceased.
RATING_STATES = (PrepatientState.ACTIVE, PrepatientState.COMPLETED,
                 PrepatientState.DROPPED_OUT, PrepatientState.EXCLUDED)
# The events that end a person's time with their provider.
_LEAVING_EVENTS = (LifecycleEventType.COMPLETED, LifecycleEventType.DROPPED_OUT,
                   LifecycleEventType.EXCLUDED, LifecycleEventType.CONSENT_WITHDRAWN,
                   LifecycleEventType.DECEASED)


class RatingNotAllowed(Conflict):
    code = "rating_not_allowed"
    default_message = _("You cannot rate this provider.")


@dataclass(frozen=True)
class Stretch:
    """A continuous time listed with one provider: [start, end)."""

    provider_id: int
    start: date
    end: date  # the next listing's first day, the day the person left, or today
    ongoing: bool  # the current listing of an active person


def _left_on(prepatient: Prepatient) -> date | None:
    """The day the person's time in the programme ended (None while active)."""
    if prepatient.state == PrepatientState.ACTIVE:
        return None
    event = (LifecycleEvent.objects.filter(prepatient=prepatient, type__in=_LEAVING_EVENTS)
             .order_by("-on", "-created_at", "-pk").first())
    return event.on if event else None


def stretches(prepatient: Prepatient, *, today: date | None = None) -> list[Stretch]:
    """The person's listings as stretches of time, oldest first."""
    today = today or clock.today()
    end = min(today, _left_on(prepatient) or today)
    rows = list(Listing.objects.filter(prepatient=prepatient)
                .order_by("valid_from", "pk").values_list("provider_id", "valid_from"))
    result = []
    active = prepatient.state == PrepatientState.ACTIVE
    for index, (provider_id, valid_from) in enumerate(rows):
        last = index + 1 == len(rows)
        until = end if last else rows[index + 1][1]
        result.append(Stretch(provider_id=provider_id, start=valid_from,
                              end=max(valid_from, min(until, end)), ongoing=last and active))
    return result


def _opens_on(listed: list[Stretch], provider_id: int) -> date | None:
    best: date | None = None
    for stretch in listed:
        if stretch.provider_id != provider_id:
            continue
        opens = add_months(stretch.start, RATING_AFTER_MONTHS)
        if (opens <= stretch.end or stretch.ongoing) and (best is None or opens < best):
            best = opens
    return best


def rating_opens_on(prepatient: Prepatient, provider: Provider | int, *,
                    today: date | None = None) -> date | None:
    """The first day the person may rate the provider (possibly in the future), or
    None when it never will (never listed there, or the stretch ended too soon)."""
    if prepatient.state not in RATING_STATES:
        return None
    provider_id = provider if isinstance(provider, int) else provider.pk
    return _opens_on(stretches(prepatient, today=today), provider_id)


def may_rate(prepatient: Prepatient, provider: Provider | int, *,
             today: date | None = None) -> bool:
    """Listed with the provider long enough, enrolled, with valid consent."""
    today = today or clock.today()
    if not prepatient.consent_valid:
        return False
    opens = rating_opens_on(prepatient, provider, today=today)
    return opens is not None and opens <= today


def rateable_providers(prepatient: Prepatient, *,
                       today: date | None = None) -> list[tuple[int, date]]:
    """(provider id, first day to rate) for every provider the person was listed with
    and may rate now or later, in the order they were first listed."""
    if prepatient.state not in RATING_STATES:
        return []
    listed = stretches(prepatient, today=today)
    found: dict[int, date] = {}
    for stretch in listed:
        if stretch.provider_id not in found:
            opens = _opens_on(listed, stretch.provider_id)
            if opens is not None:
                found[stretch.provider_id] = opens
    return list(found.items())


def _clean(stars: int | str, comment: str) -> tuple[int, str]:
    errors: dict[str, Any] = {}
    try:
        value = int(stars)
    except (TypeError, ValueError):
        value = 0
    if value not in STARS:
        errors["stars"] = _("Choose from 1 to 5 stars.")
    comment = " ".join((comment or "").split())
    if len(comment) > COMMENT_MAX_LENGTH:
        errors["comment"] = _("Please keep the comment to %(max)d characters.") % {
            "max": COMMENT_MAX_LENGTH}
    elif PERSONNUMMER_LIKE.search(comment):
        errors["comment"] = _("Please do not write a personnummer or phone number in the "
                               "comment.")
    if errors:
        raise InvalidInput(fields=errors)
    return value, comment


def rating_give(*, prepatient: Prepatient, provider: Provider, stars: int | str,
                comment: str = "") -> ProviderRating:
    """Gives or changes the person's rating of the provider."""
    value, comment = _clean(stars, comment)
    with transaction.atomic():
        prepatient = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
        if not may_rate(prepatient, provider):
            raise RatingNotAllowed(format_lazy(
                _("You can rate a provider when you have been with it for {months} "
                  "months."), months=RATING_AFTER_MONTHS))
        now = clock.now()
        try:
            with transaction.atomic():
                rating, created = ProviderRating.objects.get_or_create(
                    prepatient=prepatient, provider=provider,
                    defaults={"stars": value, "comment": comment, "created_at": now,
                              "updated_at": now})
        except IntegrityError:  # the same person rating twice at once: the other won
            rating, created = ProviderRating.objects.get(prepatient=prepatient,
                                                         provider=provider), False
        if not created:
            fields = ["stars", "comment", "updated_at"]
            if comment != rating.comment and rating.comment_hidden_at is not None:
                # A new text is a new comment: shown until a caseworker hides it again.
                rating.comment_hidden_at, rating.comment_hidden_by = None, None
                rating.comment_hidden_reason = ""
                fields += ["comment_hidden_at", "comment_hidden_by", "comment_hidden_reason"]
            rating.stars, rating.comment, rating.updated_at = value, comment, now
            rating.save(update_fields=fields)
    return rating


def rating_hide_comment(*, rating: ProviderRating, reason: str, caseworker: Any) -> ProviderRating:
    """Hides an unsuitable comment from the marketplace; the stars still count."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(fields={"reason": _("Say why the comment is hidden.")})
    with transaction.atomic():
        rating = ProviderRating.objects.select_for_update().get(pk=rating.pk)
        rating.comment_hidden_at = clock.now()
        rating.comment_hidden_by = caseworker
        rating.comment_hidden_reason = reason[:300]
        rating.save(update_fields=["comment_hidden_at", "comment_hidden_by",
                                   "comment_hidden_reason"])
    return rating


# --- Summaries ----------------------------------------------------------------------


def _one_decimal(value: float | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RatingSummary:
    count: int
    average: Decimal | None  # one decimal; None until RATINGS_SHOWN_FROM ratings
    distribution: list[tuple[int, int]] = field(default_factory=list)  # (stars, count), 5 → 1

    @property
    def shown(self) -> bool:
        return self.count >= RATINGS_SHOWN_FROM

    @property
    def needed(self) -> int:
        return RATINGS_SHOWN_FROM


def with_rating_summary(queryset: QuerySet[Provider]) -> QuerySet[Provider]:
    """Adds ``rating_count`` and ``rating_average`` to each provider, in SQL."""
    return queryset.annotate(rating_count=Count("ratings"),
                             rating_average=Avg("ratings__stars"))


def summary_of(provider: Provider) -> RatingSummary:
    """From the annotations of ``with_rating_summary`` (no query)."""
    count = int(getattr(provider, "rating_count", 0) or 0)
    average = _one_decimal(getattr(provider, "rating_average", None))
    return RatingSummary(count=count, average=average if count >= RATINGS_SHOWN_FROM else None)


def rating_summary(provider: Provider) -> RatingSummary:
    """Count, average and the distribution of stars for one provider (one query)."""
    counts = dict(ProviderRating.objects.filter(provider=provider).order_by()
                  .values_list("stars").annotate(n=Count("pk")).values_list("stars", "n"))
    count = sum(counts.values())
    if count < RATINGS_SHOWN_FROM:
        return RatingSummary(count=count, average=None)
    average = _one_decimal(Decimal(sum(stars * n for stars, n in counts.items())) / count)
    return RatingSummary(count=count, average=average,
                         distribution=[(stars, counts.get(stars, 0)) for stars in reversed(STARS)])


def recent_comments(provider: Provider, *, limit: int = 10) -> list[ProviderRating]:
    """The newest comments, without who wrote them; only once ratings are shown."""
    return list(ProviderRating.objects.filter(provider=provider, comment_hidden_at=None)
                .exclude(comment="")
                .order_by("-updated_at", "-pk").only("stars", "comment", "updated_at")[:limit])
