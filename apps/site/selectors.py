"""The prepatient site's readers: what its pages show, read in as few queries as they can.

Every reader here starts from the signed-in person's own record (or from public
data: the programme, authorized providers); none takes a person's id from the
URL. What belongs to one lower app is read by that app's selectors (registry,
consent, providers, measurements); these compose them into what a page shows.
Views call these and render; the words a page uses stay in the views.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from django.db.models import Case, F, QuerySet, When

from apps.consent.models import ConsentEvent, ConsentKind, ConsentText
from apps.consent.selectors import consent_events, consent_text_current, consent_withdrawn_on
from apps.core import clock
from apps.measurements.selectors import (
    SeriesPoint,
    followup_dues_of,
    followup_status,
    measurement_type_names,
    measurements_of,
    outcome_series,
    safety_notices_of,
)
from apps.programs.models import Programme
from apps.programs.selectors import (
    earliest_programme,
    programme_terms,
    programmes_with_a_published_version,
    version_terms,
)
from apps.providers.models import CoachType, DeliveryMode, Provider
from apps.providers.selectors import profile_list_has, provider_get, providers_authorized
from apps.providers.validators import NATIONAL
from apps.registry.models import (
    LifecycleEvent,
    Listing,
    Prepatient,
    PrepatientState,
    ProviderRating,
)
from apps.registry.rules import priority_notice
from apps.registry.selectors import (
    RATINGS_SHOWN_FROM,
    leaving_event,
    prepatient_detail,
    prepatient_listed_with,
    prepatient_referred,
    prepatient_with_listings,
    rateable_providers,
    ratings_given,
    screening_latest,
    switch_possible,
    with_rating_summary,
)
from apps.registry.services import deciding_sample, inclusion_decide
from apps.site.forms_marketplace import Coach, Delivery
from apps.site.models import FormSubmission, QuestionnaireDraft
from apps.site.words import goal_words
from prevention_engine import criteria, followup
from prevention_engine import questionnaire as questionnaire_rules
from prevention_engine.dates import age_on, switch_window_end, switch_window_open
from prevention_engine.definition import ProgrammeDefinition
from prevention_engine.inclusion import recruitment_phase
from prevention_engine.model import Criterion

READ_ALOUD = "read_aloud"

# --- The programme and the way in --------------------------------------------------------


def programme_current() -> Programme | None:
    """The programme the site recruits to by default: the earliest open to join, else
    the earliest."""
    open_now = programmes_open()
    return open_now[0] if open_now else earliest_programme()


def score_meanings(prepatient: Prepatient, language: str) -> list[tuple[str, int, str]]:
    """Each screening questionnaire the person answered: its title, their latest score
    and what the score means (the questionnaire's own bands), in ``language``."""
    meanings = []
    latest = {response.questionnaire_id: response for response in
              prepatient.questionnaire_responses.select_related("questionnaire")
              .order_by("submitted_at", "pk")}
    for response in latest.values():
        parsed = questionnaire_rules.parse(response.questionnaire.definition)
        band = next((band for band in parsed.score_bands if band.code == response.band), None)
        meaning = band.meaning.get(language, band.meaning["sv"]) if band else ""
        meanings.append((parsed.title.get(language, parsed.title["sv"]), response.score,
                         meaning))
    return meanings


def programmes_open(today: Any = None) -> list[Programme]:
    """The programmes a person may join now or later: a published version, recruitment
    not closed; the earliest first."""
    today = today or clock.today()
    return [programme for programme in programmes_with_a_published_version()
            if recruitment_phase(programme, today) != "closed"]


def programme_open(code: str) -> Programme | None:
    return next((programme for programme in programmes_open() if programme.code == code),
                None)


@dataclass(frozen=True)
class ProgrammeCard:
    programme: Programme
    name: str
    description: str
    phase: str
    opens_on: Any
    months: int
    fits_age: bool | None = None  # by its inclusion's age limits; None: age not known


def known_birth_date(user: Any) -> date | None:
    """The birth date the person's personnummer gave, in any programme (None for a
    visitor or before the personnummer)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (Prepatient.objects.filter(user=user, birth_date__isnull=False)
            .values_list("birth_date", flat=True).first())


def programme_cards(language: str, birth_date: date | None = None) -> list[ProgrammeCard]:
    """What the site says about each open programme, in ``language``: the definition's
    own name and description, and, where the person's age is known, whether its age
    limits admit them."""
    cards = []
    today = clock.today()
    for programme in programmes_open():
        terms = programme_terms(programme)
        lang = language if language in terms.name else "sv"
        ages = [check.condition for check in terms.inclusion
                if check.effect == "require" and check.condition.subject == "age"]
        fits = (None if birth_date is None else
                criteria.all_hold(ages, criteria.Facts(age=age_on(birth_date, today))))
        cards.append(ProgrammeCard(
            programme=programme, name=terms.name[lang], description=terms.description[lang],
            phase=recruitment_phase(programme, today), opens_on=programme.start_date,
            months=terms.timeline.programme_months, fits_age=fits))
    return cards


@dataclass(frozen=True)
class ProgrammeAbout:
    name: str
    description: str
    months: int
    interval: int  # months between follow-ups
    goals: list[str]  # each outcome criterion: "<measure> <goal in words>"


def programme_about(programme: Programme, language: str) -> ProgrammeAbout:
    """The about page's facts of a programme: its current definition's words."""
    terms = programme_terms(programme)
    lang = language if language in terms.name else "sv"
    names = measurement_type_names({c.measure for c in terms.outcome.criteria})
    return ProgrammeAbout(
        name=terms.name[lang], description=terms.description[lang],
        months=terms.timeline.programme_months,
        interval=terms.timeline.followup_interval_months,
        goals=[f"{names.get(c.measure, c.measure)}: {goal_words(c)}"
               for c in terms.outcome.criteria])


def may_answer_questionnaire(prepatient: Prepatient) -> bool:
    """Before the first answers, and again after a score below the threshold
    (things change: "come back if they do")."""
    if not (prepatient.consent_valid and prepatient.birth_date and prepatient.sex):
        return False
    if prepatient.is_enrolled:
        return False
    screening = screening_latest(prepatient=prepatient)
    if screening is None:
        return True
    return (not prepatient_referred(prepatient=prepatient, screening=screening)
            and deciding_sample(prepatient) is None)


def recruitment(prepatient: Prepatient) -> dict[str, Any]:
    """The programme's phase today and its dates, for plain notices."""
    programme = prepatient.programme
    today = clock.today()
    return {
        "phase": recruitment_phase(programme, today),
        "opens_on": programme.start_date,
        "priority_until": programme.priority_end,
        "closes_on": programme.recruitment_end,
        "priority_notice": priority_notice(programme_terms(programme), programme),
    }


def questionnaire_draft(*, prepatient: Prepatient) -> QuestionnaireDraft | None:
    return QuestionnaireDraft.objects.filter(prepatient=prepatient).first()


def form_submission_earlier(*, token: str, user: Any) -> FormSubmission | None:
    return FormSubmission.objects.filter(token=token, user=user).first()


# --- The marketplace -----------------------------------------------------------------------


def providers_filter(queryset: QuerySet[Provider], filters: dict[str, Any]) -> QuerySet[Provider]:
    """Applies the marketplace's filters; "both" matches either side."""
    delivery = filters.get("delivery")
    if delivery == Delivery.REMOTE:
        queryset = queryset.filter(delivery_mode__in=[DeliveryMode.REMOTE, DeliveryMode.BOTH])
    elif delivery == Delivery.ON_SITE:
        queryset = queryset.filter(delivery_mode__in=[DeliveryMode.ON_SITE, DeliveryMode.BOTH])
    coach = filters.get("coach")
    if coach == Coach.HUMAN:
        queryset = queryset.filter(coach_type__in=[CoachType.HUMAN, CoachType.BOTH])
    elif coach == Coach.AI:
        queryset = queryset.filter(coach_type__in=[CoachType.AI, CoachType.BOTH])
    if filters.get("language"):
        queryset = queryset.filter(profile_list_has("languages", filters["language"]))
    if filters.get("region"):
        queryset = queryset.filter(profile_list_has("regions", filters["region"])
                                   | profile_list_has("regions", NATIONAL))
    if filters.get("read_aloud"):
        queryset = queryset.filter(profile_list_has("accessibility", READ_ALOUD))
    return queryset


def marketplace_providers(*, filters: dict[str, Any], by_rating: bool,
                          programme: Programme | None = None) -> QuerySet[Provider]:
    """Authorized providers of ``programme`` matching ``filters`` with their rating
    summary, by name or by the rating shown (providers with too few ratings last)."""
    offered = providers_authorized()
    if programme is not None:
        offered = offered.filter(offers__programme=programme)
    queryset = with_rating_summary(providers_filter(offered, filters))
    if by_rating:
        shown_average = Case(When(rating_count__gte=RATINGS_SHOWN_FROM,
                                  then=F("rating_average")))
        return queryset.order_by(shown_average.desc(nulls_last=True),
                                 F("rating_count").desc(), "name", "pk")
    return queryset.order_by("name", "pk")


def provider_visible(*, pk: int, prepatient: Prepatient | None) -> Provider | None:
    """Authorized providers, and any provider the person has been listed with."""
    provider = provider_get(pk=pk)
    if provider is None or provider.is_authorized:
        return provider
    if prepatient is not None and prepatient_listed_with(prepatient=prepatient,
                                                         provider=provider):
        return provider
    return None


@dataclass(frozen=True)
class Choice:
    """What a signed-in person can do with a provider, and what to tell them."""

    kind: str  # see the constants below
    window_end: date | None = None  # the last day of free switching (for a first choice:
    #                                 if the person enrolls today)
    window_open: bool = False
    lost_authorization: bool = False  # the person's provider is no longer authorized
    message: Any = ""
    continue_url: str = ""  # filled in by the view (where the person continues)

    ANONYMOUS = "anonymous"
    STAFF = "staff"
    NOT_READY = "not_ready"  # still on the way in, or not included
    MAY_CHOOSE = "may_choose"  # a first choice
    CURRENT = "current"  # the person's own provider
    MAY_SWITCH = "may_switch"
    WINDOW_CLOSED = "window_closed"
    NOT_ACTIVE = "not_active"  # excluded, dropped out, completed
    NOT_AUTHORIZED = "not_authorized"

    @property
    def can_submit(self) -> bool:
        return self.kind in (self.MAY_CHOOSE, self.MAY_SWITCH)


def provider_choice(*, prepatient: Prepatient | None, provider: Provider) -> Choice:
    """What a signed-in person (not staff) may do with the provider: choose it first,
    switch to it, or why not. ``prepatient`` is None before the person has a record."""
    if prepatient is None:
        return Choice(Choice.NOT_READY)
    programme = prepatient.programme
    today = clock.today()
    if not prepatient.is_enrolled:
        decision = inclusion_decide(prepatient=prepatient)
        if not decision.included:
            return Choice(Choice.NOT_READY, message=decision.message)
        if not provider.is_authorized:
            return Choice(Choice.NOT_AUTHORIZED)
        return Choice(Choice.MAY_CHOOSE, window_open=True,
                      window_end=switch_window_end(today, programme.switch_months))
    assert prepatient.enrolled_on is not None
    window_end = switch_window_end(prepatient.enrolled_on, programme.switch_months)
    current = prepatient.current_provider
    lost = current is not None and not current.is_authorized
    facts = Choice("", window_end=window_end, lost_authorization=lost,
                   window_open=switch_window_open(enrolled_on=prepatient.enrolled_on,
                                                  switch_months=programme.switch_months,
                                                  today=today))
    if current is not None and current.pk == provider.pk:
        return replace(facts, kind=Choice.CURRENT)
    if prepatient.state != PrepatientState.ACTIVE:
        return replace(facts, kind=Choice.NOT_ACTIVE)
    if not provider.is_authorized:
        return replace(facts, kind=Choice.NOT_AUTHORIZED)
    if switch_possible(prepatient=prepatient, today=today):
        return replace(facts, kind=Choice.MAY_SWITCH)
    return replace(facts, kind=Choice.WINDOW_CLOSED)


# --- My page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rateable:
    """A provider the person was listed with, and when rating it opens."""

    provider: Provider
    opens_on: date
    open: bool
    rating: ProviderRating | None


@dataclass(frozen=True)
class MyPage:
    """What My page shows. For a person not enrolled yet only ``prepatient`` and
    ``withdrawn_on`` are filled in."""

    prepatient: Prepatient
    withdrawn_on: date | None
    listed_since: date | None = None
    leaving_event: LifecycleEvent | None = None  # why an excluded person left
    # Each outcome criterion of the person's version with their current values of its
    # measure (oldest first).
    outcomes: tuple[tuple[Criterion, tuple[SeriesPoint, ...]], ...] = ()
    next_due: dict[str, Any] | None = None
    overdue: dict[str, Any] | None = None
    ratings: tuple[Rateable, ...] = ()


def _followups(prepatient: Prepatient) -> dict[str, Any]:
    """The next open due date, and a missed one whose grace period still runs,
    each with what is still to be measured."""
    if prepatient.state != PrepatientState.ACTIVE:
        return {}
    status = followup_status(prepatient=prepatient)
    today = clock.today()
    grace = prepatient.programme.followup_grace_days
    upcoming = next((row for row in status if not row["complete"] and row["due_on"] >= today),
                    None)
    # A deadline that passed before a reinstatement was forgiven; one still running counts.
    overdue = next((row for row in reversed(status)
                    if row["overdue"] and not followup.exclusion_due(
                        due_on=row["due_on"], complete=row["complete"], today=today,
                        grace_days=grace)), None)
    codes = {code for row in (upcoming, overdue) if row for code in row["missing"]}
    names = measurement_type_names(codes)

    def named(row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        return {**row, "missing_names": [names.get(code, code) for code in row["missing"]],
                "deadline": followup.exclusion_deadline(due_on=row["due_on"],
                                                        grace_days=grace)}

    return {"next_due": named(upcoming), "overdue": named(overdue)}


def _rateable(prepatient: Prepatient, listings: list[Listing]) -> tuple[Rateable, ...]:
    rateable = rateable_providers(prepatient)
    if not rateable:
        return ()
    providers = {listing.provider_id: listing.provider for listing in listings}
    given = ratings_given(prepatient=prepatient)
    today = clock.today()
    return tuple(Rateable(provider=providers[pk], opens_on=opens,
                          open=opens <= today and prepatient.consent_valid,
                          rating=given.get(pk)) for pk, opens in rateable if pk in providers)


def enrollment_terms(prepatient: Prepatient) -> ProgrammeDefinition:
    """The definition the person joined under (the current one before they join)."""
    version = prepatient.programme_version
    return version_terms(version) if version is not None else programme_terms(
        prepatient.programme)


def my_page(*, prepatient: Prepatient) -> MyPage:
    """Everything My page shows, in a fixed number of queries (not one per value,
    listing or consent event)."""
    withdrawn_on = consent_withdrawn_on(prepatient=prepatient)
    if not prepatient.is_enrolled:
        return MyPage(prepatient=prepatient, withdrawn_on=withdrawn_on)
    # The listings with their providers (newest first) give "listed since" and the
    # providers to rate in one query.
    prepatient = prepatient_with_listings(prepatient=prepatient)
    listings = list(prepatient.listings.all())
    return MyPage(
        prepatient=prepatient, withdrawn_on=withdrawn_on,
        listed_since=listings[0].valid_from if listings else None,
        leaving_event=leaving_event(prepatient=prepatient),
        outcomes=tuple((criterion, tuple(outcome_series(prepatient, measure=criterion.measure)))
                       for criterion in enrollment_terms(prepatient).outcome.criteria),
        ratings=_rateable(prepatient, listings),
        **_followups(prepatient),
    )


# --- Consents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentsPage:
    prepatient: Prepatient
    events: list[ConsentEvent]  # oldest first
    texts: list[ConsentText]  # the versions agreed to, by kind and version
    research_text: ConsentText | None  # the current research text


def consents_page(*, prepatient: Prepatient) -> ConsentsPage:
    prepatient = prepatient_detail(prepatient=prepatient)
    events = consent_events(prepatient=prepatient)
    texts: dict[int, ConsentText] = {}
    for event in events:
        if event.text is not None:
            texts.setdefault(event.text.pk, event.text)
    return ConsentsPage(
        prepatient=prepatient, events=events,
        texts=sorted(texts.values(), key=lambda text: (text.kind, text.version)),
        research_text=consent_text_current(programme=prepatient.programme,
                                           kind=ConsentKind.RESEARCH),
    )


# --- My data (GDPR access) ----------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def personal_data_export(*, prepatient: Prepatient, user: Any) -> dict[str, Any]:
    """Everything stored about the person, readable (never hashes or keys)."""
    prepatient = prepatient_detail(prepatient=prepatient)
    measurements = measurements_of(prepatient)
    return {
        "exported_at": _iso(clock.now()),
        "account": {"email": user.email, "created": _iso(user.date_joined)},
        "programme": {"code": prepatient.programme.code, "name": prepatient.programme.name},
        "programme_id": prepatient.pseudonym,
        "personnummer": prepatient.personnummer,
        "birth_date": _iso(prepatient.birth_date),
        "sex": prepatient.sex or None,
        "registered_postcode": prepatient.postcode or None,
        "lives_in_vulnerable_area": prepatient.in_vulnerable_area,
        "state": prepatient.state,
        "data_sharing_consent_valid": prepatient.consent_valid,
        "research_donation": prepatient.research_consent,
        "registered": _iso(prepatient.created_at),
        "enrolled_on": _iso(prepatient.enrolled_on),
        "programme_ends_on": _iso(prepatient.end_date),
        "current_provider": prepatient.current_provider.name if prepatient.current_provider
        else None,
        "baseline_sample_taken_on": _iso(prepatient.baseline_sample.taken_on)
        if prepatient.baseline_sample else None,
        "screenings": [{
            "submitted": _iso(s.submitted_at), "age": s.age, "height_cm": s.height_cm,
            "weight_kg": s.weight_kg, "waist_cm": s.waist_cm, "bmi": s.bmi,
            "physically_active_30_minutes_daily": s.physically_active,
            "vegetables_fruit_or_berries_daily": s.eats_vegetables_daily,
            "ever_on_blood_pressure_medication": s.antihypertensive_medication,
            "ever_high_blood_glucose": s.high_glucose_history,
            "family_history_of_diabetes": s.family_history, "findrisc_score": s.score,
        } for s in prepatient.screenings.order_by("submitted_at", "pk")],
        "questionnaire_responses": [{
            "questionnaire": r.questionnaire.code, "version": r.questionnaire.version,
            "submitted": _iso(r.submitted_at), "answers": r.answers, "score": r.score,
            "band": r.band or None, "source": r.source,
        } for r in prepatient.questionnaire_responses.select_related("questionnaire")
            .order_by("submitted_at", "pk")],
        "inclusion_samples": [{
            "measure": s.measure, "value": s.value, "taken_on": _iso(s.taken_on),
            "received": _iso(s.received_at), "source": s.source,
            "lab_sample_id": s.lab_reference or None, "verified": _iso(s.verified_at),
        } for s in prepatient.inclusion_samples.order_by("taken_on", "pk")],
        "referral_codes": [{
            "code_ends_with": r.hint, "issued": _iso(r.issued_at),
            "expires": _iso(r.expires_at), "used": _iso(r.used_at),
        } for r in prepatient.referral_codes.order_by("issued_at", "pk")],
        "measurements": [{
            "id": m.pk, "type": m.type.code, "value": m.value, "unit": m.type.canonical_unit,
            "reported_value": m.reported_value, "reported_unit": m.reported_unit,
            "taken_on": _iso(m.taken_on), "received": _iso(m.received_at),
            "source": m.reporter_kind, "corrects": m.supersedes_id,
            "superseded": hasattr(m, "superseded_by"), "note": m.note or None,
        } for m in measurements],
        "follow_up_due_dates": [{
            "number": f.index, "due_on": _iso(f.due_on), "window_from": _iso(f.window_start),
            "window_to": _iso(f.window_end), "complete_since": _iso(f.completed_at),
        } for f in followup_dues_of(prepatient)],
        "safety_notices": [{
            "raised": _iso(n.raised_at), "value_taken_on": _iso(n.measurement.taken_on),
            "measure": n.measurement.type.code, "value": n.measurement.value,
            "unit": n.measurement.type.canonical_unit,
            "you_were_told": _iso(n.prepatient_notified_at),
            "closed": n.closed_by_id is not None,
        } for n in safety_notices_of(prepatient)],
        "listings": [{
            "provider": item.provider.name, "from": _iso(item.valid_from),
            "reason": item.reason, "recorded": _iso(item.created_at),
        } for item in prepatient.listings.select_related("provider").order_by("valid_from", "pk")],
        "lifecycle_events": [{
            "event": e.type, "on": _iso(e.on), "reason": e.reason or None, "note": e.note or None,
        } for e in prepatient.lifecycle_events.order_by("created_at", "pk")],
        "consent_events": [{
            "kind": e.kind, "action": e.action,
            "text_version": e.text.version if e.text else None, "channel": e.channel,
            "at": _iso(e.at),
        } for e in prepatient.consent_events.select_related("text").order_by("at", "pk")],
        "ratings": [{
            "provider": r.provider.name, "stars": r.stars, "comment": r.comment or None,
            "given": _iso(r.created_at), "changed": _iso(r.updated_at),
        } for r in prepatient.ratings.select_related("provider").order_by("created_at", "pk")],
    }
