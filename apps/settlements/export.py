"""The settlement input as the auditor sees it, read from the database.

``iter_prepatients`` reads what a run settles — the prepatients who joined the
programme under one version of its definition (``version``), enrolled on or
before ``as_of``, their listings, lifecycle events, baseline and the values of
every measure an outcome criterion or disqualifier names — as the interchange
format's plain values, with pseudonymous IDs only. Only what
was recorded by the run's data cutoff (the moment it was prepared) is read, so
the same run always gives the same input, however much arrives later (with no
cutoff, everything known now is read: the forecast, an export as of a date).
``iter_input_lines`` streams the auditor's file (``prevention-settlement-input/2``):
on PostgreSQL built line by line by the database (``export_sql``), elsewhere written
from ``iter_prepatients`` by the engine's writer (``engine_input_lines``), the same
bytes. ``settlement_input`` holds the input in memory for the rule engine. Ordering
is by database id wherever the rules break ties by input order, so the file, the rule
engine and the SQL path agree line by line.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

from django.db import connection, transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.measurements.models import (
    SOURCE_OF,
    FollowUpDue,
    Measurement,
    MeasurementType,
    ReporterKind,
)
from apps.programs.models import ProgrammeVersion
from apps.providers.models import AuthorizationDecision, AuthorizationStatus, Provider
from apps.registry.models import LifecycleEvent, Listing, Prepatient
from apps.settlements import export_sql
from apps.settlements.errors import RunNotExportable
from apps.settlements.models import SettlementRun
from apps.settlements.rules import provider_key, run_version, settlement_rules
from prevention_engine.baseline import baseline_sources, baseline_values
from prevention_engine.interchange import ProviderIn, SettlementInput, input_lines, plain
from prevention_engine.model import (
    EVENT_TYPES,
    Baseline,
    Event,
    PrepatientIn,
    Rules,
    Sample,
)
from prevention_engine.model import (
    Listing as ListingIn,
)

LOST_AUTHORIZATION = (AuthorizationStatus.SUSPENDED, AuthorizationStatus.REVOKED)
CHUNK = 5_000  # rows fetched at a time by the streaming readers
FORMAT_VERSION = 2  # the settlement format of the runs whose input is exported


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


def unit_spellings(codes: Iterable[str]) -> dict[int, tuple[str, dict[str, str]]]:
    """Per measurement type id: its code and each accepted unit by its folded spelling
    (a value reported as "MMOL/MOL" is written as "mmol/mol")."""
    spellings: dict[int, tuple[str, dict[str, str]]] = {}
    for kind in MeasurementType.objects.filter(code__in=list(codes)).prefetch_related("units"):
        units = {kind.canonical_unit.strip().casefold(): kind.canonical_unit}
        for accepted in kind.units.all():
            units.setdefault(accepted.unit.strip().casefold(), accepted.unit)
        spellings[kind.pk] = (kind.code, units)
    return spellings


def _recorded(field: str, cutoff: datetime | None) -> dict[str, datetime]:
    """The filter "recorded by the cutoff" (nothing when there is no cutoff: all known now)."""
    return {} if cutoff is None else {f"{field}__lte": cutoff}


def current_values(version: ProgrammeVersion, as_of: date, cutoff: datetime | None,
                   type_ids: Iterable[int]) -> Any:
    """The values a run reads: of the given types, taken by ``as_of``, recorded by the
    cutoff and not corrected by then."""
    corrected = Measurement.objects.filter(supersedes=OuterRef("pk"),
                                           **_recorded("received_at", cutoff))
    return (Measurement.objects
            .filter(prepatient__programme_version=version, type_id__in=list(type_ids),
                    taken_on__lte=as_of, **_recorded("received_at", cutoff))
            .exclude(Exists(corrected)))


def settled_prepatients(version: ProgrammeVersion, as_of: date, cutoff: datetime | None) -> Any:
    """The prepatients a run settles: enrolled on or before ``as_of``, recorded by the cutoff."""
    recorded = Listing.objects.filter(prepatient=OuterRef("pk"),
                                      **_recorded("created_at", cutoff))
    return Prepatient.objects.filter(programme_version=version, enrolled_on__isnull=False,
                                     enrolled_on__lte=as_of).filter(Exists(recorded))


def iter_prepatients(version: ProgrammeVersion, as_of: date, cutoff: datetime | None,
                     rules: Rules | None = None) -> Iterator[PrepatientIn]:
    """The prepatients of the input in id order, read as ordered streams and joined as
    they go: memory stays flat whatever the size of the programme."""
    rules = rules or settlement_rules(version)
    spellings = unit_spellings(rules.measures)
    compared = baseline_sources(rules)
    prepatients = (settled_prepatients(version, as_of, cutoff).order_by("id")
                   .values_list("id", "pseudonym", "enrolled_on").iterator(CHUNK))
    listings = _Cursor(Listing.objects.filter(
        prepatient__programme_version=version, valid_from__lte=as_of,
        **_recorded("created_at", cutoff),
    ).order_by("prepatient_id", "valid_from", "id").values_list(
        "prepatient_id", "provider_id", "valid_from").iterator(CHUNK))
    events = _Cursor(LifecycleEvent.objects.filter(
        prepatient__programme_version=version, type__in=EVENT_TYPES, on__lte=as_of,
        **_recorded("created_at", cutoff),
    ).order_by("prepatient_id", "on", "id").values_list(
        "prepatient_id", "type", "on", "reason").iterator(CHUNK))
    samples = _Cursor(current_values(version, as_of, cutoff, spellings)
                      .order_by("prepatient_id", "taken_on", "id").values_list(
        "prepatient_id", "id", "type_id", "reported_value", "reported_unit", "taken_on",
        "reporter_kind").iterator(CHUNK))
    baselines = _Cursor(FollowUpDue.objects.filter(
        prepatient__programme_version=version, index=0, completed_at__isnull=False,
        **_recorded("completed_at", cutoff),
    ).order_by("prepatient_id").values_list(
        "prepatient_id", "window_start", "window_end").iterator(CHUNK))
    for pk, pseudonym, enrolled_on in prepatients:
        values = tuple(_sample(row, spellings) for row in samples.take(pk))
        baseline_rows = baselines.take(pk)
        baseline = None
        if baseline_rows:
            _pk, first, last = baseline_rows[0]
            baseline = Baseline(enrolled_on, baseline_values(values, compared, first, last))
        yield PrepatientIn(
            id=pseudonym, enrolled_on=enrolled_on, baseline=baseline,
            listings=tuple(ListingIn(provider_key(provider_id), valid_from)
                           for _pk, provider_id, valid_from in listings.take(pk)),
            events=tuple(Event(on, kind, (reason or "unspecified") if kind == "excluded" else "")
                         for _pk, kind, on, reason in events.take(pk)),
            measurements=values,
        )


def _sample(row: tuple[Any, ...], spellings: dict[int, tuple[str, dict[str, str]]]) -> Sample:
    _pk, measurement_id, type_id, value, unit, taken_on, kind = row
    code, units = spellings[type_id]
    number = Decimal(value)
    text = plain(number)
    return Sample(code, Decimal(text), text, units.get(unit.strip().casefold(), unit), taken_on,
                  SOURCE_OF[ReporterKind(kind)], str(measurement_id))


def settled_providers(version: ProgrammeVersion, as_of: date,
                      cutoff: datetime | None) -> tuple[ProviderIn, ...]:
    """Every provider a prepatient of the run was listed with, with the day it first lost
    its authorization (suspended or revoked) by the cutoff, if it has."""
    listed = Listing.objects.filter(prepatient__programme_version=version,
                                    valid_from__lte=as_of,
                                    **_recorded("created_at", cutoff)).values("provider_id")
    lost = dict(AuthorizationDecision.objects.filter(
        provider_id__in=listed, to_status__in=LOST_AUTHORIZATION, **_recorded("at", cutoff),
    ).values("provider_id").annotate(first=Min("at")).values_list("provider_id", "first"))
    return tuple(
        ProviderIn(provider_key(pk), name,
                   timezone.localtime(lost[pk]).date() if pk in lost else None)
        for pk, name in Provider.objects.filter(pk__in=listed).order_by("id")
        .values_list("id", "name"))


@contextmanager
def consistent_read() -> Iterator[None]:
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


def settlement_input(version: ProgrammeVersion, as_of: date,
                     cutoff: datetime | None) -> SettlementInput:
    """The whole input in memory (the rule engine's argument)."""
    rules = settlement_rules(version)
    with consistent_read():
        return SettlementInput(version=2, as_of=as_of, rules=rules,
                               providers=settled_providers(version, as_of, cutoff),
                               prepatients=tuple(iter_prepatients(version, as_of, cutoff,
                                                                  rules)))


def iter_input_lines(version: ProgrammeVersion, as_of: date,
                     cutoff: datetime | None) -> Iterator[str]:
    """The auditor's file (``prevention-settlement-input/2``) as text, one prepatient per
    line, written without holding the document in memory: on PostgreSQL each line is
    built by the database (``export_sql``), elsewhere by ``engine_input_lines``; the
    bytes are the same."""
    if connection.vendor != "postgresql":
        yield from engine_input_lines(version, as_of, cutoff)
        return
    rules = settlement_rules(version)
    with consistent_read():
        yield from export_sql.input_lines(version, as_of, cutoff, rules,
                                          settled_providers(version, as_of, cutoff),
                                          unit_spellings(rules.measures))


def engine_input_lines(version: ProgrammeVersion, as_of: date,
                       cutoff: datetime | None) -> Iterator[str]:
    """The auditor's file written by the engine's writer from ``iter_prepatients`` (the
    path on SQLite, and what the database's file is compared with)."""
    rules = settlement_rules(version)
    with consistent_read():
        yield from input_lines(as_of, rules, settled_providers(version, as_of, cutoff),
                               iter_prepatients(version, as_of, cutoff, rules))


def run_input_lines(run: SettlementRun) -> Iterator[str]:
    """The auditor's file of ``run`` (as ``iter_input_lines``, with the run's data cutoff);
    ``RunNotExportable`` at once for a run computed in another settlement format."""
    if run.format_version != FORMAT_VERSION:
        raise RunNotExportable(_("This run was computed with version %(version)s of the "
                                 "settlement format; only version 2 runs are exported.")
                               % {"version": run.format_version})
    return iter_input_lines(run_version(run), run.as_of, run.data_cutoff)


def write_input(version: ProgrammeVersion, as_of: date, cutoff: datetime | None,
                out: TextIO) -> None:
    for piece in iter_input_lines(version, as_of, cutoff):
        out.write(piece)
