"""The registry's writers: identity, screening, inclusion, enrollment,
listings, lifecycle, ratings and the vulnerable-area postcodes. Rules live in
``prevention_engine`` (the inclusion decision is worded in ``rules.py``); these
functions load, lock, decide with the rules, and write the event and the cached
state in one transaction.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.crypto import lookup_hash
from apps.core.errors import Conflict, InvalidInput, require_reason
from apps.core.events import publish_to_provider
from apps.core.logging import PERSONNUMMER_LIKE
from apps.programs import vocabulary
from apps.programs.errors import ProgrammeNotDefined
from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion, Questionnaire
from apps.programs.selectors import (
    programme_terms,
    programme_version_current,
    screening_questionnaires,
    version_terms,
)
from apps.providers.models import Provider
from apps.providers.selectors import offers_programme
from apps.registry import events, rules
from apps.registry.errors import (
    IdentityNotAccepted,
    InclusionRefused,
    InvalidTransition,
    ProviderNotAuthorized,
    ProviderNotInProgramme,
    RatingNotAllowed,
    ReferralCodeExpired,
    ReferralCodeUnknown,
    ReferralCodeUsed,
    SwitchNotAllowed,
)
from apps.registry.identity import parse_personnummer
from apps.registry.imports import parse_postcode_csv
from apps.registry.models import (
    ExclusionReason,
    InclusionSample,
    LifecycleEvent,
    LifecycleEventType,
    Listing,
    ListingReason,
    Prepatient,
    PrepatientState,
    ProviderRating,
    QuestionnaireResponse,
    ReferralCode,
    ResponseSource,
    SampleSource,
    Screening,
    VulnerableAreaPostcode,
)
from apps.registry.population import PopulationRegister, get_population_register
from apps.registry.referral_codes import format_referral_code, referral_code_hash
from apps.registry.selectors import (
    RATING_AFTER_MONTHS,
    STARS,
    inclusion_sample_from_lab,
    may_rate,
    prepatient_referred,
)
from apps.registry.signals import prepatient_enrolled
from prevention_engine import criteria, inclusion, units
from prevention_engine import questionnaire as questionnaire_rules
from prevention_engine.dates import age_on, end_date, switch_allowed, switch_window_end
from prevention_engine.findrisc import FamilyHistory

REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud
REFERRAL_LENGTH = 12
ENROLLED_STATES = (PrepatientState.ACTIVE, PrepatientState.COMPLETED,
                   PrepatientState.DROPPED_OUT, PrepatientState.EXCLUDED,
                   PrepatientState.DECEASED)
# The states from which a death may be registered (everyone enrolled who is alive).
DEATH_REGISTERED_FROM = (PrepatientState.ACTIVE, PrepatientState.EXCLUDED,
                         PrepatientState.DROPPED_OUT, PrepatientState.COMPLETED)
COMMENT_MAX_LENGTH = 500  # ProviderRating.comment


# --- Identity -------------------------------------------------------------


def prepatient_register(*, programme: Programme, user: Any = None) -> Prepatient:
    """The person's record in a programme: one per account and programme.

    Without an account (a paper or phone registration by a caseworker) a new
    record is made each time; the personnummer then keeps people apart.
    """
    if user is None:
        return Prepatient.objects.create(programme=programme)
    prepatient, _created = Prepatient.objects.get_or_create(programme=programme, user=user)
    return prepatient


@transaction.atomic
def prepatient_set_identity(
    *, prepatient: Prepatient, personnummer: str, register: PopulationRegister | None = None
) -> Prepatient:
    """Validates the personnummer, reads the registered postcode, and stores both."""
    prepatient = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
    if prepatient.is_enrolled:
        raise InvalidTransition(_("The identity of an enrolled prepatient cannot be changed."))
    parsed = parse_personnummer(personnummer, today=clock.today())
    digest = lookup_hash(parsed.digits)
    if (Prepatient.objects.filter(programme=prepatient.programme_id, personnummer_hash=digest)
            .exclude(pk=prepatient.pk).exists()):
        raise Conflict(
            _("This personnummer is already registered in the programme. If it is yours, "
              "please contact us."),
            code="personnummer_taken", fields={"personnummer": _("Already registered.")},
        )
    postcode = (register or get_population_register()).postcode_for(parsed)
    if postcode is None:
        message = _("We could not find an address registered in Sweden for this "
                    "personnummer. The programme is open to people registered in Sweden.")
        raise IdentityNotAccepted(message, code="not_in_register",
                                  fields={"personnummer": message})
    prepatient.personnummer = parsed.digits
    prepatient.personnummer_hash = digest
    prepatient.birth_date = parsed.birth_date
    prepatient.sex = parsed.sex
    prepatient.postcode = postcode
    prepatient.in_vulnerable_area = VulnerableAreaPostcode.objects.filter(
        programme=prepatient.programme_id, postcode=postcode).exists()
    prepatient.save()
    return prepatient


# --- Screening and referral -------------------------------------------------


@dataclass(frozen=True)
class ScreeningResult:
    screening: Screening
    referral_code: str | None  # plaintext, shown once; None below the threshold
    referral: ReferralCode | None = None  # the code's record; None below the threshold


@transaction.atomic
def screening_submit(
    *,
    prepatient: Prepatient,
    height_cm: Decimal,
    weight_kg: Decimal,
    waist_cm: Decimal,
    physically_active: bool,
    eats_vegetables_daily: bool,
    antihypertensive_medication: bool,
    high_glucose_history: bool,
    family_history: FamilyHistory,
) -> ScreeningResult:
    """The answers of the site's screening form, kept as a response to the programme's
    screening questionnaire with exactly the form's items (``SCREENING_FORM_ITEMS``) and
    scored by that questionnaire's definition; when the programme's referral checks
    hold, a referral code is issued."""
    if prepatient.birth_date is None or not prepatient.sex:
        raise InvalidTransition(_("Please give your personnummer before the questionnaire."))
    questionnaire = next((q for q in screening_questionnaires(prepatient.programme)
                          if questionnaire_items(q) == SCREENING_FORM_ITEMS), None)
    if questionnaire is None:
        raise InvalidTransition(_("This programme does not screen with this questionnaire."))
    fields = {"height_cm": height_cm, "weight_kg": weight_kg, "waist_cm": waist_cm}
    bounds = {"height_cm": (100, 250), "weight_kg": (30, 350), "waist_cm": (40, 250)}
    errors = {
        name: _("%(value)s is outside %(low)s–%(high)s.")
        % {"value": value, "low": bounds[name][0], "high": bounds[name][1]}
        for name, value in fields.items()
        if not bounds[name][0] <= value <= bounds[name][1]
    }
    if errors:
        raise InvalidInput(fields=errors)
    age = age_on(prepatient.birth_date, clock.today())
    bmi = units.body_mass_index(weight_kg=weight_kg, height_cm=height_cm)
    submitted_at = clock.now()
    answers = {"sex": prepatient.sex, "age": age, "bmi": bmi, "waist": waist_cm,
               "physically_active": _yes_no(physically_active),
               "vegetables_daily": _yes_no(eats_vegetables_daily),
               "antihypertensive_medication": _yes_no(antihypertensive_medication),
               "high_glucose_history": _yes_no(high_glucose_history),
               "family_history": family_history.value}
    response = questionnaire_response_record(prepatient=prepatient, questionnaire=questionnaire,
                                             answers=answers, submitted_at=submitted_at)
    # The form's own record (its measures, for the person's page and the export).
    screening = Screening.objects.create(
        prepatient=prepatient, submitted_at=submitted_at, age=age, height_cm=height_cm,
        weight_kg=weight_kg, waist_cm=waist_cm, bmi=bmi, physically_active=physically_active,
        eats_vegetables_daily=eats_vegetables_daily,
        antihypertensive_medication=antihypertensive_medication,
        high_glucose_history=high_glucose_history, family_history=family_history.value,
        score=response.score,
    )
    code, referral = None, None
    if prepatient_referred(prepatient=prepatient, screening=screening):
        referral, code = referral_issue(prepatient=prepatient)
    return ScreeningResult(screening=screening, referral_code=code, referral=referral)


# The items of the screening that ``screening_submit`` takes (height and weight give the
# BMI): a screening questionnaire with exactly these items is answered through it.
SCREENING_FORM_ITEMS = frozenset({
    "sex", "age", "bmi", "waist", "physically_active", "vegetables_daily",
    "antihypertensive_medication", "high_glucose_history", "family_history"})


def questionnaire_items(questionnaire: Questionnaire) -> frozenset[str]:
    return frozenset(item.get("link_id") for item in questionnaire.definition.get("items", []))


@transaction.atomic
def screening_answer(*, prepatient: Prepatient, answers: Mapping[str, Mapping[str, Any]]
                     ) -> tuple[ReferralCode, str] | None:
    """The person's answers to each of the programme's screening questionnaires
    (``{code: {link_id: answer}}``), kept as responses; when they earn the next step
    and the programme takes a value from a laboratory, a referral code is issued (with
    its plaintext, shown once). Nothing is kept if one answer
    does not fit (``InvalidInput`` naming ``code.link_id``)."""
    if prepatient.birth_date is None or not prepatient.sex:
        raise InvalidTransition(_("Please give your personnummer before the questionnaire."))
    for questionnaire in screening_questionnaires(prepatient.programme):
        try:
            questionnaire_response_record(prepatient=prepatient, questionnaire=questionnaire,
                                          answers=answers.get(questionnaire.code, {}))
        except InvalidInput as refused:
            raise InvalidInput(fields={f"{questionnaire.code}.{name}": reason for name, reason
                                       in refused.fields.items()}) from None
    terms = programme_terms(prepatient.programme)
    if not prepatient_referred(prepatient=prepatient) or not criteria.measures_read(
            terms.inclusion, SampleSource.LAB):
        return None
    return referral_issue(prepatient=prepatient)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def questionnaire_response_record(*, prepatient: Prepatient, questionnaire: Questionnaire,
                                  answers: Mapping[str, Any],
                                  source: str = ResponseSource.SELF,
                                  submitted_at: Any = None) -> QuestionnaireResponse:
    """Scores a complete set of answers by the questionnaire's definition and keeps
    them; an answer that does not fit is refused naming its item, nothing is kept."""
    if questionnaire.status != DefinitionStatus.PUBLISHED:
        raise InvalidTransition(_("This questionnaire is not published."))
    try:
        scored = questionnaire_rules.score(questionnaire_rules.parse(questionnaire.definition),
                                           answers)
    except questionnaire_rules.AnswerError as error:
        raise InvalidInput(fields={error.link_id: error.reason}) from None
    stored = {key: f"{value:f}" if isinstance(value, Decimal) else value
              for key, value in scored.answers.items()}
    return QuestionnaireResponse.objects.create(
        prepatient=prepatient, questionnaire=questionnaire, answers=stored,
        score=scored.total, band=scored.band.code if scored.band else "", source=source,
        submitted_at=submitted_at or clock.now())


@transaction.atomic
def referral_issue(*, prepatient: Prepatient) -> tuple[ReferralCode, str]:
    """A new single-use code; any older unused code of the person stops working."""
    now = clock.now()
    ReferralCode.objects.filter(prepatient=prepatient, used_at=None,
                                expires_at__gt=now).update(expires_at=now)
    code = "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_LENGTH))
    referral = ReferralCode.objects.create(
        prepatient=prepatient, code_hash=referral_code_hash(code), hint=code[-4:], issued_at=now,
        expires_at=now + timedelta(days=prepatient.programme.referral_valid_days),
    )
    return referral, format_referral_code(code)


def _inclusion_measure(prepatient: Prepatient, source: str, measure: str | None,
                       field: str = "type") -> str:
    """The measure a value from ``source`` is taken for: ``measure`` if the current
    definition's inclusion reads it from that source, or the one measure it reads from
    that source when none is named."""
    readable = criteria.measures_read(programme_terms(prepatient.programme).inclusion, source)
    if measure is None and len(readable) == 1:
        return readable[0]
    if measure is None or measure not in readable:
        raise InvalidInput(fields={field: _(
            "The programme's inclusion does not read this value from here; it reads: "
            "%(measures)s.") % {"measures": ", ".join(readable) or "–"}})
    return measure


def _checked_value(measure: str, value: Decimal | int | str, unit: str | None = None,
                   field: str = "value") -> Decimal:
    """The value in the measure's stored unit, converted from ``unit`` and checked as
    the measurements check a follow-up value, so an inclusion sample and a follow-up
    value are judged alike (the measurement app's refusal, naming ``field``)."""
    return vocabulary.read_value(measure, value, unit, field=field)


def _check_taken_on(taken_on: date) -> None:
    if taken_on > clock.today():
        raise InvalidInput(fields={"taken_on": _("The sample date is in the future.")})


LAB_REFERENCE_MAX_LENGTH = 64  # InclusionSample.lab_reference


def _check_lab_reference(lab_reference: str) -> None:
    if len(lab_reference) > LAB_REFERENCE_MAX_LENGTH:
        raise InvalidInput(fields={"lab_reference": _(
            "The sample ID is at most 64 characters.")})


@dataclass(frozen=True)
class LabSampleReceipt:
    """What became of a laboratory's inclusion result: stored now, or the same result
    stored before (``duplicate``); ``sample`` is the stored one either way."""

    sample: InclusionSample
    duplicate: bool

    @property
    def stored(self) -> bool:
        return not self.duplicate


def _lab_sample_store(*, code: str, measure: str | None,
                      value: Decimal | Callable[[str], Decimal], taken_on: date,
                      lab_reference: str, accept_duplicate: bool) -> LabSampleReceipt:
    """Checks the date, then, under the referral code's row lock, refuses an unknown,
    used or expired code (``ReferralCodeUnknown``, ``ReferralCodeUsed``,
    ``ReferralCodeExpired``; field ``code``), finds the measure the person's programme
    takes from a laboratory (``measure`` when it reads more than one), checks the value
    (``value``, or ``value(measure)`` converting it from its unit) and stores the sample.

    With ``accept_duplicate`` a used code whose sample has the same sample ID, value
    and date is not refused: that earlier sample is returned as a duplicate.
    """
    _check_taken_on(taken_on)
    with transaction.atomic():
        # By the unique hash alone (its index, one row, no join or ordering), then the
        # person by key: both rows locked, as the code is redeemed for them.
        try:
            referral = ReferralCode.objects.select_for_update().get(
                code_hash=referral_code_hash(code))
        except ReferralCode.DoesNotExist:
            raise ReferralCodeUnknown(
                fields={"code": _("No referral has this code.")}) from None
        referral.prepatient = Prepatient.objects.select_for_update().get(
            pk=referral.prepatient_id)
        measure = _inclusion_measure(referral.prepatient, SampleSource.LAB, measure)
        number = value(measure) if callable(value) else _checked_value(measure, value)
        if referral.used_at is not None:
            earlier = (inclusion_sample_from_lab(referral=referral, lab_reference=lab_reference,
                                                 measure=measure, value=number,
                                                 taken_on=taken_on)
                       if accept_duplicate else None)
            if earlier is not None:
                return LabSampleReceipt(sample=earlier, duplicate=True)
            raise ReferralCodeUsed(fields={"code": _("This code has already been used.")})
        if referral.expires_at <= clock.now():
            raise ReferralCodeExpired(fields={"code": _("This code has expired.")})
        referral.used_at = clock.now()
        referral.save(update_fields=["used_at"])
        sample = InclusionSample.objects.create(
            prepatient=referral.prepatient, measure=measure, value=number, taken_on=taken_on,
            received_at=clock.now(), source=SampleSource.LAB, referral=referral,
            lab_reference=lab_reference,
        )
        _mail_result_arrived(referral.prepatient)
    return LabSampleReceipt(sample=sample, duplicate=False)


def inclusion_sample_record_lab(
    *, code: str, value: Decimal, taken_on: date, lab_reference: str,
    measure: str | None = None,
) -> InclusionSample:
    """A laboratory's result (in the measure's stored unit) against a referral code
    (single use), for the measure the person's programme takes from a laboratory.

    Raises ``InvalidInput`` (fields ``lab_reference``, ``type``, ``value``,
    ``taken_on``) or a ``ReferralCodeNotValid`` (field ``code``); a code used before is
    refused even for the same result (``inclusion_sample_receive_lab`` answers that as
    a duplicate).
    """
    _check_lab_reference(lab_reference)
    return _lab_sample_store(code=code, measure=measure, value=value, taken_on=taken_on,
                             lab_reference=lab_reference, accept_duplicate=False).sample


def inclusion_sample_receive_lab(
    *, code: str, value: Decimal | int | str, unit: str, taken_on: date, lab_reference: str,
    measure: str | None = None,
) -> LabSampleReceipt:
    """A laboratory's result as sent, against a referral code (single use).

    The value is converted to the measure's stored unit from its unit (the engine's
    built-in measures: HbA1c in ``%`` or ``mmol/mol``, say). Sending the same result
    again (same code, sample ID, value and date) is answered with the earlier sample
    as a duplicate, decided under the code's row lock; a code used for another sample
    raises ``ReferralCodeUsed``. Every refusal names its field: ``lab_reference``,
    ``type``, ``value`` (not a number, unknown unit, implausible), ``taken_on`` or
    ``code`` (``ReferralCodeUnknown``, ``ReferralCodeUsed``, ``ReferralCodeExpired``).
    """
    _check_lab_reference(lab_reference)
    return _lab_sample_store(
        code=code, measure=measure,
        value=lambda found: _checked_value(found, value, unit),
        taken_on=taken_on, lab_reference=lab_reference, accept_duplicate=True)


def _mail_result_arrived(prepatient: Prepatient) -> None:
    """Tells the person their result is on the site; the value itself never goes by email."""
    user = prepatient.user
    if user is None or not user.email:
        return
    with translation.override("sv"):
        subject = str(_("Your blood test result has arrived"))
        body = str(_("Hello! The lab has sent the result of your blood test to the prevention "
                     "programme. Sign in to see what it means for you and what happens next."))
    transaction.on_commit(lambda: send_mail(subject, body, None, [user.email]))


def inclusion_sample_record_self(
    *, prepatient: Prepatient, value: Decimal, taken_on: date, measure: str | None = None
) -> InclusionSample:
    """A value the person typed in, of a measure the programme's inclusion takes from
    the person (``self``); it decides nothing until a caseworker verifies it."""
    measure = _inclusion_measure(prepatient, SampleSource.SELF, measure)
    value = _checked_value(measure, value)
    _check_taken_on(taken_on)
    return InclusionSample.objects.create(
        prepatient=prepatient, measure=measure, value=value, taken_on=taken_on,
        received_at=clock.now(), source=SampleSource.SELF,
    )


@transaction.atomic
def inclusion_sample_verify(*, sample: InclusionSample, caseworker: Any,
                            note: str) -> InclusionSample:
    note = require_reason(note)
    sample = InclusionSample.objects.select_for_update().get(pk=sample.pk)
    if sample.source != SampleSource.SELF:
        raise InvalidTransition(_("Only self-reported values need verification."))
    if sample.verified_at is not None:
        raise InvalidTransition(_("This value has already been verified."))
    sample.verified_by = caseworker
    sample.verified_at = clock.now()
    sample.verification_note = note
    sample.save(update_fields=["verified_by", "verified_at", "verification_note"])
    return sample


# --- Inclusion and enrollment ----------------------------------------------


def deciding_samples(prepatient: Prepatient) -> QuerySet[InclusionSample]:
    """The samples that may decide inclusion: laboratory values and verified ones, in
    the order they were taken (on the same day, the order they were given)."""
    return (InclusionSample.objects.filter(prepatient=prepatient)
            .exclude(source=SampleSource.SELF, verified_at=None)
            .order_by("taken_on", "received_at", "pk"))


def deciding_sample(prepatient: Prepatient) -> InclusionSample | None:
    """The latest sample that may decide inclusion: a lab value or a verified one."""
    return deciding_samples(prepatient).last()


def enrolled_count(programme: Programme) -> int:
    """How many have enrolled in the programme (every prepatient with an enrollment
    date, whatever their state since), as its row keeps it: one read by key."""
    count: int = Programme.objects.values_list("enrolled_count", flat=True).get(
        pk=programme.pk)
    return count


def enrolled_count_recount(*, programme: Programme) -> int:
    """Sets the programme's enrolled count from its prepatients, under the programme's
    lock, and returns it: for rows written around the services (a bulk load by
    ``COPY``), which the count does not see. More than the cap is refused by the
    database's check."""
    with transaction.atomic():
        locked = Programme.objects.select_for_update().get(pk=programme.pk)
        real = Prepatient.objects.filter(programme=locked, enrolled_on__isnull=False).count()
        if real != locked.enrolled_count:
            Programme.objects.filter(pk=locked.pk).update(enrolled_count=real)
    programme.enrolled_count = real
    return real


def _latest_bmi(prepatient: Prepatient, samples: Sequence[InclusionSample]) -> Decimal | None:
    """The latest BMI known: a BMI sample, or the one the screening answers gave."""
    measured = [sample for sample in samples if sample.measure == "bmi"]
    if measured:
        return measured[-1].value
    screening = prepatient.screenings.order_by("-submitted_at", "-pk").first()
    return screening.bmi if screening else None


def inclusion_facts(prepatient: Prepatient, today: date) -> criteria.Facts:
    """What the criteria read about the person today: age, sex, BMI, residence, the
    deciding samples of each measure and the latest score of each questionnaire."""
    samples = list(deciding_samples(prepatient))
    by_measure: dict[str, list[criteria.Sample]] = defaultdict(list)
    for sample in samples:
        by_measure[sample.measure].append(criteria.Sample(sample.taken_on, sample.value,
                                                          sample.source))
    scores = dict(QuestionnaireResponse.objects.filter(prepatient=prepatient)
                  .order_by("submitted_at", "pk").values_list("questionnaire__code", "score"))
    return criteria.Facts(
        on=today, age=age_on(prepatient.birth_date, today) if prepatient.birth_date else None,
        sex=prepatient.sex or None, bmi=_latest_bmi(prepatient, samples),
        priority_area=prepatient.in_vulnerable_area, samples=dict(by_measure), scores=scores)


def inclusion_decide(
    *, prepatient: Prepatient, count: int | None = None,
    version: ProgrammeVersion | None = None,
) -> rules.InclusionDecision:
    """What the current definition's rules say today, without writing anything.

    The places taken are the programme row's enrolled count as loaded (``count`` says
    otherwise); ``version`` is the current version when the caller has it already.
    """
    programme = prepatient.programme
    today = clock.today()
    candidate = inclusion.Candidate(
        consent_valid=prepatient.consent_valid, already_enrolled=prepatient.is_enrolled,
        facts=inclusion_facts(prepatient, today))
    terms = programme_terms(programme) if version is None else version_terms(version)
    return rules.decide_inclusion(
        terms, programme, cap=programme.cap, candidate=candidate, today=today,
        enrolled_count=programme.enrolled_count if count is None else count,
    )


def prepatient_enroll(*, prepatient: Prepatient, provider: Provider,
                      actor: Any = None) -> Prepatient:
    """Enrolls the person with their chosen provider; the cap holds under concurrency.

    The programme row is locked while its enrolled count is read and raised with the
    write, so concurrent enrollments are serialised: never one more than the cap
    (and the database's check refuses a count above it). Nothing here grows with the
    programme: the count is one column, every other read is by the person's key.
    """
    with transaction.atomic():
        programme = Programme.objects.select_for_update().get(pk=prepatient.programme_id)
        prepatient = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
        prepatient.programme = programme
        version = programme_version_current(programme)
        if version is None:
            raise ProgrammeNotDefined()
        decision = inclusion_decide(prepatient=prepatient, version=version)
        if not decision.included:
            raise InclusionRefused(decision)
        provider = Provider.objects.get(pk=provider.pk)
        if not provider.is_authorized:
            raise ProviderNotAuthorized()
        if not offers_programme(provider, programme.pk):
            raise ProviderNotInProgramme()
        today = clock.today()
        Programme.objects.filter(pk=programme.pk).update(
            enrolled_count=F("enrolled_count") + 1)
        programme.enrolled_count += 1
        prepatient.enrolled_on = today
        prepatient.programme_version = version
        prepatient.end_date = end_date(today, programme.programme_months)
        prepatient.baseline_sample = deciding_sample(prepatient)
        prepatient.state = PrepatientState.ACTIVE
        prepatient.current_provider = provider
        prepatient.save()
        Listing.objects.create(prepatient=prepatient, provider=provider, valid_from=today,
                               reason=ListingReason.INITIAL, actor=_user(actor))
        LifecycleEvent.objects.create(prepatient=prepatient, type=LifecycleEventType.ENROLLED,
                                      on=today, actor=_user(actor))
        publish_to_provider(provider_id=provider.pk, kind=events.NEW_LISTING,
                            subject=prepatient.pseudonym, on=today, reason="initial",
                            enrolled_on=today.isoformat(),
                            end_date=prepatient.end_date.isoformat())
        prepatient_enrolled.send(sender=Prepatient, prepatient=prepatient)
    return prepatient


def _user(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


# --- Listings ---------------------------------------------------------------


@transaction.atomic
def listing_switch(*, prepatient: Prepatient, provider: Provider, actor: Any = None) -> Listing:
    """Moves the person to another authorized provider while switching is allowed."""
    prepatient = Prepatient.objects.select_for_update(of=("self",)).select_related(
        "programme", "current_provider").get(pk=prepatient.pk)
    if prepatient.state != PrepatientState.ACTIVE or prepatient.enrolled_on is None:
        raise InvalidTransition(_("Only active prepatients can switch provider."))
    provider = Provider.objects.get(pk=provider.pk)
    if not provider.is_authorized:
        raise ProviderNotAuthorized()
    if not offers_programme(provider, prepatient.programme_id):
        raise ProviderNotInProgramme()
    current = prepatient.current_provider
    if current is not None and current.pk == provider.pk:
        raise SwitchNotAllowed(_("You are already listed with this provider."),
                               code="same_provider")
    lost_authorization = current is not None and not current.is_authorized
    today = clock.today()
    if not switch_allowed(
        enrolled_on=prepatient.enrolled_on, switch_months=prepatient.programme.switch_months,
        today=today, provider_lost_authorization=lost_authorization,
    ):
        last_day = switch_window_end(prepatient.enrolled_on, prepatient.programme.switch_months)
        raise SwitchNotAllowed(
            _("Switching was possible until %(date)s. In the last months of the programme "
              "you stay with your provider.") % {"date": last_day.isoformat()},
            code="switch_window_closed",
        )
    try:
        with transaction.atomic():
            listing = Listing.objects.create(
                prepatient=prepatient, provider=provider, valid_from=today,
                reason=(ListingReason.PROVIDER_LOST_AUTHORIZATION if lost_authorization
                        else ListingReason.SWITCH),
                actor=_user(actor),
            )
    except IntegrityError:
        raise SwitchNotAllowed(_("You have already changed provider today. You can switch "
                                 "again tomorrow."), code="switched_today") from None
    prepatient.current_provider = provider
    prepatient.save(update_fields=["current_provider", "updated_at"])
    publish_to_provider(provider_id=current.pk if current else None,
                        kind=events.SWITCHED_AWAY, subject=prepatient.pseudonym,
                        on=today)
    publish_to_provider(provider_id=provider.pk, kind=events.NEW_LISTING,
                        subject=prepatient.pseudonym, on=today, reason=listing.reason,
                        enrolled_on=prepatient.enrolled_on.isoformat(),
                        end_date=prepatient.end_date.isoformat() if prepatient.end_date else None)
    return listing


# --- Lifecycle --------------------------------------------------------------


def _transition(
    prepatient: Prepatient,
    *,
    allowed_from: tuple[str, ...],
    to: str,
    event: str,
    on: date | None = None,
    reason: str = "",
    note: str = "",
    actor: Any = None,
) -> LifecycleEvent:
    locked = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
    if locked.state not in allowed_from:
        raise InvalidTransition(
            _("Not possible while the prepatient is %(state)s.")
            % {"state": locked.get_state_display()}
        )
    day = on or clock.today()
    if day > clock.today():
        raise InvalidInput(fields={"on": _("The date is in the future.")})
    if locked.enrolled_on and day < locked.enrolled_on:
        raise InvalidInput(fields={"on": _("The date is before the enrollment.")})
    locked.state = to
    locked.save(update_fields=["state", "updated_at"])
    prepatient.state = to
    publish_to_provider(provider_id=locked.current_provider_id, kind=event,
                        subject=locked.pseudonym, on=day, reason=reason)
    return LifecycleEvent.objects.create(prepatient=locked, type=event, on=day, reason=reason,
                                         note=note, actor=_user(actor))


@transaction.atomic
def lifecycle_exclude(*, prepatient: Prepatient, reason: ExclusionReason | str, note: str = "",
                      actor: Any = None, on: date | None = None) -> LifecycleEvent:
    if reason not in ExclusionReason.values:
        raise InvalidInput(fields={"reason": _("Choose one of the listed reasons.")})
    if reason == ExclusionReason.OTHER:
        note = require_reason(note)
    return _transition(prepatient, allowed_from=(PrepatientState.ACTIVE,),
                       to=PrepatientState.EXCLUDED, event=LifecycleEventType.EXCLUDED,
                       reason=reason, note=note, actor=actor, on=on)


@transaction.atomic
def lifecycle_reinstate(*, prepatient: Prepatient, note: str, actor: Any) -> LifecycleEvent:
    """Cancels an exclusion (a caseworker's decision, with a reason)."""
    note = require_reason(note)
    locked = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
    if not locked.consent_valid:
        raise InvalidTransition(_("A prepatient without valid consent cannot be reinstated."))
    if locked.end_date and clock.today() > locked.end_date:
        raise InvalidTransition(_("The individual programme period has ended."))
    return _transition(prepatient, allowed_from=(PrepatientState.EXCLUDED,),
                       to=PrepatientState.ACTIVE, event=LifecycleEventType.REINSTATED,
                       note=note, actor=actor)


@transaction.atomic
def lifecycle_drop_out(*, prepatient: Prepatient, note: str = "", actor: Any = None,
                       on: date | None = None) -> LifecycleEvent:
    return _transition(prepatient, allowed_from=(PrepatientState.ACTIVE,),
                       to=PrepatientState.DROPPED_OUT, event=LifecycleEventType.DROPPED_OUT,
                       note=note, actor=actor, on=on)


@transaction.atomic
def lifecycle_register_death(*, prepatient: Prepatient, on: date, note: str,
                             actor: Any) -> LifecycleEvent:
    note = require_reason(note)
    return _transition(
        prepatient, allowed_from=DEATH_REGISTERED_FROM, to=PrepatientState.DECEASED,
        event=LifecycleEventType.DECEASED, on=on, note=note, actor=actor,
    )


@transaction.atomic
def lifecycle_consent_withdrawn(*, prepatient: Prepatient, actor: Any = None) -> None:
    """Called by the consent service: an active prepatient leaves the programme at once."""
    locked = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
    if locked.state == PrepatientState.ACTIVE:
        _transition(prepatient, allowed_from=(PrepatientState.ACTIVE,),
                    to=PrepatientState.EXCLUDED, event=LifecycleEventType.CONSENT_WITHDRAWN,
                    reason=ExclusionReason.CONSENT_WITHDRAWN, actor=actor)


@transaction.atomic
def lifecycle_complete(*, prepatient: Prepatient) -> LifecycleEvent:
    """At the end of the individual period an active prepatient has completed."""
    locked = Prepatient.objects.select_for_update().get(pk=prepatient.pk)
    if locked.end_date is None or clock.today() < locked.end_date:
        raise InvalidTransition(_("The individual programme period has not ended yet."))
    return _transition(prepatient, allowed_from=(PrepatientState.ACTIVE,),
                       to=PrepatientState.COMPLETED, event=LifecycleEventType.COMPLETED,
                       on=locked.end_date)


# --- Ratings of providers -------------------------------------------------------------
# Who may rate, and when, is read by ``selectors.may_rate``.


def _clean_rating(stars: int | str, comment: str) -> tuple[int, str]:
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
    value, comment = _clean_rating(stars, comment)
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


# --- Vulnerable-area postcodes ------------------------------------------------------------


@dataclass(frozen=True)
class PostcodeImport:
    """What an import of vulnerable-area postcodes did."""

    added: int
    skipped: int  # already listed for the programme: kept as they were


def vulnerable_postcodes_import(*, programme: Programme, text: str) -> PostcodeImport:
    """Adds the postcodes of a CSV file (``imports.parse_postcode_csv``) that the
    programme does not have yet.

    A file with bad lines raises ``InvalidInput`` (every line named) and nothing is
    written. Existing rows are kept as they are (nothing is replaced); the whole
    file is written in one transaction.
    """
    rows = parse_postcode_csv(text)
    with transaction.atomic():
        existing = VulnerableAreaPostcode.objects.filter(programme=programme)
        before = existing.count()
        VulnerableAreaPostcode.objects.bulk_create(
            [VulnerableAreaPostcode(programme=programme, postcode=postcode, area_name=area)
             for postcode, area in rows],
            ignore_conflicts=True, batch_size=1000,
        )
        added = existing.count() - before
    return PostcodeImport(added=added, skipped=len(rows) - added)
