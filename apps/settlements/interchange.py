"""The auditor's interchange format, version 1 (SETTLEMENT_FORMAT.md).

``parse_input`` validates a ``prevention-settlement-input/1`` document and
names the offending path on the first problem (``prepatients[3].listings[0].from:
not a date``); ``recompute`` applies the rule engine; ``result_document``
writes ``prevention-settlement-result/1``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.settlements.rules import (
    TWO_PLACES,
    Evaluation,
    EventIn,
    EventType,
    ListingIn,
    PrepatientIn,
    ProgrammeRules,
    ProviderSettlement,
    SampleIn,
    evaluate_prepatient,
    settle_counts,
    switch_violation,
)

INPUT_FORMAT = "prevention-settlement-input/1"
RESULT_FORMAT = "prevention-settlement-result/1"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
SOURCES = {"lab", "provider", "self"}
HBA1C_UNITS = {"mmol/mol", "%"}


class InvalidSettlementInput(ValueError):
    """The input breaks the format; ``path`` names where (``prepatients[3].events[0].on``)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class SettlementInput:
    as_of: date
    programme: ProgrammeRules
    providers: tuple[tuple[str, str], ...]  # (id, name) in input order
    prepatients: tuple[PrepatientIn, ...]


@dataclass(frozen=True)
class SettlementResult:
    as_of: date
    programme: str
    providers: tuple[ProviderSettlement, ...]
    evaluations: tuple[Evaluation, ...]

    @property
    def total_amount(self) -> Decimal:
        return sum((p.amount for p in self.providers), Decimal("0")).quantize(TWO_PLACES)


# --- Reading ---------------------------------------------------------------------


class _Reader:
    """A value in the document with the path to it (built only when it is reported)."""

    __slots__ = ("key", "parent", "value")

    def __init__(self, value: Any, parent: _Reader | None = None,
                 key: str | int | None = None) -> None:
        self.value = value
        self.parent = parent
        self.key = key

    @property
    def path(self) -> str:
        if self.parent is None:
            return ""
        return self.parent._at(self.key)

    def fail(self, problem: str, key: str | None = None) -> InvalidSettlementInput:
        return InvalidSettlementInput(self._at(key) if key is not None else self.path or "$",
                                      problem)

    def _at(self, key: str | int | None) -> str:
        base = self.path
        if key is None:
            return base
        if isinstance(key, int):
            return f"{base}[{key}]"
        return f"{base}.{key}" if base else key

    def obj(self) -> Mapping[str, Any]:
        if not isinstance(self.value, dict):
            raise self.fail("not an object")
        return self.value

    def get(self, key: str) -> _Reader:
        mapping = self.obj()
        if key not in mapping:
            raise self.fail("missing", key)
        return _Reader(mapping[key], self, key)

    def optional(self, key: str) -> _Reader | None:
        mapping = self.obj()
        return _Reader(mapping[key], self, key) if key in mapping else None

    def items(self) -> list[_Reader]:
        if not isinstance(self.value, list):
            raise self.fail("not a list")
        return [_Reader(item, self, index) for index, item in enumerate(self.value)]

    def string(self) -> str:
        if not isinstance(self.value, str) or not self.value:
            raise self.fail("not a non-empty string")
        return self.value

    def date(self) -> date:
        if isinstance(self.value, str) and _DATE.match(self.value):
            try:
                return date.fromisoformat(self.value)
            except ValueError:
                pass
        raise self.fail("not a date")

    def decimal(self) -> Decimal:
        if isinstance(self.value, str) and _DECIMAL.match(self.value):
            try:
                return Decimal(self.value)
            except InvalidOperation:
                pass
        raise self.fail("not a decimal string")

    def integer(self, minimum: int = 0) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail("not an integer")
        if self.value < minimum:
            raise self.fail(f"below {minimum}")
        return self.value

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail("not a boolean")
        return self.value

    def choice(self, allowed: set[str]) -> str:
        value = self.string()
        if value not in allowed:
            raise self.fail(f"not one of {', '.join(sorted(allowed))}")
        return value


def _share(reader: _Reader) -> Decimal:
    value = reader.decimal()
    if not Decimal("0") <= value <= Decimal("1"):
        raise reader.fail("not between 0 and 1")
    return value


def _programme(reader: _Reader) -> ProgrammeRules:
    rules = ProgrammeRules(
        code=reader.get("code").string(),
        programme_months=reader.get("programme_months").integer(minimum=1),
        switch_months=reader.get("switch_months").integer(),
        outcome_measure=reader.get("outcome_measure").string(),
        outcome_below=reader.get("outcome_below").decimal(),
        outcome_unit=reader.get("outcome_unit").choice({"mmol/mol"}),
        outcome_window_days=reader.get("outcome_window_days").integer(),
        payment_per_success=reader.get("payment_per_success").decimal(),
        currency=reader.get("currency").string(),
        floor_share=_share(reader.get("floor_share")),
        ceiling_share=_share(reader.get("ceiling_share")),
        min_attributed=reader.get("min_attributed").integer(),
    )
    if rules.switch_months > rules.programme_months:
        raise reader.fail("longer than programme_months", "switch_months")
    if rules.floor_share > rules.ceiling_share:
        raise reader.fail("above ceiling_share", "floor_share")
    if rules.payment_per_success < 0:
        raise reader.fail("negative", "payment_per_success")
    return rules


def _event(reader: _Reader) -> EventIn:
    kind = EventType(reader.get("type").choice({t.value for t in EventType}))
    on = reader.get("on").date()
    reason = ""
    if kind == EventType.EXCLUDED:
        reason = reader.get("reason").string()
    return EventIn(on=on, type=kind, reason=reason)


def _sample(reader: _Reader, outcome_measure: str) -> SampleIn:
    kind = reader.get("type").string()
    value = reader.get("value").decimal()
    unit_reader = reader.get("unit")
    unit = unit_reader.choice(HBA1C_UNITS) if kind == outcome_measure else unit_reader.string()
    return SampleIn(type=kind, value=value, unit=unit, taken_on=reader.get("taken_on").date(),
                    source=reader.get("source").choice(SOURCES))


def _prepatient(reader: _Reader, programme: ProgrammeRules,
                provider_ids: set[str]) -> PrepatientIn:
    listings = []
    for item in reader.get("listings").items():
        provider_reader = item.get("provider")
        provider = provider_reader.string()
        if provider not in provider_ids:
            raise provider_reader.fail(f"unknown provider {provider!r}")
        listings.append(ListingIn(provider=provider, valid_from=item.get("from").date()))
    prepatient = PrepatientIn(
        id=reader.get("id").string(),
        enrolled_on=reader.get("enrolled_on").date(),
        baseline=reader.get("baseline").boolean(),
        listings=tuple(listings),
        events=tuple(_event(item) for item in reader.get("events").items()),
        measurements=tuple(_sample(item, programme.outcome_measure)
                           for item in reader.get("measurements").items()),
    )
    violation = switch_violation(prepatient, programme)
    if violation is not None:
        raise InvalidSettlementInput(
            f"{reader.path}.listings[{violation}].from",
            f"starts after the switching window ({programme.switch_months} months)",
        )
    return prepatient


def parse_input(document: Any) -> SettlementInput:
    """Validates a decoded input document; raises ``InvalidSettlementInput``."""
    root = _Reader(document)
    root.obj()
    if root.get("format").string() != INPUT_FORMAT:
        raise root.fail(f"not {INPUT_FORMAT}", "format")
    as_of = root.get("as_of").date()
    programme = _programme(root.get("programme"))
    providers = []
    for item in root.get("providers").items():
        identifier = item.get("id").string()
        name_reader = item.optional("name")
        providers.append((identifier, name_reader.string() if name_reader else identifier))
        if identifier in {p[0] for p in providers[:-1]}:
            raise item.fail("duplicate provider id", "id")
    provider_ids = {p[0] for p in providers}
    prepatients = []
    seen: set[str] = set()
    for item in root.get("prepatients").items():
        prepatient = _prepatient(item, programme, provider_ids)
        if prepatient.id in seen:
            raise item.fail("duplicate prepatient id", "id")
        seen.add(prepatient.id)
        prepatients.append(prepatient)
    return SettlementInput(as_of=as_of, programme=programme, providers=tuple(providers),
                           prepatients=tuple(prepatients))


# --- Computing and writing ---------------------------------------------------------------


def recompute(data: SettlementInput) -> SettlementResult:
    evaluations = tuple(evaluate_prepatient(p, data.programme, data.as_of)
                        for p in data.prepatients)
    counts: dict[str, list[int]] = {pid: [0, 0, 0] for pid, _name in data.providers}
    slot = {"success": 0, "failure": 1, "pending": 2}
    for evaluation in evaluations:
        if evaluation.provider is not None and evaluation.result.value in slot:
            counts[evaluation.provider][slot[evaluation.result.value]] += 1
    providers = tuple(
        settle_counts(pid, successes=c[0], failures=c[1], pending=c[2], rules=data.programme)
        for pid, c in counts.items()
    )
    return SettlementResult(as_of=data.as_of, programme=data.programme.code,
                            providers=providers, evaluations=evaluations)


def _money(value: Decimal) -> str:
    return str(value.quantize(TWO_PLACES))


def _plain(value: Decimal) -> str:
    """A decimal string as the format writes it: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0",) else "0"


def result_document(result: SettlementResult, input_bytes: bytes) -> dict[str, Any]:
    return {
        "format": RESULT_FORMAT,
        "as_of": result.as_of.isoformat(),
        "programme": result.programme,
        "input_sha256": hashlib.sha256(input_bytes).hexdigest(),
        "providers": [
            {"id": p.id, "attributed": p.attributed, "successes": p.successes,
             "failures": p.failures, "pending": p.pending, "final": p.final,
             "eligible": p.eligible, "paid_count": p.paid_count, "amount": _money(p.amount)}
            for p in result.providers
        ],
        "prepatients": [
            {"id": e.id, "provider": e.provider, "result": e.result.value, "reason": e.reason,
             "deciding_sample": None if e.deciding_sample is None else {
                 "taken_on": e.deciding_sample.taken_on.isoformat(),
                 "value": _plain(e.deciding_sample.value), "unit": e.deciding_sample.unit}}
            for e in result.evaluations
        ],
        "total_amount": _money(result.total_amount),
    }


def input_document(data: SettlementInput) -> dict[str, Any]:
    """Writes a ``prevention-settlement-input/1`` document (pseudonymous IDs only)."""
    rules = data.programme
    return {
        "format": INPUT_FORMAT,
        "as_of": data.as_of.isoformat(),
        "programme": {
            "code": rules.code, "programme_months": rules.programme_months,
            "switch_months": rules.switch_months, "outcome_measure": rules.outcome_measure,
            "outcome_below": _plain(rules.outcome_below), "outcome_unit": rules.outcome_unit,
            "outcome_window_days": rules.outcome_window_days,
            "payment_per_success": _money(rules.payment_per_success),
            "currency": rules.currency, "floor_share": _plain(rules.floor_share),
            "ceiling_share": _plain(rules.ceiling_share), "min_attributed": rules.min_attributed,
        },
        "providers": [{"id": pid, "name": name} for pid, name in data.providers],
        # Last, so that a writer can stream the prepatients after the rest.
        "prepatients": [prepatient_document(p) for p in data.prepatients],
    }


def prepatient_document(p: PrepatientIn) -> dict[str, Any]:
    """One prepatient of an input document."""
    return {
        "id": p.id, "enrolled_on": p.enrolled_on.isoformat(), "baseline": p.baseline,
        "listings": [{"provider": li.provider, "from": li.valid_from.isoformat()}
                     for li in p.listings],
        "events": [{"on": e.on.isoformat(), "type": e.type.value,
                    **({"reason": e.reason} if e.type == EventType.EXCLUDED else {})}
                   for e in p.events],
        "measurements": [{"type": s.type, "value": _plain(s.value), "unit": s.unit,
                          "taken_on": s.taken_on.isoformat(), "source": s.source}
                         for s in p.measurements],
    }
