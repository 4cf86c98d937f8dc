"""The settlement input as the auditor sees it, read from the database.

``settlement_input`` builds a ``SettlementInput`` (the interchange format's
content) for a programme as of a date, with pseudonymous IDs only;
``write_input`` streams the same document to a file for the auditor. Ordering
is by database id wherever the rules break ties by input order, so the file,
the rule engine and the SQL path agree line by line.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TextIO

from django.db import connection, transaction

from apps.measurements.models import FollowUpDue, Measurement, ReporterKind
from apps.programs.models import Programme
from apps.providers.models import Provider
from apps.registry.models import LifecycleEvent, Listing, Prepatient
from apps.settlements.interchange import SettlementInput, input_document, prepatient_document
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


CHUNK = 5_000  # rows fetched at a time by the streaming readers


def _grouped(rows: Iterable[tuple[Any, ...]]) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    """(prepatient_id, rows) from rows ordered by prepatient_id (first column)."""
    for key, group in itertools.groupby(rows, key=operator.itemgetter(0)):
        yield key, list(group)


class _Cursor:
    """Walks one ordered stream alongside the prepatients (a merge join)."""

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self._groups = _grouped(rows)
        self._current = next(self._groups, None)

    def take(self, prepatient_id: int) -> list[tuple[Any, ...]]:
        while self._current is not None and self._current[0] < prepatient_id:
            self._current = next(self._groups, None)
        if self._current is not None and self._current[0] == prepatient_id:
            rows = self._current[1]
            self._current = next(self._groups, None)
            return rows
        return []


def _provider_ids(programme: Programme, as_of: date) -> list[int]:
    return sorted(set(Listing.objects.filter(
        prepatient__programme=programme, valid_from__lte=as_of,
    ).values_list("provider_id", flat=True).distinct()))


def iter_prepatients(programme: Programme, as_of: date) -> Iterator[PrepatientIn]:
    """The prepatients of the input in id order, read as ordered streams and joined as
    they go: memory stays flat whatever the size of the programme."""
    rules = programme_rules(programme)
    prepatients = Prepatient.objects.filter(
        programme=programme, enrolled_on__isnull=False, enrolled_on__lte=as_of,
    ).order_by("id").values_list("id", "pseudonym", "enrolled_on").iterator(CHUNK)
    listings = _Cursor(Listing.objects.filter(
        prepatient__programme=programme, valid_from__lte=as_of,
    ).order_by("prepatient_id", "valid_from", "id").values_list(
        "prepatient_id", "provider_id", "valid_from").iterator(CHUNK))
    events = _Cursor(LifecycleEvent.objects.filter(
        prepatient__programme=programme, type__in=EVENT_TYPES, on__lte=as_of,
    ).order_by("prepatient_id", "on", "id").values_list(
        "prepatient_id", "type", "on", "reason").iterator(CHUNK))
    samples = _Cursor(Measurement.objects.filter(
        prepatient__programme=programme, type__code=rules.outcome_measure,
        superseded_by__isnull=True, taken_on__lte=as_of,
    ).order_by("prepatient_id", "taken_on", "id").values_list(
        "prepatient_id", "id", "value", "type__canonical_unit", "taken_on",
        "reporter_kind").iterator(CHUNK))
    baselines = _Cursor((prepatient_id,) for prepatient_id in FollowUpDue.objects.filter(
        prepatient__programme=programme, index=0, completed_at__isnull=False,
    ).order_by("prepatient_id").values_list("prepatient_id", flat=True).iterator(CHUNK))
    for pk, pseudonym, enrolled_on in prepatients:
        if enrolled_on is None:  # excluded by the query; keeps the type checker exact
            continue
        yield PrepatientIn(
            id=pseudonym, enrolled_on=enrolled_on, baseline=bool(baselines.take(pk)),
            listings=tuple(ListingIn(provider_key(provider_id), valid_from)
                           for _pk, provider_id, valid_from in listings.take(pk)),
            events=tuple(EventIn(on, EventType(kind),
                                 (reason or "unspecified") if kind == EventType.EXCLUDED else "")
                         for _pk, kind, on, reason in events.take(pk)),
            measurements=tuple(SampleIn(
                type=rules.outcome_measure, value=value.normalize(), unit=unit,
                taken_on=taken_on, source=SOURCE[ReporterKind(kind)], reference=str(sample_pk))
                for _pk, sample_pk, value, unit, taken_on, kind in samples.take(pk)),
        )


def _providers(programme: Programme, as_of: date) -> tuple[tuple[str, str], ...]:
    return tuple((provider_key(pk), name) for pk, name in Provider.objects.filter(
        pk__in=_provider_ids(programme, as_of)).order_by("id").values_list("id", "name"))


@contextmanager
def _consistent_read() -> Iterator[None]:
    """One snapshot for every stream of the export, planned for reading them whole.

    On PostgreSQL the streams are server-side cursors, which the planner would
    otherwise optimise for their first 10 % of rows (nested loops over indexes:
    minutes instead of seconds at 30,000 prepatients).
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if outermost:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        yield


def settlement_input(programme: Programme, as_of: date) -> SettlementInput:
    """The whole input in memory (the rule engine's argument)."""
    with _consistent_read():
        return SettlementInput(as_of=as_of, programme=programme_rules(programme),
                               providers=_providers(programme, as_of),
                               prepatients=tuple(iter_prepatients(programme, as_of)))


def iter_input_json(programme: Programme, as_of: date) -> Iterator[str]:
    """The auditor's file (``prevention-settlement-input/1``) as text pieces, one per
    prepatient: the same document as ``input_document(settlement_input(…))``, written
    without holding it in memory."""
    with _consistent_read():
        head = SettlementInput(as_of=as_of, programme=programme_rules(programme),
                               providers=_providers(programme, as_of), prepatients=())
        text = json.dumps(input_document(head), ensure_ascii=False)
        empty = '"prepatients": []}'
        assert text.endswith(empty)  # the prepatients come last
        yield text[:-len(empty)] + '"prepatients": ['
        separator = ""
        for prepatient in iter_prepatients(programme, as_of):
            yield separator + json.dumps(prepatient_document(prepatient), ensure_ascii=False)
            separator = ", "
        yield "]}"


def write_input(programme: Programme, as_of: date, out: TextIO) -> None:
    for piece in iter_input_json(programme, as_of):
        out.write(piece)
