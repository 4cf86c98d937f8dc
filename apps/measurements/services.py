"""Measurement intake, the follow-up schedule and safety notices.

Every value enters through ``measurements_record_batch`` (one value is a batch
of one): it checks the consent gate, converts to the canonical unit, refuses
implausible values, stores each source record once, derives BMI, keeps the
follow-up schedule's completeness and raises safety notices, all in one
transaction per batch, and answers every item in its place.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.consent.gate import consented, prepatients_for_provider
from apps.core import clock
from apps.core.errors import InvalidInput
from apps.core.events import publish_to_provider
from apps.measurements import events, rules, selectors
from apps.measurements.errors import MeasurementRefused
from apps.measurements.models import (
    SOURCE_OF,
    FollowUpDue,
    FollowUpReminder,
    Measurement,
    MeasurementType,
    ReporterKind,
    SafetyNotice,
)
from apps.programs.selectors import terms_of_versions, version_terms
from apps.providers.models import Provider
from apps.registry.models import ExclusionReason, LifecycleEvent, Prepatient, PrepatientState
from apps.registry.services import lifecycle_complete, lifecycle_exclude
from prevention_engine import criteria, followup
from prevention_engine.units import plausible

logger = logging.getLogger(__name__)


# --- Reporters and inputs ----------------------------------------------------


@dataclass(frozen=True)
class Reporter:
    """Who reports values; ``reference`` scopes idempotency keys."""

    kind: ReporterKind
    reference: str
    provider: Provider | None = None

    @classmethod
    def for_provider(cls, provider: Provider) -> Reporter:
        return cls(ReporterKind.PROVIDER, selectors.provider_reporter_reference(provider),
                   provider)

    @classmethod
    def for_lab(cls, name: str) -> Reporter:
        return cls(ReporterKind.LAB, f"lab:{name}")

    @classmethod
    def for_prepatient(cls) -> Reporter:
        return cls(ReporterKind.PREPATIENT, "prepatient")

    @classmethod
    def for_caseworker(cls, user: Any) -> Reporter:
        return cls(ReporterKind.CASEWORKER, f"caseworker:{user.pk}")


@dataclass(frozen=True)
class MeasurementInput:
    prepatient: str  # the programme ID (pseudonym)
    type: str  # a measurement type code
    value: Decimal | str | int
    unit: str
    taken_on: date
    source_reference: str = ""
    corrects: str = ""  # the source reference of the value this one corrects
    note: str = ""


@dataclass(frozen=True)
class UnreadableItem:
    """An item the caller could not read into a ``MeasurementInput``: its messages by
    field name. It is answered ``error`` in its place, and refuses an all-or-nothing
    batch."""

    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ItemResult:
    """One item's answer, at its position in the batch.

    ``status``: ``stored``, ``duplicate`` (its source reference was stored before:
    ``measurement_id`` is the value stored the first time), ``error`` (``errors``
    has the messages by field name) or ``not_stored`` (valid, but its all-or-nothing
    batch was refused).
    """

    index: int
    status: str
    measurement_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class BatchResult:
    """Every item's answer in the order given; ``committed``: the batch was stored
    (false: an all-or-nothing batch was refused and nothing was stored)."""

    items: list[ItemResult]
    committed: bool

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def stored(self) -> int:
        return self.count("stored")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def errors(self) -> int:
        return self.count("error")


# --- Intake --------------------------------------------------------------------


NOT_VISIBLE = gettext_lazy("No prepatient with this programme ID can receive values from you "
                           "(unknown, not listed with you, or without valid consent).")
REQUIRES_REFERENCE = (ReporterKind.LAB, ReporterKind.PROVIDER)


def _allowed_prepatients(reporter: Reporter, pseudonyms: Iterable[str]) -> dict[str, Prepatient]:
    """The consent gate: only prepatients with valid consent, and for a provider only
    its own listed prepatients, may receive values."""
    base: QuerySet[Prepatient]
    if reporter.provider is not None:
        base = prepatients_for_provider(reporter.provider)
    elif reporter.kind == ReporterKind.LAB:
        # Follow-up results are for enrolled people; inclusion samples come by referral code.
        base = consented().filter(enrolled_on__isnull=False)
    else:
        base = consented()
    rows = base.filter(pseudonym__in=set(pseudonyms)).select_related("programme")
    return {p.pseudonym: p for p in rows}


def measurements_record_batch(
    *,
    items: Sequence[MeasurementInput | UnreadableItem],
    reporter: Reporter,
    all_or_nothing: bool = True,
) -> BatchResult:
    """Stores a batch of values; idempotent on (reporter, source reference).

    Answers every item at its position (``BatchResult``). With ``all_or_nothing``
    one bad item stores nothing: an ``UnreadableItem`` refuses the batch before any
    value is checked, and the valid items are answered ``not_stored``. Otherwise the
    good items are stored and each bad one reports its errors. A retried batch
    stores nothing twice and reports those items as duplicates with the id of the
    value stored the first time.
    """
    if all_or_nothing and any(isinstance(item, UnreadableItem) for item in items):
        return BatchResult(items=[
            _unreadable(index, item) if isinstance(item, UnreadableItem)
            else ItemResult(index, "not_stored") for index, item in enumerate(items)
        ], committed=False)
    for attempt in range(2):
        try:
            return _record_batch(items, reporter, all_or_nothing)
        except IntegrityError:
            # A concurrent batch stored one of these source references between our
            # duplicate check and our insert: the retry reports it as a duplicate.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _unreadable(index: int, item: UnreadableItem) -> ItemResult:
    return ItemResult(index, "error", errors={name: list(messages)
                                              for name, messages in item.errors.items()})


def _record_batch(items: Sequence[MeasurementInput | UnreadableItem], reporter: Reporter,
                  all_or_nothing: bool) -> BatchResult:
    specs = selectors.type_specs()
    readable = [item for item in items if not isinstance(item, UnreadableItem)]
    allowed = _allowed_prepatients(reporter, (item.prepatient for item in readable))
    references = [ref for item in readable if (ref := item.source_reference.strip())]
    corrected_refs = [item.corrects for item in readable if item.corrects]
    existing: dict[str, int] = dict(Measurement.objects.filter(
        reporter=reporter.reference, source_reference__in=references,
    ).values_list("source_reference", "pk")) if references else {}
    corrected = {m.source_reference: m for m in Measurement.objects.filter(
        reporter=reporter.reference, source_reference__in=corrected_refs,
    ).select_related("superseded_by")} if corrected_refs else {}
    today = clock.today()
    now = clock.now()

    results: list[ItemResult] = []
    pending: list[tuple[ItemResult, Measurement]] = []
    first_sent: dict[str, ItemResult] = {}  # reference -> the valid item of this batch
    repeated: list[tuple[ItemResult, ItemResult]] = []  # (duplicate, its first_sent)
    for index, item in enumerate(items):
        if isinstance(item, UnreadableItem):
            results.append(_unreadable(index, item))
            continue
        result = ItemResult(index=index, status="error")
        results.append(result)
        errors: dict[str, list[str]] = {}
        reference = item.source_reference.strip()
        if reference and reference in existing:
            result.status = "duplicate"
            result.measurement_id = existing[reference]
            continue
        if reference and reference in first_sent:
            result.status = "duplicate"
            repeated.append((result, first_sent[reference]))
            continue
        if not reference and reporter.kind in REQUIRES_REFERENCE:
            errors["source_reference"] = [_("A source reference (sample ID or idempotency "
                                            "key) is required.")]
        prepatient = allowed.get(item.prepatient)
        if prepatient is None:
            errors["prepatient"] = [str(NOT_VISIBLE)]
        found = specs.get(item.type)
        canonical = None
        if found is None:
            errors["type"] = [_("Unknown measurement type “%(type)s”. Known types: %(known)s.")
                              % {"type": item.type, "known": ", ".join(sorted(specs))}]
        else:
            try:
                canonical = rules.convert_or_refuse(found[1], item.value, item.unit, field="value")
            except MeasurementRefused as refused:
                errors["value" if refused.code != "unknown_unit" else "unit"] = [
                    str(refused.message)]
            except TypeError:
                errors["value"] = [_("The value must be a decimal number, not a float.")]
        if item.taken_on > today:
            errors["taken_on"] = [_("The date %(date)s is in the future.")
                                  % {"date": item.taken_on.isoformat()}]
        supersedes = None
        if item.corrects:
            supersedes = corrected.get(item.corrects)
            if supersedes is None:
                errors["corrects"] = [_("No earlier value of yours has this source reference.")]
            elif hasattr(supersedes, "superseded_by"):
                errors["corrects"] = [_("That value has already been corrected.")]
            elif prepatient is not None and supersedes.prepatient_id != prepatient.pk:
                errors["corrects"] = [_("That value belongs to another prepatient.")]
        if errors or prepatient is None or found is None or canonical is None:
            result.errors = errors
            continue
        if reference:
            first_sent[reference] = result
        result.status = "valid"
        pending.append((result, Measurement(
            prepatient=prepatient, type=found[0], value=canonical,
            reported_value=Decimal(str(item.value).strip().replace(",", ".")),
            reported_unit=item.unit.strip(), taken_on=item.taken_on, received_at=now,
            reporter_kind=reporter.kind, reporter=reporter.reference,
            provider=reporter.provider, source_reference=reference, supersedes=supersedes,
            note=item.note[:300],
        )))

    if all_or_nothing and any(r.status == "error" for r in results):
        for result, _measurement in pending:
            result.status = "not_stored"
        return BatchResult(items=results, committed=False)

    with transaction.atomic():
        stored = Measurement.objects.bulk_create([m for _r, m in pending], batch_size=2000)
        for (result, _m), measurement in zip(pending, stored, strict=True):
            result.status = "stored"
            result.measurement_id = measurement.pk
        after_values_stored(stored, specs)
    for duplicate, first in repeated:
        duplicate.measurement_id = first.measurement_id
    return BatchResult(items=results, committed=True)


def measurement_record(*, prepatient: Prepatient, type: str, value: Decimal | str, unit: str,
                       taken_on: date, reporter: Reporter, source_reference: str = "",
                       corrects: str = "") -> Measurement:
    """One value; raises ``InvalidInput`` naming the field and reason."""
    result = measurements_record_batch(
        items=[MeasurementInput(prepatient=prepatient.pseudonym, type=type, value=value,
                                unit=unit, taken_on=taken_on, source_reference=source_reference,
                                corrects=corrects)],
        reporter=reporter,
    )
    item = result.items[0]
    if item.status not in ("stored", "duplicate") or item.measurement_id is None:
        raise InvalidInput(fields=item.errors)
    return Measurement.objects.get(pk=item.measurement_id)


# --- What follows a stored value ---------------------------------------------------


def after_values_stored(stored: Sequence[Measurement],
                        specs: dict[str, tuple[MeasurementType, rules.TypeSpec]]) -> None:
    """Derived BMI, follow-up completeness and safety notices, in the caller's transaction."""
    derived = _derive_bmi(stored, specs)
    everything = [*stored, *derived]
    followups_refresh(prepatient_ids={m.prepatient_id for m in everything})
    _safety_check(everything)


def _derive_bmi(stored: Sequence[Measurement],
                specs: dict[str, tuple[MeasurementType, rules.TypeSpec]]) -> list[Measurement]:
    """BMI from each weight and the prepatient's latest height up to that day."""
    if "bmi" not in specs:
        return []
    weights = [m for m in stored if m.type.code == "weight"]
    if not weights:
        return []
    heights: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for height in Measurement.objects.filter(
        prepatient_id__in={w.prepatient_id for w in weights}, type__code="height",
        superseded_by__isnull=True,
    ).values_list("prepatient_id", "taken_on", "value"):
        heights[height[0]].append((height[1], height[2]))
    bmi_type, bmi_spec = specs["bmi"]
    derived = []
    for weight in weights:
        known = [h for h in heights.get(weight.prepatient_id, []) if h[0] <= weight.taken_on]
        if not known:
            continue
        height_cm = max(known)[1]
        value = rules.bmi_from(weight_kg=weight.value, height_cm=height_cm)
        if not plausible(bmi_spec, value):
            continue
        derived.append(Measurement(
            prepatient_id=weight.prepatient_id, type=bmi_type, value=value,
            reported_value=value, reported_unit=bmi_type.canonical_unit,
            taken_on=weight.taken_on, received_at=weight.received_at,
            reporter_kind=ReporterKind.DERIVED, reporter=weight.reporter,
            provider=weight.provider,
            source_reference=f"{weight.source_reference}#bmi" if weight.source_reference else "",
            note=f"weight {weight.value} kg, height {height_cm} cm",
        ))
    return Measurement.objects.bulk_create(derived, batch_size=2000)


# --- Follow-up schedule ------------------------------------------------------------


def followup_schedule_create(*, prepatient: Prepatient) -> list[FollowUpDue]:
    """The rows of ``followup.schedule``: the baseline set (due a grace period after
    enrollment) and one due date per interval to the end of the individual period."""
    enrolled_on = prepatient.enrolled_on
    if enrolled_on is None or prepatient.programme_version is None:
        return []
    timeline = version_terms(prepatient.programme_version).timeline
    rows = [FollowUpDue(prepatient=prepatient, index=item.index, due_on=item.due_on,
                        window_start=item.window_start, window_end=item.window_end)
            for item in followup.schedule(
                enrolled_on=enrolled_on, interval_months=timeline.followup_interval_months,
                programme_months=timeline.programme_months,
                grace_days=timeline.followup_grace_days)]
    return FollowUpDue.objects.bulk_create(rows, ignore_conflicts=True)


def followups_refresh(*, prepatient_ids: Iterable[int]) -> int:
    """Marks due dates whose set has become complete; computed in SQL.

    A set is complete when every type of the follow-up set of the version the
    prepatient joined under has a current (not superseded) value taken inside the due
    date's window.
    """
    ids = list(prepatient_ids)
    if not ids:
        return 0
    now = clock.now()
    marked = 0
    by_version: dict[int, list[int]] = defaultdict(list)
    for prepatient_id, version_id in Prepatient.objects.filter(
            pk__in=ids, programme_version__isnull=False).values_list(
            "pk", "programme_version_id"):
        by_version[version_id].append(prepatient_id)
    terms = terms_of_versions(by_version)
    for version_id, members in by_version.items():
        required = list(terms[version_id].followup_measures)
        present = (Measurement.objects
                   .filter(prepatient_id=OuterRef("prepatient_id"),
                           type__code__in=required, superseded_by__isnull=True,
                           taken_on__gte=OuterRef("window_start"),
                           taken_on__lte=OuterRef("window_end"))
                   .order_by().values("prepatient_id")
                   .annotate(kinds=Count("type_id", distinct=True)).values("kinds"))
        complete = (FollowUpDue.objects
                    .filter(prepatient_id__in=members, completed_at__isnull=True)
                    .annotate(kinds=Subquery(present))
                    .filter(kinds__gte=len(set(required)))
                    .values_list("pk", flat=True))
        marked += FollowUpDue.objects.filter(pk__in=list(complete)).update(completed_at=now)
    return marked


# --- Periodic work (Celery beat), each idempotent ----------------------------------


def followups_exclude_missed(*, today: date | None = None) -> int:
    """Excludes active prepatients with a set whose exclusion is due
    (``followup.exclusion_due``: incomplete a grace period after its due date).

    A caseworker's reinstatement forgives what was missed before it: only due
    dates whose grace period ended after the latest reinstatement count.
    """
    today = today or clock.today()
    last_reinstated = (LifecycleEvent.objects
                       .filter(prepatient_id=OuterRef("prepatient_id"), type="reinstated")
                       .order_by("-on").values("on")[:1])
    missed = (FollowUpDue.objects
              .filter(completed_at__isnull=True, prepatient__state=PrepatientState.ACTIVE,
                      prepatient__programme_version__isnull=False)
              .annotate(version_id=F("prepatient__programme_version_id"),
                        reinstated_on=Subquery(last_reinstated)))
    grace = {pk: terms.timeline.followup_grace_days for pk, terms in terms_of_versions(
        missed.values_list("version_id", flat=True).distinct()).items()}
    excluded = 0
    seen: set[int] = set()
    for due in missed.filter(due_on__lt=today).select_related("prepatient__programme"):
        if due.prepatient_id in seen or not followup.exclusion_due(
                due_on=due.due_on, complete=due.completed_at is not None, today=today,
                grace_days=grace[due.version_id], reinstated_on=due.reinstated_on):
            continue
        seen.add(due.prepatient_id)
        lifecycle_exclude(prepatient=due.prepatient, reason=ExclusionReason.MISSED_FOLLOWUP,
                          note=f"Follow-up set {due.index} due {due.due_on} not complete")
        excluded += 1
    return excluded


def followups_send_reminders(*, today: date | None = None) -> int:
    """Emails each prepatient once per due date while ``followup.reminder_due``
    (from ``reminder_days_before`` days ahead up to the due date)."""
    today = today or clock.today()
    due_soon = (FollowUpDue.objects
                .filter(completed_at__isnull=True, due_on__gte=today,
                        prepatient__state=PrepatientState.ACTIVE,
                        prepatient__user__isnull=False)
                .exclude(prepatient__user__email="")
                .filter(prepatient__programme_version__isnull=False)
                .select_related("prepatient__programme", "prepatient__user"))
    # Only due dates within the longest lead time of any version can be due a reminder.
    lead = {pk: terms.timeline.reminder_days_before for pk, terms in terms_of_versions(
        due_soon.values_list("prepatient__programme_version_id", flat=True).distinct()
    ).items()}
    longest = max(lead.values(), default=0)
    sent = 0
    for due in due_soon.filter(due_on__lte=today + timedelta(days=longest)):
        version_id = due.prepatient.programme_version_id
        assert version_id is not None
        if not followup.reminder_due(
                due_on=due.due_on, complete=due.completed_at is not None, today=today,
                days_before=lead[version_id]):
            continue
        with transaction.atomic():
            _reminder, created = FollowUpReminder.objects.get_or_create(
                prepatient=due.prepatient, due_on=due.due_on, defaults={"sent_at": clock.now()})
            if not created:
                continue
            _mail_reminder(due)
        sent += 1
    return sent


def _mail_reminder(due: FollowUpDue) -> None:
    user = due.prepatient.user
    assert user is not None
    with translation.override("sv"):
        subject = _("Time for your follow-up tests")
        body = _("Hello! Your next follow-up is due on %(date)s. Please have your blood tests "
                 "taken and your measurements reported by your provider before then. "
                 "If you have questions, contact your provider.") % {
                     "date": due.due_on.isoformat()}
    transaction.on_commit(lambda: send_mail(subject, body, None, [user.email]))


def prepatients_complete_ended(*, today: date | None = None) -> int:
    """Active prepatients whose individual period has ended have completed."""
    today = today or clock.today()
    ended = Prepatient.objects.filter(state=PrepatientState.ACTIVE, end_date__lte=today)
    count = 0
    for prepatient in ended.iterator():
        lifecycle_complete(prepatient=prepatient)
        count += 1
    return count


# --- Safety ------------------------------------------------------------------------------


def _safety_check(values: Sequence[Measurement]) -> None:
    """The safety checks of the version each prepatient joined under, on each new value
    of a measure they name from a source they read: a value that a check refers opens
    a notice (one per episode); a later such value of the same measure that none refers
    closes it."""
    if not values:
        return
    by_prepatient: dict[int, list[Measurement]] = defaultdict(list)
    for value in values:
        by_prepatient[value.prepatient_id].append(value)
    prepatients = {p.pk: p for p in Prepatient.objects.filter(
        pk__in=by_prepatient, programme_version__isnull=False).select_related(
        "programme", "current_provider", "user")}
    terms = terms_of_versions(p.programme_version_id for p in prepatients.values())
    open_notices = {n.prepatient_id: n for n in SafetyNotice.objects.filter(
        prepatient_id__in=by_prepatient, closed_by__isnull=True).select_related(
        "measurement__type")}
    for prepatient_id, stored in by_prepatient.items():
        prepatient = prepatients.get(prepatient_id)
        if prepatient is None or prepatient.programme_version_id is None:
            continue
        checks = terms[prepatient.programme_version_id].safety
        for value in sorted(stored, key=lambda m: (m.taken_on, m.pk)):
            source = SOURCE_OF[ReporterKind(value.reporter_kind)]
            if not criteria.watches(checks, value.type.code, source):
                continue
            facts = criteria.Facts(on=value.taken_on, samples={value.type.code: [
                criteria.Sample(value.taken_on, value.value, source)]})
            referred = criteria.referrals(checks, facts)
            notice = open_notices.get(prepatient_id)
            if referred and notice is None:
                open_notices[prepatient_id] = _raise_notice(prepatient, value)
            elif (not referred and notice is not None
                  and notice.measurement.type_id == value.type_id
                  and value.taken_on > notice.measurement.taken_on):
                notice.closed_by = value
                notice.save(update_fields=["closed_by"])
                del open_notices[prepatient_id]


def _raise_notice(prepatient: Prepatient, value: Measurement) -> SafetyNotice:
    notice = SafetyNotice.objects.create(
        prepatient=prepatient, measurement=value, provider=prepatient.current_provider,
        raised_at=clock.now(),
        prepatient_notified_at=clock.now() if prepatient.user_id else None,
    )
    publish_to_provider(provider_id=prepatient.current_provider_id,
                        kind=events.SAFETY_NOTICE, subject=prepatient.pseudonym,
                        on=value.taken_on, measurement=value.type.code,
                        value=str(value.value), unit=value.type.canonical_unit)
    user = prepatient.user
    if user is not None and user.email:
        with translation.override("sv"):
            subject = _("Please contact your health centre")
            body = _("A recent value (%(measure)s %(value)s %(unit)s) needs to be checked "
                     "by your health centre. Please contact your health centre "
                     "(vårdcentral). This is a message from the prevention programme.") % {
                         "measure": value.type.name_sv, "value": formats.localize(value.value),
                         "unit": value.type.canonical_unit}
        transaction.on_commit(lambda: send_mail(subject, body, None, [user.email]))
    logger.info("Safety notice %s raised", notice.pk)
    return notice
