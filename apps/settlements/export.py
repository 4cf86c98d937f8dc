"""The settlement input as the auditor sees it, read from the database.

``settlement_input`` builds a ``SettlementInput`` (the interchange format's
content) for a programme as of a date, with pseudonymous IDs only. Ordering
is by database id wherever the rules break ties by input order, so the file,
the rule engine and the SQL path agree line by line.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from apps.measurements.models import FollowUpDue, Measurement, ReporterKind
from apps.programs.models import Programme
from apps.providers.models import Provider
from apps.registry.models import LifecycleEvent, Listing, Prepatient
from apps.settlements.interchange import SettlementInput
from apps.settlements.rules import (
    EventIn,
    EventType,
    ListingIn,
    PrepatientIn,
    ProgrammeRules,
    SampleIn,
)

# Who reported a value, as the format names it. Only "lab" can decide an outcome.
SOURCE = {
    ReporterKind.LAB: "lab",
    ReporterKind.PROVIDER: "provider",
    ReporterKind.DERIVED: "provider",
    ReporterKind.PREPATIENT: "self",
    ReporterKind.CASEWORKER: "self",
}
EVENT_TYPES = [t.value for t in EventType]


def programme_rules(programme: Programme) -> ProgrammeRules:
    return ProgrammeRules(
        code=programme.code, programme_months=programme.programme_months,
        switch_months=programme.switch_months, outcome_measure=programme.outcome_measure,
        outcome_below=programme.outcome_below.normalize(),
        outcome_unit=programme.outcome_unit,
        outcome_window_days=programme.outcome_window_days,
        payment_per_success=programme.payment_per_success, currency=programme.currency,
        floor_share=programme.floor_share.normalize(),
        ceiling_share=programme.ceiling_share.normalize(),
        min_attributed=programme.min_attributed,
    )


def provider_key(provider_id: int) -> str:
    return f"P{provider_id}"


def settlement_input(programme: Programme, as_of: date) -> SettlementInput:
    rules = programme_rules(programme)
    prepatients = list(Prepatient.objects.filter(
        programme=programme, enrolled_on__isnull=False, enrolled_on__lte=as_of,
    ).order_by("id").values_list("id", "pseudonym", "enrolled_on"))

    listings: dict[int, list[ListingIn]] = defaultdict(list)
    provider_ids: set[int] = set()
    for prepatient_id, provider_id, valid_from in Listing.objects.filter(
        prepatient__programme=programme, valid_from__lte=as_of,
    ).order_by("prepatient_id", "valid_from", "id").values_list(
            "prepatient_id", "provider_id", "valid_from"):
        listings[prepatient_id].append(ListingIn(provider_key(provider_id), valid_from))
        provider_ids.add(provider_id)

    events: dict[int, list[EventIn]] = defaultdict(list)
    for prepatient_id, kind, on, reason in LifecycleEvent.objects.filter(
        prepatient__programme=programme, type__in=EVENT_TYPES, on__lte=as_of,
    ).order_by("prepatient_id", "on", "id").values_list("prepatient_id", "type", "on", "reason"):
        exclusion_reason = (reason or "unspecified") if kind == EventType.EXCLUDED else ""
        events[prepatient_id].append(EventIn(on, EventType(kind), exclusion_reason))

    samples: dict[int, list[SampleIn]] = defaultdict(list)
    for prepatient_id, pk, value, unit, taken_on, kind in Measurement.objects.filter(
        prepatient__programme=programme, type__code=rules.outcome_measure,
        superseded_by__isnull=True, taken_on__lte=as_of,
    ).order_by("prepatient_id", "taken_on", "id").values_list(
            "prepatient_id", "id", "value", "type__canonical_unit", "taken_on",
            "reporter_kind"):
        samples[prepatient_id].append(SampleIn(
            type=rules.outcome_measure, value=value.normalize(), unit=unit, taken_on=taken_on,
            source=SOURCE[ReporterKind(kind)], reference=str(pk)))

    with_baseline = set(FollowUpDue.objects.filter(
        prepatient__programme=programme, index=0, completed_at__isnull=False,
    ).values_list("prepatient_id", flat=True))

    providers = tuple((provider_key(pk), name) for pk, name in Provider.objects.filter(
        pk__in=provider_ids).order_by("id").values_list("id", "name"))
    return SettlementInput(
        as_of=as_of, programme=rules, providers=providers,
        prepatients=tuple(
            PrepatientIn(id=pseudonym, enrolled_on=enrolled_on, baseline=pk in with_baseline,
                         listings=tuple(listings[pk]), events=tuple(events[pk]),
                         measurements=tuple(samples[pk]))
            for pk, pseudonym, enrolled_on in prepatients if enrolled_on is not None
        ),
    )

