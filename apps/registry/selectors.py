"""The registry's readers: prepatients, their screenings, referrals, samples and
listings, and the ratings of providers (who may rate, and the summaries shown).

Nothing here writes; the writers are in ``services.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Avg, Count, Prefetch, QuerySet

from apps.core import clock
from apps.core.crypto import lookup_hash
from apps.programs.models import Programme
from apps.programs.selectors import programme_ids, programme_terms
from apps.providers.models import Provider
from apps.registry.identity import Personnummer
from apps.registry.models import (
    InclusionSample,
    LifecycleEvent,
    LifecycleEventType,
    Listing,
    Prepatient,
    PrepatientState,
    ProviderRating,
    QuestionnaireResponse,
    ReferralCode,
    SampleSource,
    Screening,
)
from prevention_engine import criteria
from prevention_engine.dates import add_months, switch_allowed, switch_window_end
from prevention_engine.definition import ProgrammeDefinition

# --- Prepatients ----------------------------------------------------------------------


def prepatients_by_pseudonym(pseudonyms: Iterable[str]) -> list[Prepatient]:
    """The prepatients with these programme IDs (unknown ones are left out)."""
    return list(Prepatient.objects.filter(pseudonym__in=pseudonyms))


def filter_by_personnummer(queryset: QuerySet[Prepatient],
                           parsed: Personnummer) -> QuerySet[Prepatient]:
    """Exact lookup through the keyed hash.

    The hash is indexed together with the programme (``prepatient_one_per_person``),
    so the few programme ids are named too: that lets the database use the index.
    """
    return queryset.filter(programme_id__in=programme_ids(),
                           personnummer_hash=lookup_hash(parsed.digits))


def pseudonyms_with_personnummer(queryset: QuerySet[Prepatient],
                                 parsed: Personnummer) -> list[str]:
    """The programme IDs of the prepatients in ``queryset`` with this personnummer,
    the oldest record first."""
    return list(filter_by_personnummer(queryset, parsed)
                .order_by("pk").values_list("pseudonym", flat=True))


def prepatient_existing(*, programme: Programme, user: Any) -> Prepatient | None:
    """The account's record in the programme, if there is one (never made here)."""
    return (Prepatient.objects.select_related("programme", "current_provider")
            .filter(programme=programme, user=user).first())


def prepatient_detail(*, prepatient: Prepatient) -> Prepatient:
    """The person's record again, with the programme, provider and starting sample."""
    return (Prepatient.objects.select_related("programme", "current_provider", "baseline_sample")
            .get(pk=prepatient.pk))


def prepatient_with_listings(*, prepatient: Prepatient) -> Prepatient:
    """The person's record again, as ``prepatient_detail``, with the listings and
    their providers prefetched, the newest first (two queries)."""
    return (Prepatient.objects
            .select_related("programme", "programme_version", "current_provider",
                            "baseline_sample")
            .prefetch_related(Prefetch(
                "listings", queryset=Listing.objects.select_related("provider")
                .order_by("-valid_from", "-pk")))
            .get(pk=prepatient.pk))


def prepatient_listed_with(*, prepatient: Prepatient, provider: Provider) -> bool:
    """Whether the person has ever been listed with the provider."""
    return Listing.objects.filter(prepatient=prepatient, provider=provider).exists()


def leaving_event(*, prepatient: Prepatient) -> LifecycleEvent | None:
    """Why an excluded person left (an exclusion or the withdrawal of consent)."""
    if prepatient.state != PrepatientState.EXCLUDED:
        return None
    return (LifecycleEvent.objects.filter(
        prepatient=prepatient,
        type__in=[LifecycleEventType.EXCLUDED, LifecycleEventType.CONSENT_WITHDRAWN])
        .order_by("-created_at", "-pk").first())


def switch_possible(*, prepatient: Prepatient, today: date | None = None) -> bool:
    """An active person who may switch provider today (``services.listing_switch``
    allows it): within the window, or at any time once their provider lost its
    authorization."""
    if prepatient.state != PrepatientState.ACTIVE or prepatient.enrolled_on is None:
        return False
    current = prepatient.current_provider
    return switch_allowed(
        enrolled_on=prepatient.enrolled_on, switch_months=prepatient.programme.switch_months,
        today=today or clock.today(),
        provider_lost_authorization=current is not None and not current.is_authorized)


def switch_window_end_of(*, prepatient: Prepatient) -> date | None:
    """The last day of the person's window for switching provider (the programme's
    ``switch_months`` from enrollment); None before enrollment."""
    if prepatient.enrolled_on is None:
        return None
    return switch_window_end(prepatient.enrolled_on, prepatient.programme.switch_months)


# --- Screening and referral -------------------------------------------------------------


def screening_latest(*, prepatient: Prepatient) -> Screening | None:
    return (Screening.objects.filter(prepatient=prepatient)
            .order_by("-submitted_at", "-pk").first())


def prepatient_screened(*, prepatient: Prepatient) -> bool:
    return Screening.objects.filter(prepatient=prepatient).exists()


def prepatient_referred(*, prepatient: Prepatient, screening: Screening | None = None) -> bool:
    """Whether the person's answers (as of ``screening``, else their latest) earned the
    next step: the current definition's referral checks hold on the scores of their
    questionnaire responses. A programme with no referral checks needs no screening."""
    terms = programme_terms(prepatient.programme)
    moment = screening.submitted_at if screening is not None else None
    return referral_earned(terms, scores_at(prepatient, moment))


def scores_at(prepatient: Prepatient, moment: Any = None) -> dict[str, int]:
    """The latest score of each questionnaire the person had answered by ``moment``
    (by now without one)."""
    responses = QuestionnaireResponse.objects.filter(prepatient=prepatient)
    if moment is not None:
        responses = responses.filter(submitted_at__lte=moment)
    return dict(responses.order_by("submitted_at", "pk")
                .values_list("questionnaire__code", "score"))


def referral_earned(terms: ProgrammeDefinition, scores: dict[str, int]) -> bool:
    """The definition's referral checks on these scores: the next step (a blood test,
    a measurement) is earned when none refuses."""
    return criteria.decide(terms.referral, criteria.Facts(scores=scores)).included


def referral_latest(*, prepatient: Prepatient) -> ReferralCode | None:
    return (ReferralCode.objects.filter(prepatient=prepatient)
            .order_by("-issued_at", "-pk").first())


def referral_is_active(referral: ReferralCode | None) -> bool:
    """Not used and not expired: a laboratory may still send a result against it."""
    return (referral is not None and referral.used_at is None
            and referral.expires_at > clock.now())


# --- Inclusion samples -----------------------------------------------------------------


def inclusion_sample_from_lab(*, referral: ReferralCode, lab_reference: str, measure: str,
                              value: Decimal, taken_on: date) -> InclusionSample | None:
    """A laboratory's inclusion sample stored before against the ``referral`` with the
    same sample ID, measure, value and date (the same result sent again), or None; a
    code is used once, so by its key there is at most one."""
    return next(iter(InclusionSample.objects.filter(
        referral=referral, source=SampleSource.LAB, lab_reference=lab_reference,
        measure=measure, value=value, taken_on=taken_on)[:1]), None)


def inclusion_sample_of(*, prepatient: Prepatient, pk: int) -> InclusionSample | None:
    """One of the prepatient's samples by its id (None when it is someone else's)."""
    return InclusionSample.objects.filter(pk=pk, prepatient=prepatient).first()


def _unverified_self_reports(prepatient: Prepatient) -> QuerySet[InclusionSample]:
    return InclusionSample.objects.filter(prepatient=prepatient, source=SampleSource.SELF,
                                          verified_at=None)


def inclusion_samples_awaiting_verification(*, prepatient: Prepatient) -> list[InclusionSample]:
    """The person's own reported values that staff have not checked yet, oldest first."""
    return list(_unverified_self_reports(prepatient).order_by("taken_on", "pk"))


def inclusion_sample_pending_self(*, prepatient: Prepatient) -> InclusionSample | None:
    """The person's own reported value that staff have not checked yet (the newest)."""
    return _unverified_self_reports(prepatient).order_by("-taken_on", "-pk").first()


# --- Ratings of providers (SPEC §3.6: "by quality, rating and filters") ------------------
#
# A person may rate a provider once they have been listed with it for
# ``RATING_AFTER_MONTHS`` months in one stretch (a first impression is not a
# rating); the stretch counts until the next listing, or until the person left
# the programme. One rating per person and provider: giving it again changes it
# (``services.rating_give``). Summaries (average and distribution) are shown only
# from ``RATINGS_SHOWN_FROM`` ratings, so that a single person's view is never
# shown as "the" rating and no rating can be traced to one person.

RATING_AFTER_MONTHS = 3
RATINGS_SHOWN_FROM = 5
STARS = (1, 2, 3, 4, 5)
# States in which a person may rate: everyone who was enrolled, except the deceased.
RATING_STATES = (PrepatientState.ACTIVE, PrepatientState.COMPLETED,
                 PrepatientState.DROPPED_OUT, PrepatientState.EXCLUDED)
# The events that end a person's time with their provider.
_LEAVING_EVENTS = (LifecycleEventType.COMPLETED, LifecycleEventType.DROPPED_OUT,
                   LifecycleEventType.EXCLUDED, LifecycleEventType.CONSENT_WITHDRAWN,
                   LifecycleEventType.DECEASED)


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


def rating_given(*, prepatient: Prepatient, provider: Provider) -> ProviderRating | None:
    """The person's own rating of the provider, if they gave one."""
    return ProviderRating.objects.filter(prepatient=prepatient, provider=provider).first()


def ratings_given(*, prepatient: Prepatient) -> dict[int, ProviderRating]:
    """The person's own ratings, by provider id (one query)."""
    return {rating.provider_id: rating
            for rating in ProviderRating.objects.filter(prepatient=prepatient)}


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


def questionnaire_responses_fhir(prepatient: Prepatient) -> dict[str, Any]:
    """The person's questionnaire responses, newest first, as a FHIR R4 ``Bundle`` of
    ``QuestionnaireResponse`` resources (two queries)."""
    responses = (QuestionnaireResponse.objects.filter(prepatient=prepatient)
                 .select_related("questionnaire", "prepatient")
                 .order_by("-submitted_at", "-pk"))
    entries = [{"resource": questionnaire_response_fhir(response)} for response in responses]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
            "entry": entries}


def questionnaire_response_fhir(response: QuestionnaireResponse) -> dict[str, Any]:
    """A response as a FHIR R4 ``QuestionnaireResponse``: the person by their programme
    ID only, the questionnaire by its code and version, each answer a coding (a choice)
    or a decimal (a quantity), and the score as an extension."""
    definition = response.questionnaire.definition
    kinds = {item["link_id"]: item["kind"] for item in definition.get("items", [])}
    items = []
    for link_id, answer in response.answers.items():
        value: dict[str, Any] = (
            {"valueCoding": {"code": answer}} if kinds.get(link_id) == "choice"
            else {"valueDecimal": float(Decimal(answer))})
        items.append({"linkId": link_id, "answer": [value]})
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"response-{response.pk}",
        "questionnaire": (f"urn:prevention:questionnaire:{response.questionnaire.code}"
                          f"|{response.questionnaire.version}"),
        "status": "completed",
        "subject": {"identifier": {"system": "urn:prevention:programme-id",
                                   "value": response.prepatient.pseudonym}},
        "authored": response.submitted_at.isoformat(),
        "extension": [{"url": "urn:prevention:questionnaire-score",
                       "valueInteger": response.score}],
        "item": items,
    }
