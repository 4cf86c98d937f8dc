"""The auditor's interchange format (SETTLEMENT_FORMAT.md): read, recompute, write.

``parse`` validates a decoded ``prevention-settlement-input/2`` (or ``/1``)
document and names the offending path on the first problem
(``prepatients[3].listings[0].from: not a date``). ``recompute`` applies the
rules of the file's version; ``result_lines`` writes
``prevention-settlement-result/2`` (or ``/1`` for a version 1 input). The
platform writes its export with ``input_head`` and ``prepatient_document``.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from prevention_engine import arithmetic
from prevention_engine.evaluation import evaluate, late_listing
from prevention_engine.model import (
    _NO_VALUES,
    AGGREGATES,
    COMPARES,
    EVENT_TYPES,
    OPERATORS,
    SOURCES,
    Baseline,
    BaselineValue,
    Conversion,
    Criterion,
    Disqualifier,
    Evaluation,
    Event,
    Evidence,
    Listing,
    Payment,
    PrepatientIn,
    ProviderSettlement,
    Result,
    Rules,
    Sample,
)
from prevention_engine.settlement import settle, total_amount

INPUT_V1 = "prevention-settlement-input/1"
INPUT_V2 = "prevention-settlement-input/2"
RESULT_V1 = "prevention-settlement-result/1"
RESULT_V2 = "prevention-settlement-result/2"
INPUT_FORMATS = (INPUT_V2, INPUT_V1)
RESULT_FOR = {1: RESULT_V1, 2: RESULT_V2}

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
SOURCES_V2 = frozenset(SOURCES)
SOURCES_V1 = SOURCES_V2  # version 1 follows version 2 here: its one criterion reads lab only
# Version 1: HbA1c in % converts with mmol/mol = (% − 2.15) × 10.929, unrounded.
V1_PERCENT_OFFSET = Decimal("-2.15")
V1_PERCENT_FACTOR = Decimal("10.929")
V1_REASONS = {"target_met": "below_target", "target_not_met": "above_target",
              "no_outcome_sample": "no_outcome_sample"}


class InvalidSettlementInput(ValueError):
    """The input breaks the format; ``path`` names where (``prepatients[3].events[0].on``)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path or "$"
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# Tuples made without the named tuple's Python-level constructor (the hot loops).
_new = tuple.__new__
_SAMPLE_FIELDS = operator.itemgetter("type", "value", "unit", "taken_on", "source")
_NAME = object()  # a key no decoded document can hold


class ProviderIn(NamedTuple):
    id: str
    name: str
    authorization_ended_on: date | None = None


@dataclass(frozen=True)
class SettlementInput:
    version: int
    as_of: date
    rules: Rules
    providers: tuple[ProviderIn, ...]
    prepatients: tuple[PrepatientIn, ...]


@dataclass(frozen=True)
class SettlementResult:
    version: int
    as_of: date
    programme: str
    providers: tuple[ProviderSettlement, ...]
    evaluations: tuple[Evaluation, ...]

    @property
    def total_amount(self) -> Decimal:
        return total_amount(self.providers)


# --- Reading scalars -------------------------------------------------------------------


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _obj(value: Any, path: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise InvalidSettlementInput(path, "not an object")
    return value


def _get(mapping: dict[str, Any], key: str, path: str) -> Any:
    try:
        return mapping[key]
    except KeyError:
        raise InvalidSettlementInput(_join(path, key), "missing") from None


def _list(value: Any, path: str) -> list[Any]:
    if type(value) is not list:
        raise InvalidSettlementInput(path, "not a list")
    return value


def _string(value: Any, path: str) -> str:
    if type(value) is not str or not value:
        raise InvalidSettlementInput(path, "not a non-empty string")
    return value


def _parse_date(value: Any) -> date | None:
    if type(value) is str and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _date(value: Any, path: str) -> date:
    parsed = _parse_date(value)
    if parsed is None:
        raise InvalidSettlementInput(path, "not a date")
    return parsed


def _parse_decimal(value: Any) -> Decimal | None:
    if type(value) is str and _DECIMAL.fullmatch(value):
        return Decimal(value)
    return None


def _decimal(value: Any, path: str) -> Decimal:
    parsed = _parse_decimal(value)
    if parsed is None:
        raise InvalidSettlementInput(path, "not a decimal string")
    return parsed


def _integer(value: Any, path: str, minimum: int = 0) -> int:
    if type(value) is not int:
        raise InvalidSettlementInput(path, "not an integer")
    if value < minimum:
        raise InvalidSettlementInput(path, f"below {minimum}")
    return value


def _choice(value: Any, path: str, allowed: Iterable[str]) -> str:
    text = _string(value, path)
    if text not in allowed:
        raise InvalidSettlementInput(path, f"not one of {', '.join(sorted(allowed))}")
    return text


def _share(value: Any, path: str) -> Decimal:
    share = _decimal(value, path)
    if not Decimal(0) <= share <= Decimal(1):
        raise InvalidSettlementInput(path, "not between 0 and 1")
    return share


def _field(mapping: dict[str, Any], key: str, path: str) -> tuple[Any, str]:
    return _get(mapping, key, path), _join(path, key)


# --- Reading the programme ---------------------------------------------------------------


def _payment(mapping: dict[str, Any], path: str, *, per_success: str,
             min_attributed: str = "min_attributed") -> Payment:
    payment = Payment(
        per_success=_decimal(*_field(mapping, per_success, path)),
        currency=_string(*_field(mapping, "currency", path)),
        floor_share=_share(*_field(mapping, "floor_share", path)),
        ceiling_share=_share(*_field(mapping, "ceiling_share", path)),
        min_attributed=_integer(*_field(mapping, min_attributed, path)),
    )
    if payment.per_success < 0:
        raise InvalidSettlementInput(_join(path, per_success), "negative")
    return payment


def _months(programme: dict[str, Any], path: str) -> tuple[int, int]:
    months = _integer(*_field(programme, "programme_months", path), minimum=1)
    switch = _integer(*_field(programme, "switch_months", path))
    if switch > months:
        raise InvalidSettlementInput(_join(path, "switch_months"),
                                     "longer than programme_months")
    return months, switch


def _sources(value: Any, path: str) -> frozenset[str]:
    items = _list(value, path)
    if not items:
        raise InvalidSettlementInput(path, "empty")
    return frozenset(_choice(item, _join(path, i), SOURCES_V2) for i, item in enumerate(items))


def _criterion(value: Any, path: str) -> Criterion:
    item = _obj(value, path)
    return Criterion(
        measure=_string(*_field(item, "measure", path)),
        unit=_string(*_field(item, "unit", path)),
        sources=_sources(*_field(item, "sources", path)),
        aggregate=_choice(*_field(item, "aggregate", path), AGGREGATES),
        compare=_choice(*_field(item, "compare", path), COMPARES),
        op=_choice(*_field(item, "op", path), OPERATORS),
        threshold=_decimal(*_field(item, "threshold", path)),
    )


def _disqualifier(value: Any, path: str) -> Disqualifier:
    item = _obj(value, path)
    return Disqualifier(
        measure=_string(*_field(item, "measure", path)),
        unit=_string(*_field(item, "unit", path)),
        sources=_sources(*_field(item, "sources", path)),
        op=_choice(*_field(item, "op", path), OPERATORS),
        threshold=_decimal(*_field(item, "threshold", path)),
        reason=_string(*_field(item, "reason", path)),
    )


def _conversion(value: Any, path: str) -> Conversion:
    item = _obj(value, path)
    return Conversion(
        measure=_string(*_field(item, "measure", path)),
        from_unit=_string(*_field(item, "from", path)),
        to_unit=_string(*_field(item, "to", path)),
        offset=_decimal(*_field(item, "offset", path)),
        factor=_decimal(*_field(item, "factor", path)),
    )


def read_criteria(value: Any, path: str) -> tuple[Criterion, ...]:
    """Outcome criteria in the format's vocabulary; at least one."""
    criteria = tuple(_criterion(item, _join(path, i)) for i, item in enumerate(_list(value, path)))
    if not criteria:
        raise InvalidSettlementInput(path, "empty: at least one criterion")
    return criteria


def read_payment(value: Any, path: str) -> Payment:
    """A payment rule in the format's vocabulary (``per_success``, ``currency``,
    ``floor_share``, ``ceiling_share``, ``min_attributed``)."""
    payment = _payment(_obj(value, path), path, per_success="per_success")
    if payment.floor_share > payment.ceiling_share:
        raise InvalidSettlementInput(_join(path, "floor_share"), "above the ceiling_share")
    return payment


def read_disqualifiers(value: Any, path: str) -> tuple[Disqualifier, ...]:
    return tuple(_disqualifier(item, _join(path, i)) for i, item in enumerate(_list(value, path)))


def _rules_v2(value: Any, path: str) -> Rules:
    programme = _obj(value, path)
    code = _string(*_field(programme, "code", path))
    months, switch = _months(programme, path)
    outcome_value, outcome_path = _field(programme, "outcome", path)
    outcome = _obj(outcome_value, outcome_path)
    window = _integer(*_field(outcome, "window_days", outcome_path))
    criteria = read_criteria(*_field(outcome, "criteria", outcome_path))
    # Absent lists of disqualifiers or conversions are empty ones.
    disqualifiers = read_disqualifiers(outcome.get("disqualifiers", []),
                                       _join(outcome_path, "disqualifiers"))
    conversions_path = _join(path, "conversions")
    conversions = tuple(_conversion(item, _join(conversions_path, i)) for i, item
                        in enumerate(_list(programme.get("conversions", []), conversions_path)))
    payment_value, payment_path = _field(programme, "payment", path)
    payment = _payment(_obj(payment_value, payment_path), payment_path,
                       per_success="per_success")
    return Rules(code=code, programme_months=months, switch_months=switch, window_days=window,
                 criteria=criteria, disqualifiers=disqualifiers, conversions=conversions,
                 payment=payment)


def _rules_v1(value: Any, path: str) -> Rules:
    programme = _obj(value, path)
    code = _string(*_field(programme, "code", path))
    months, switch = _months(programme, path)
    measure = _string(*_field(programme, "outcome_measure", path))
    below = _decimal(*_field(programme, "outcome_below", path))
    unit = _choice(*_field(programme, "outcome_unit", path), ("mmol/mol",))
    window = _integer(*_field(programme, "outcome_window_days", path))
    payment = _payment(programme, path, per_success="payment_per_success")
    return Rules(
        code=code, programme_months=months, switch_months=switch, window_days=window,
        criteria=(Criterion(measure=measure, unit=unit, sources=frozenset({"lab"}),
                            aggregate="closest", compare="value", op="lt", threshold=below),),
        disqualifiers=(),
        conversions=(Conversion(measure, "%", unit, V1_PERCENT_OFFSET, V1_PERCENT_FACTOR),),
        payment=payment, rounding=False, late_switch_after_lost_authorization=False,
    )


# --- Reading prepatients -------------------------------------------------------------------


class _Reader:
    """Reads prepatients of one document; values and dates that repeat are parsed once."""

    def __init__(self, version: int, rules: Rules, providers: dict[str, ProviderIn]) -> None:
        self.version = version
        self.rules = rules
        self.providers = providers
        self.sources = SOURCES_V2 if version == 2 else SOURCES_V1
        self.accepted = {measure: rules.accepted_units(measure) for measure in rules.measures}
        self.percent_baselines = frozenset(c.measure for c in rules.criteria
                                           if c.compare == "percent_change")
        self.ended = {p.id: p.authorization_ended_on for p in providers.values()
                      if p.authorization_ended_on is not None}
        # What repeats is read once and shared: a date per text, a value and its text
        # per text, and the measure's, unit's and source's names (so that the decoded
        # document's strings are freed with it).
        self.dates: dict[str, date] = {}
        self.decimals: dict[str, Decimal] = {}
        self.texts: dict[str, str] = {}
        # Per measure the rules name: its name (under _NAME) and each unit it is accepted in.
        self.units_of = {measure: {_NAME: measure, **{unit: unit for unit in units}}
                         for measure, units in self.accepted.items()}
        self.source_names = {source: source for source in self.sources}

    def day(self, value: Any, path: str) -> date:
        if type(value) is str:
            known = self.dates.get(value)
            if known is not None:
                return known
        parsed = _date(value, path)
        self.dates[value] = parsed
        return parsed

    def decimal(self, value: Any, path: str) -> Decimal:
        if type(value) is str:
            known = self.decimals.get(value)
            if known is not None:
                return known
        parsed = _decimal(value, path)
        self.decimals[value] = parsed
        self.texts[value] = value
        return parsed

    def unit(self, measure: str, value: Any, path: str) -> str:
        unit = _string(value, path)
        accepted = self.accepted.get(measure)
        if accepted is not None and unit not in accepted:
            if accepted:
                raise InvalidSettlementInput(path, f"not one of {', '.join(sorted(accepted))}")
            raise InvalidSettlementInput(path, f"no unit of {measure} converts to every unit "
                                               "its criteria and disqualifiers name")
        return unit

    def prepatient(self, item: Any, path: str) -> PrepatientIn:
        """One prepatient; written out for speed, a path is built only on an error."""
        if type(item) is not dict:
            raise InvalidSettlementInput(path, "not an object")
        try:
            identifier = item["id"]
            enrolled = item["enrolled_on"]
            baseline_value = item["baseline"]
            listing_items = item["listings"]
            event_items = item["events"]
            sample_items = item["measurements"]
        except KeyError as missing:
            raise InvalidSettlementInput(f"{path}.{missing.args[0]}", "missing") from None
        if type(identifier) is not str or not identifier:
            _string(identifier, f"{path}.id")
        enrolled_on = self.dates.get(enrolled) if type(enrolled) is str else None
        if enrolled_on is None:
            enrolled_on = self.day(enrolled, f"{path}.enrolled_on")
        baseline = self.baseline(baseline_value, path, enrolled_on)
        if type(listing_items) is not list:
            _list(listing_items, f"{path}.listings")
        listings = tuple([self.listing(entry, path, i) for i, entry in enumerate(listing_items)])
        if type(event_items) is not list:
            _list(event_items, f"{path}.events")
        events = tuple([self.event(entry, path, i) for i, entry in enumerate(event_items)])
        if type(sample_items) is not list:
            _list(sample_items, f"{path}.measurements")
        samples = self.samples(sample_items, f"{path}.measurements")
        prepatient = _new(PrepatientIn, (identifier, enrolled_on, baseline, listings, events,
                                         samples))
        if len(listings) > 1 or (listings and listings[0].valid_from > enrolled_on):
            late = late_listing(prepatient, self.rules, self.ended)
            if late is not None:
                why = ("starts after the switching window "
                       f"({self.rules.switch_months} months)")
                if self.rules.late_switch_after_lost_authorization:
                    why += " and the provider before it had not lost its authorization by then"
                raise InvalidSettlementInput(f"{path}.listings[{late}].from", why)
        return prepatient

    def baseline(self, value: Any, prepatient_path: str,
                 enrolled_on: date) -> Baseline | None:
        if self.version == 1:
            if type(value) is not bool:
                raise InvalidSettlementInput(f"{prepatient_path}.baseline", "not a boolean")
            return _new(Baseline, (enrolled_on, _NO_VALUES)) if value else None
        if value is None:
            return None
        if type(value) is dict:  # the common case, without building paths
            on_text = value.get("on")
            on = self.dates.get(on_text) if type(on_text) is str else None
            given = value.get("values")
            if on is not None and type(given) is dict:
                if not given:
                    return _new(Baseline, (on, _NO_VALUES))
                values = self.given_baseline_values(given)
                if values is not None:
                    return _new(Baseline, (on, values))
        return self.checked_baseline(value, f"{prepatient_path}.baseline")

    def given_baseline_values(self, given: dict[str, Any]) -> dict[str, BaselineValue] | None:
        values: dict[str, BaselineValue] = {}
        for measure, entry in given.items():
            if type(entry) is not dict:
                return None
            text, unit = entry.get("value"), entry.get("unit")
            number = self.decimals.get(text) if type(text) is str else None
            accepted = self.accepted.get(measure)
            if (number is None or type(unit) is not str or not unit
                    or (accepted is not None and unit not in accepted)
                    or (measure in self.percent_baselines and not number)):
                return None
            if measure in self.percent_baselines and unit not in self.rules.target_units(
                    measure):
                return None  # converted before the zero check: the careful path
            values[measure] = _new(BaselineValue, (number, text, unit))
        return values

    def checked_baseline(self, value: Any, path: str) -> Baseline:
        item = _obj(value, path)
        on = self.day(*_field(item, "on", path))
        values_value, values_path = _field(item, "values", path)
        values: dict[str, BaselineValue] = {}
        for measure, given in _obj(values_value, values_path).items():
            given_path = _join(values_path, measure)
            entry = _obj(given, given_path)
            number_value, number_path = _field(entry, "value", given_path)
            number = self.decimal(number_value, number_path)
            unit = self.unit(measure, *_field(entry, "unit", given_path))
            if measure in self.percent_baselines:
                self.nonzero_baseline(measure, number, unit, number_path)
            values[measure] = _new(BaselineValue, (number, number_value, unit))
        return _new(Baseline, (on, values))

    def nonzero_baseline(self, measure: str, number: Decimal, unit: str, path: str) -> None:
        """A baseline value of 0, as given or in the unit compared, cannot be divided by."""
        if not number:
            raise InvalidSettlementInput(path, "zero, but compared by percent_change")
        for criterion in self.rules.criteria:
            if criterion.measure != measure or criterion.compare != "percent_change":
                continue
            value = number
            if unit != criterion.unit:
                conversion = self.rules.conversion(measure, unit, criterion.unit)
                assert conversion is not None  # the unit was accepted
                value = arithmetic.converted(number, conversion.offset, conversion.factor,
                                             rounding=self.rules.rounding)
            if not value:
                raise InvalidSettlementInput(path, "zero, but compared by percent_change")

    def listing(self, item: Any, prepatient_path: str, index: int) -> Listing:
        if type(item) is dict:
            provider = item.get("provider")
            valid_from = item.get("from")
            day = self.dates.get(valid_from) if type(valid_from) is str else None
            if type(provider) is str and provider in self.providers and day is not None:
                return _new(Listing, (provider, day))
        path = f"{prepatient_path}.listings[{index}]"
        item = _obj(item, path)
        provider_value, provider_path = _field(item, "provider", path)
        provider = _string(provider_value, provider_path)
        if provider not in self.providers:
            raise InvalidSettlementInput(provider_path, f"unknown provider {provider!r}")
        return _new(Listing, (provider, self.day(*_field(item, "from", path))))

    def event(self, item: Any, prepatient_path: str, index: int) -> Event:
        path = f"{prepatient_path}.events[{index}]"
        item = _obj(item, path)
        kind = _choice(*_field(item, "type", path), EVENT_TYPES)
        on = self.day(*_field(item, "on", path))
        reason = _string(*_field(item, "reason", path)) if kind == "excluded" else ""
        return _new(Event, (on, kind, reason))

    def samples(self, items: list[Any], path: str) -> tuple[Sample, ...]:
        """The hot loop of reading. Values and dates already seen are taken from the
        caches, and so are the names of measures, units and sources (shared, so that the
        decoded document's strings are freed with it); anything else (a first
        occurrence, a measure no rule names, or an error to name) goes through
        ``checked_samples``."""
        decimals, texts, dates = self.decimals, self.texts, self.dates
        units_of, source_names = self.units_of, self.source_names
        new = _new
        samples: list[Sample] = []
        append = samples.append
        try:
            for measure, text, unit, taken, source in map(_SAMPLE_FIELDS, items):
                value = decimals.get(text)
                taken_on = dates.get(taken)
                source = source_names.get(source)
                names = units_of.get(measure)
                if (value is None or taken_on is None or source is None or names is None
                        or unit not in names):
                    return self.checked_samples(items, path)
                append(new(Sample, (names[_NAME], value, texts[text], names[unit], taken_on,
                                    source, "")))
        except (KeyError, TypeError):  # not an object, a field missing, a list as a value
            return self.checked_samples(items, path)
        return tuple(samples)

    def checked_samples(self, items: list[Any], path: str) -> tuple[Sample, ...]:
        """Every sample checked field by field: the first problem raises, naming its path."""
        samples = []
        for index, item in enumerate(items):
            where = f"{path}[{index}]"
            item = _obj(item, where)
            measure = _string(*_field(item, "type", where))
            value_text, value_path = _field(item, "value", where)
            value = self.decimal(value_text, value_path)
            unit = self.unit(measure, *_field(item, "unit", where))
            taken_on = self.day(*_field(item, "taken_on", where))
            source = _choice(*_field(item, "source", where), self.sources)
            samples.append(_new(Sample, (measure, value, value_text, unit, taken_on, source,
                                         "")))
        return tuple(samples)


def _providers(value: Any, path: str, version: int) -> dict[str, ProviderIn]:
    providers: dict[str, ProviderIn] = {}
    for index, entry in enumerate(_list(value, path)):
        entry_path = _join(path, index)
        item = _obj(entry, entry_path)
        identifier = _string(*_field(item, "id", entry_path))
        if identifier in providers:
            raise InvalidSettlementInput(_join(entry_path, "id"), "duplicate provider id")
        name = _string(item["name"], _join(entry_path, "name")) if "name" in item else identifier
        ended = None
        if version == 2 and item.get("authorization_ended_on") is not None:
            ended = _date(item["authorization_ended_on"],
                          _join(entry_path, "authorization_ended_on"))
        providers[identifier] = ProviderIn(identifier, name, ended)
    return providers


def _head(document: Any) -> tuple[int, date, Rules, dict[str, ProviderIn], list[Any]]:
    """Everything of an input but its prepatients, validated; and the prepatients' list."""
    root = _obj(document, "$")
    kind = _string(*_field(root, "format", ""))
    if kind not in INPUT_FORMATS:
        raise InvalidSettlementInput("format", f"not {INPUT_V2} (or {INPUT_V1})")
    version = 2 if kind == INPUT_V2 else 1
    as_of = _date(*_field(root, "as_of", ""))
    programme_value, programme_path = _field(root, "programme", "")
    rules = (_rules_v2 if version == 2 else _rules_v1)(programme_value, programme_path)
    providers = _providers(*_field(root, "providers", ""), version)
    prepatients = _list(*_field(root, "prepatients", ""))
    return version, as_of, rules, providers, prepatients


def _prepatients(reader: _Reader, items: list[Any], *,
                 consume: bool = False) -> Iterator[PrepatientIn]:
    """Each prepatient read and checked in turn; ``consume`` lets go of each decoded
    entry once read, so that its memory serves what follows."""
    seen: set[str] = set()
    for index, entry in enumerate(items):
        if consume:
            items[index] = None
        entry_path = f"prepatients[{index}]"
        prepatient = reader.prepatient(entry, entry_path)
        if prepatient.id in seen:
            raise InvalidSettlementInput(f"{entry_path}.id", "duplicate prepatient id")
        seen.add(prepatient.id)
        yield prepatient


def parse(document: Any) -> SettlementInput:
    """Validates a decoded input document of either version; raises
    ``InvalidSettlementInput`` naming the first offending path."""
    version, as_of, rules, providers, items = _head(document)
    prepatients = tuple(_prepatients(_Reader(version, rules, providers), items))
    return SettlementInput(version=version, as_of=as_of, rules=rules,
                           providers=tuple(providers.values()), prepatients=prepatients)


def _decoded(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidSettlementInput("$", f"not valid JSON ({error})") from None
    except RecursionError:
        raise InvalidSettlementInput("$", "nested too deeply") from None


def loads(raw: bytes | str) -> SettlementInput:
    """Decodes and validates a file's content."""
    return parse(_decoded(raw))


# --- Computing ---------------------------------------------------------------------------


def recompute(data: SettlementInput) -> SettlementResult:
    evaluations = tuple(evaluate(p, data.rules, data.as_of) for p in data.prepatients)
    return _result(data.version, data.as_of, data.rules, data.providers, evaluations)


def recompute_file_content(raw: bytes | str) -> SettlementResult:
    """``recompute(loads(raw))`` with each prepatient evaluated as soon as it is read
    and let go of after: the same result, and the same first error, in less memory."""
    version, as_of, rules, providers, items = _head(_decoded(raw))
    reader = _Reader(version, rules, providers)
    evaluations = tuple([evaluate(p, rules, as_of)
                         for p in _prepatients(reader, items, consume=True)])
    return _result(version, as_of, rules, tuple(providers.values()), evaluations)


def _result(version: int, as_of: date, rules: Rules, providers: Iterable[ProviderIn],
            evaluations: tuple[Evaluation, ...]) -> SettlementResult:
    settled = settle((p.id for p in providers), evaluations, rules.payment)
    return SettlementResult(version=version, as_of=as_of, programme=rules.code,
                            providers=settled, evaluations=evaluations)


# --- Writing results -----------------------------------------------------------------------


def _sample_document(sample: Sample) -> dict[str, Any]:
    document: dict[str, Any] = {"taken_on": sample.taken_on.isoformat(), "value": sample.text,
                                "unit": sample.unit}
    if sample.reference:  # the platform's own record of the value (never in a file)
        document["measurement"] = (int(sample.reference) if sample.reference.isdigit()
                                   else sample.reference)
    return document


def evidence_document(evidence: Evidence) -> dict[str, Any]:
    """One evidence entry: the format's fields, then the rule it applied."""
    threshold = _thresholds.get(evidence.threshold)
    if threshold is None:
        threshold = _thresholds[evidence.threshold] = plain(evidence.threshold)
    document: dict[str, Any] = {
        "measure": evidence.measure, "quantity": evidence.quantity_text, "unit": evidence.unit,
        "samples": [_sample_document(sample) for sample in evidence.samples],
        "baseline": evidence.baseline_text, "met": evidence.met, "rule": evidence.rule,
        "op": evidence.op, "threshold": threshold,
    }
    if evidence.rule == "criterion":
        document["aggregate"] = evidence.aggregate
        document["compare"] = evidence.compare
    else:
        document["reason"] = evidence.reason
    return document


# A programme has a handful of thresholds: each written once.
_thresholds: dict[Decimal, str] = {}
_RESULT_TEXT = {result: result.value for result in Result}


def v1_reason(reason: str) -> str:
    return V1_REASONS.get(reason.split(":", 1)[0], reason)


def prepatient_result(evaluation: Evaluation, version: int) -> dict[str, Any]:
    document: dict[str, Any] = {"id": evaluation.id, "provider": evaluation.provider,
                                "result": _RESULT_TEXT[evaluation.result]}
    if version == 1:
        sample = evaluation.evidence[0].samples[0] if (
            evaluation.evidence and evaluation.evidence[0].samples) else None
        document["reason"] = v1_reason(evaluation.reason)
        document["deciding_sample"] = _sample_document(sample) if sample else None
    else:
        document["reason"] = evaluation.reason
        document["evidence"] = [evidence_document(e) for e in evaluation.evidence]
    return document


def provider_result(settled: ProviderSettlement) -> dict[str, Any]:
    return {"id": settled.id, "attributed": settled.attributed, "successes": settled.successes,
            "failures": settled.failures, "pending": settled.pending, "final": settled.final,
            "eligible": settled.eligible, "paid_count": settled.paid_count,
            "amount": money_text(settled.amount)}


def result_document(result: SettlementResult, input_bytes: bytes) -> dict[str, Any]:
    """The whole result as one object (see ``result_lines`` to write it)."""
    return json.loads("".join(result_lines(result, input_bytes)))


def _encoder() -> Callable[[Any], str]:
    """JSON text of plain dicts, lists, strings, numbers and booleans: one encoder made
    once (``json.dumps`` makes one per call, a third of the time of writing 300,000
    lines)."""
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # a Python without the C accelerator
        return json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    make = c_make_encoder(None, None, json.encoder.encode_basestring, None, ": ", ", ",
                          False, False, True)
    return lambda value: "".join(make(value, 0))


def result_lines(result: SettlementResult, input_bytes: bytes) -> Iterator[str]:
    """The result document as text, one provider and one prepatient per line."""
    head = {"format": RESULT_FOR[result.version], "as_of": result.as_of.isoformat(),
            "programme": result.programme,
            "input_sha256": hashlib.sha256(input_bytes).hexdigest()}
    dumps = _encoder()
    yield dumps(head)[:-1] + ",\n"
    yield from _array("providers", (dumps(provider_result(p)) for p in result.providers))
    yield ",\n"
    yield from _array("prepatients", (dumps(prepatient_result(e, result.version))
                                      for e in result.evaluations))
    yield f',\n "total_amount": "{money_text(result.total_amount)}"}}\n'


def _array(key: str, items: Iterable[str]) -> Iterator[str]:
    yield f' "{key}": ['
    separator = "\n  "
    for item in items:
        yield separator + item
        separator = ",\n  "
    yield "]"


def money_text(value: Decimal) -> str:
    return format(arithmetic.money(value), "f")


def plain(value: Decimal) -> str:
    """A decimal as written in a file: no exponent, no trailing zeros after the point."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- Writing input (the platform's export) -----------------------------------------------


def _criterion_document(criterion: Criterion) -> dict[str, Any]:
    return {"measure": criterion.measure, "unit": criterion.unit,
            "sources": sorted(criterion.sources), "aggregate": criterion.aggregate,
            "compare": criterion.compare, "op": criterion.op,
            "threshold": plain(criterion.threshold)}


def _disqualifier_document(disqualifier: Disqualifier) -> dict[str, Any]:
    return {"measure": disqualifier.measure, "unit": disqualifier.unit,
            "sources": sorted(disqualifier.sources), "op": disqualifier.op,
            "threshold": plain(disqualifier.threshold), "reason": disqualifier.reason}


def programme_document(rules: Rules) -> dict[str, Any]:
    return {
        "code": rules.code, "programme_months": rules.programme_months,
        "switch_months": rules.switch_months,
        "outcome": {
            "window_days": rules.window_days,
            "criteria": [_criterion_document(c) for c in rules.criteria],
            "disqualifiers": [_disqualifier_document(d) for d in rules.disqualifiers],
        },
        "conversions": [{"measure": c.measure, "from": c.from_unit, "to": c.to_unit,
                         "offset": plain(c.offset), "factor": plain(c.factor)}
                        for c in rules.conversions],
        "payment": {"per_success": money_text(rules.payment.per_success),
                    "currency": rules.payment.currency,
                    "floor_share": plain(rules.payment.floor_share),
                    "ceiling_share": plain(rules.payment.ceiling_share),
                    "min_attributed": rules.payment.min_attributed},
    }


def input_head(as_of: date, rules: Rules, providers: Iterable[ProviderIn]) -> dict[str, Any]:
    """Everything of a version 2 input but its prepatients."""
    return {
        "format": INPUT_V2, "as_of": as_of.isoformat(), "programme": programme_document(rules),
        "providers": [{"id": p.id, "name": p.name,
                       **({"authorization_ended_on": p.authorization_ended_on.isoformat()}
                          if p.authorization_ended_on else {})}
                      for p in providers],
    }


def prepatient_document(p: PrepatientIn) -> dict[str, Any]:
    """One prepatient of a version 2 input document."""
    return {
        "id": p.id, "enrolled_on": p.enrolled_on.isoformat(),
        "baseline": None if p.baseline is None else {
            "on": p.baseline.on.isoformat(),
            "values": {measure: {"value": given.text, "unit": given.unit}
                       for measure, given in p.baseline.values.items()}},
        "listings": [{"provider": li.provider, "from": li.valid_from.isoformat()}
                     for li in p.listings],
        "events": [{"on": e.on.isoformat(), "type": e.type,
                    **({"reason": e.reason} if e.type == "excluded" else {})}
                   for e in p.events],
        "measurements": [{"type": s.measure, "value": s.text, "unit": s.unit,
                          "taken_on": s.taken_on.isoformat(), "source": s.source}
                         for s in p.measurements],
    }


def input_lines(as_of: date, rules: Rules, providers: Iterable[ProviderIn],
                prepatients: Iterable[PrepatientIn]) -> Iterator[str]:
    """A version 2 input document as text, one prepatient per line, written as the
    prepatients come (the platform streams them from the database)."""
    dumps = _encoder()
    head = dumps(input_head(as_of, rules, providers))
    yield head[:-1] + ",\n"
    yield from _array("prepatients", (dumps(prepatient_document(p)) for p in prepatients))
    yield "}\n"


def input_document(data: SettlementInput) -> dict[str, Any]:
    document: dict[str, Any] = json.loads("".join(input_lines(
        data.as_of, data.rules, data.providers, data.prepatients)))
    return document
