"""An independent reading of ``SETTLEMENT_FORMAT.md`` (the settlement interchange format).

Written from the specification text alone -- never from ``prevention_engine`` -- with the
standard library only, and kept plain rather than fast: every rule is a few lines that can be
read beside the sentence it implements (quoted in the comments).  Where the text leaves a
choice open, the choice made here is marked ``Reading:``; the tests list those choices.

Entry point: :func:`recompute_document` takes the input file's bytes and returns the result
document as a dict, or raises :class:`InvalidInput` (``.path``, ``.problem``).
"""
from __future__ import annotations

import calendar
import datetime as dt
import decimal
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

V2_INPUT = "prevention-settlement-input/2"
V1_INPUT = "prevention-settlement-input/1"
V2_RESULT = "prevention-settlement-result/2"
V1_RESULT = "prevention-settlement-result/1"

# "Arithmetic is decimal (a division carried to at least 28 significant digits)". Forty digits
# keep every sum, product and quotient of the values in a file exact or correct to well beyond
# the 4th decimal; the rounding mode below is the one each computed quantity is rounded with.
ARITHMETIC = decimal.Context(
    prec=40,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
FOUR_PLACES = Decimal("0.0001")
CENTS = Decimal("0.01")

SOURCES = ("lab", "provider", "self", "device")
EVENT_TYPES = ("dropped_out", "consent_withdrawn", "excluded", "reinstated", "deceased")
TERMINAL_TYPES = ("dropped_out", "consent_withdrawn", "excluded")
AGGREGATES = ("closest", "mean")
COMPARES = ("value", "change", "percent_change")
OPS = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}

DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Reading: a "decimal string" is an optional minus sign, ASCII digits, optionally a point and
# ASCII digits (no exponent, no plus sign, no spaces).
DECIMAL_PATTERN = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class InvalidInput(Exception):
    """The input is invalid: exit 2 with ``<path>: <problem>``."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


# --------------------------------------------------------------------------------------------
# The model read from a file
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    measure: str
    from_unit: str
    to_unit: str
    offset: Decimal
    factor: Decimal


@dataclass(frozen=True)
class Criterion:
    measure: str
    unit: str
    sources: tuple[str, ...]
    aggregate: str
    compare: str
    op: str
    threshold: Decimal


@dataclass(frozen=True)
class Disqualifier:
    measure: str
    unit: str
    sources: tuple[str, ...]
    op: str
    threshold: Decimal
    reason: str


@dataclass(frozen=True)
class Programme:
    code: str
    programme_months: int
    switch_months: int
    window_days: int
    criteria: tuple[Criterion, ...]
    disqualifiers: tuple[Disqualifier, ...]
    conversions: tuple[Conversion, ...]
    per_success: Decimal
    floor_share: Decimal
    ceiling_share: Decimal
    min_attributed: int
    # Version 1: "no rounding" and "rule 5 rejecting every listing after the switching window".
    rounds_computed_quantities: bool
    late_listing_needs_ended_authorization: bool


@dataclass(frozen=True)
class Provider:
    id: str
    authorization_ended_on: dt.date | None


@dataclass(frozen=True)
class Value:
    """A decimal as it stood in the file (``text``) and as a number."""

    text: str
    number: Decimal


@dataclass(frozen=True)
class BaselineValue:
    value: Value
    unit: str


@dataclass(frozen=True)
class Listing:
    provider: str
    start: dt.date


@dataclass(frozen=True)
class Event:
    on: dt.date
    type: str
    reason: str | None
    index: int


@dataclass(frozen=True)
class Measurement:
    type: str
    value: Value
    unit: str
    taken_on: dt.date
    source: str
    index: int


@dataclass(frozen=True)
class Prepatient:
    id: str
    enrolled_on: dt.date
    # None: no baseline. Version 2: a dict measure -> BaselineValue. Version 1: {} for `true`.
    baseline: dict[str, BaselineValue] | None
    listings: tuple[Listing, ...]
    events: tuple[Event, ...]
    measurements: tuple[Measurement, ...]


@dataclass(frozen=True)
class SettlementInput:
    version: int
    as_of: dt.date
    programme: Programme
    providers: tuple[Provider, ...]
    prepatients: tuple[Prepatient, ...]


# --------------------------------------------------------------------------------------------
# Reading values, naming the path of what is wrong
# --------------------------------------------------------------------------------------------


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(path, "not an object")
    return value


def _get(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise InvalidInput(_key(path, key), "missing")
    return obj[key]


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(path, "not a list")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or value == "":
        raise InvalidInput(path, "not a non-empty string")
    return value


def _count(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(path, "not a whole number")
    return value


def _date(value: Any, path: str) -> dt.date:
    # "dates are ISO `YYYY-MM-DD`"
    if not isinstance(value, str) or not DATE_PATTERN.fullmatch(value):
        raise InvalidInput(path, "not a date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(path, "not a date") from None


def _decimal(value: Any, path: str) -> Value:
    # "Money and measured values are decimal strings (a JSON number there is invalid input)".
    # Reading: every decimal quantity of the format (shares, thresholds, offsets and factors
    # too) is a string, as in the example.
    if not isinstance(value, str) or not DECIMAL_PATTERN.fullmatch(value):
        raise InvalidInput(path, "not a decimal string")
    return Value(value, Decimal(value))


def _choice(value: Any, choices: tuple[str, ...], path: str) -> str:
    if value not in choices:
        raise InvalidInput(path, f"not one of {', '.join(choices)}")
    return value


def _sources(value: Any, path: str) -> tuple[str, ...]:
    items = _list(value, path)
    if not items:
        raise InvalidInput(path, "empty")
    return tuple(_choice(s, SOURCES, _item(path, i)) for i, s in enumerate(items))


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """'adds calendar months and clamps to the month's last day'."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last_day))


def provider_listed_on(prepatient: Prepatient, day: dt.date) -> str | None:
    """'a listing takes effect on its `from` day and lasts until the next one'.

    'A date that no listing covers is attributed to nobody.'
    """
    listed = None
    for listing in prepatient.listings:
        if listing.start <= day:
            listed = listing.provider
    return listed


# --------------------------------------------------------------------------------------------
# Reading a file
# --------------------------------------------------------------------------------------------


def loads(raw: bytes) -> SettlementInput:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("$", "not JSON") from None
    document = _object(document, "$")
    fmt = _get(document, "format", "")
    if fmt == V2_INPUT:
        return _read(document, version=2)
    if fmt == V1_INPUT:
        return _read(document, version=1)
    raise InvalidInput("format", "not a known format")


def _read_programme_v2(raw: dict[str, Any]) -> Programme:
    path = "programme"
    outcome = _object(_get(raw, "outcome", path), "programme.outcome")
    criteria_path = "programme.outcome.criteria"
    criteria_raw = _list(_get(outcome, "criteria", "programme.outcome"), criteria_path)
    if not criteria_raw:  # "`criteria` has at least one entry."
        raise InvalidInput(criteria_path, "empty")
    criteria = []
    for i, c in enumerate(criteria_raw):
        p = _item(criteria_path, i)
        c = _object(c, p)
        criteria.append(Criterion(
            measure=_text(_get(c, "measure", p), _key(p, "measure")),
            unit=_text(_get(c, "unit", p), _key(p, "unit")),
            sources=_sources(_get(c, "sources", p), _key(p, "sources")),
            aggregate=_choice(_get(c, "aggregate", p), AGGREGATES, _key(p, "aggregate")),
            compare=_choice(_get(c, "compare", p), COMPARES, _key(p, "compare")),
            op=_choice(_get(c, "op", p), tuple(OPS), _key(p, "op")),
            threshold=_decimal(_get(c, "threshold", p), _key(p, "threshold")).number,
        ))
    disqualifiers = []
    disq_path = "programme.outcome.disqualifiers"
    for i, d in enumerate(_list(outcome.get("disqualifiers", []), disq_path)):
        p = _item(disq_path, i)
        d = _object(d, p)
        disqualifiers.append(Disqualifier(
            measure=_text(_get(d, "measure", p), _key(p, "measure")),
            unit=_text(_get(d, "unit", p), _key(p, "unit")),
            sources=_sources(_get(d, "sources", p), _key(p, "sources")),
            op=_choice(_get(d, "op", p), tuple(OPS), _key(p, "op")),
            threshold=_decimal(_get(d, "threshold", p), _key(p, "threshold")).number,
            reason=_text(_get(d, "reason", p), _key(p, "reason")),
        ))
    conversions = []
    conv_path = "programme.conversions"
    for i, c in enumerate(_list(raw.get("conversions", []), conv_path)):
        p = _item(conv_path, i)
        c = _object(c, p)
        conversions.append(Conversion(
            measure=_text(_get(c, "measure", p), _key(p, "measure")),
            from_unit=_text(_get(c, "from", p), _key(p, "from")),
            to_unit=_text(_get(c, "to", p), _key(p, "to")),
            offset=_decimal(_get(c, "offset", p), _key(p, "offset")).number,
            factor=_decimal(_get(c, "factor", p), _key(p, "factor")).number,
        ))
    payment = _object(_get(raw, "payment", path), "programme.payment")
    pp = "programme.payment"
    return Programme(
        code=_text(_get(raw, "code", path), "programme.code"),
        programme_months=_count(_get(raw, "programme_months", path), "programme.programme_months"),
        switch_months=_count(_get(raw, "switch_months", path), "programme.switch_months"),
        window_days=_count(_get(outcome, "window_days", "programme.outcome"),
                           "programme.outcome.window_days"),
        criteria=tuple(criteria),
        disqualifiers=tuple(disqualifiers),
        conversions=tuple(conversions),
        per_success=_decimal(_get(payment, "per_success", pp), _key(pp, "per_success")).number,
        floor_share=_decimal(_get(payment, "floor_share", pp), _key(pp, "floor_share")).number,
        ceiling_share=_decimal(_get(payment, "ceiling_share", pp),
                               _key(pp, "ceiling_share")).number,
        min_attributed=_count(_get(payment, "min_attributed", pp), _key(pp, "min_attributed")),
        rounds_computed_quantities=True,
        late_listing_needs_ended_authorization=True,
    )


def _read_programme_v1(raw: dict[str, Any]) -> Programme:
    """'one criterion (`hba1c`, lab, closest, `value lt outcome_below`, no rounding), no
    disqualifiers'; 'HbA1c in `%` converts with mmol/mol = (% − 2.15) × 10.929'."""
    path = "programme"

    def field(name: str) -> Any:
        return _get(raw, name, path)

    measure = _text(field("outcome_measure"), "programme.outcome_measure")
    unit = _text(field("outcome_unit"), "programme.outcome_unit")
    criterion = Criterion(
        measure=measure,
        unit=unit,
        sources=("lab",),
        aggregate="closest",
        compare="value",
        op="lt",
        threshold=_decimal(field("outcome_below"), "programme.outcome_below").number,
    )
    return Programme(
        code=_text(field("code"), "programme.code"),
        programme_months=_count(field("programme_months"), "programme.programme_months"),
        switch_months=_count(field("switch_months"), "programme.switch_months"),
        window_days=_count(field("outcome_window_days"), "programme.outcome_window_days"),
        criteria=(criterion,),
        disqualifiers=(),
        conversions=(Conversion("hba1c", "%", "mmol/mol", Decimal("-2.15"), Decimal("10.929")),),
        per_success=_decimal(field("payment_per_success"),
                             "programme.payment_per_success").number,
        floor_share=_decimal(field("floor_share"), "programme.floor_share").number,
        ceiling_share=_decimal(field("ceiling_share"), "programme.ceiling_share").number,
        min_attributed=_count(field("min_attributed"), "programme.min_attributed"),
        rounds_computed_quantities=False,
        late_listing_needs_ended_authorization=False,
    )


def _read(document: dict[str, Any], version: int) -> SettlementInput:
    as_of = _date(_get(document, "as_of", ""), "as_of")
    programme_raw = _object(_get(document, "programme", ""), "programme")
    if version == 2:
        programme = _read_programme_v2(programme_raw)
    else:
        programme = _read_programme_v1(programme_raw)

    providers = []
    for i, p in enumerate(_list(_get(document, "providers", ""), "providers")):
        path = _item("providers", i)
        p = _object(p, path)
        ended = p.get("authorization_ended_on")
        providers.append(Provider(
            id=_text(_get(p, "id", path), _key(path, "id")),
            authorization_ended_on=(None if ended is None
                                    else _date(ended, _key(path, "authorization_ended_on"))),
        ))
    provider_by_id = {p.id: p for p in providers}

    prepatients = []
    for i, raw_pp in enumerate(_list(_get(document, "prepatients", ""), "prepatients")):
        prepatients.append(_read_prepatient(raw_pp, _item("prepatients", i), version,
                                            programme, provider_by_id))
    return SettlementInput(version, as_of, programme, tuple(providers), tuple(prepatients))


def _read_prepatient(raw: Any, path: str, version: int, programme: Programme,
                     provider_by_id: dict[str, Provider]) -> Prepatient:
    raw = _object(raw, path)
    pp_id = _text(_get(raw, "id", path), _key(path, "id"))
    enrolled_on = _date(_get(raw, "enrolled_on", path), _key(path, "enrolled_on"))

    baseline_path = _key(path, "baseline")
    baseline_raw = _get(raw, "baseline", path)
    baseline: dict[str, BaselineValue] | None
    if version == 1:
        # "`baseline` is `true`/`false`"
        if not isinstance(baseline_raw, bool):
            raise InvalidInput(baseline_path, "not true or false")
        baseline = {} if baseline_raw else None
    elif baseline_raw is None:
        baseline = None
    else:
        baseline_raw = _object(baseline_raw, baseline_path)
        _date(_get(baseline_raw, "on", baseline_path), _key(baseline_path, "on"))
        values_path = _key(baseline_path, "values")
        values_raw = _object(_get(baseline_raw, "values", baseline_path), values_path)
        baseline = {}
        for measure, entry in values_raw.items():
            p = _key(values_path, measure)
            entry = _object(entry, p)
            baseline[measure] = BaselineValue(
                value=_decimal(_get(entry, "value", p), _key(p, "value")),
                unit=_text(_get(entry, "unit", p), _key(p, "unit")),
            )

    listings: list[Listing] = []
    listings_path = _key(path, "listings")
    for j, raw_listing in enumerate(_list(_get(raw, "listings", path), listings_path)):
        p = _item(listings_path, j)
        raw_listing = _object(raw_listing, p)
        provider = _text(_get(raw_listing, "provider", p), _key(p, "provider"))
        if provider not in provider_by_id:
            # Reading: a listing names one of the file's providers.
            raise InvalidInput(_key(p, "provider"), "not a provider of this file")
        start = _date(_get(raw_listing, "from", p), _key(p, "from"))
        if listings and start < listings[-1].start:
            # "Listings are given in ascending `from` order"
            raise InvalidInput(_key(p, "from"), "before the previous listing")
        listings.append(Listing(provider, start))

    events = []
    events_path = _key(path, "events")
    for j, raw_event in enumerate(_list(_get(raw, "events", path), events_path)):
        p = _item(events_path, j)
        raw_event = _object(raw_event, p)
        on = _date(_get(raw_event, "on", p), _key(p, "on"))
        kind = _choice(_get(raw_event, "type", p), EVENT_TYPES, _key(p, "type"))
        reason = None
        if kind == "excluded":  # "`excluded` (with a `reason`)"
            reason = _text(_get(raw_event, "reason", p), _key(p, "reason"))
        events.append(Event(on, kind, reason, j))

    measurements = []
    measurements_path = _key(path, "measurements")
    for j, raw_m in enumerate(_list(_get(raw, "measurements", path), measurements_path)):
        p = _item(measurements_path, j)
        raw_m = _object(raw_m, p)
        measurements.append(Measurement(
            type=_text(_get(raw_m, "type", p), _key(p, "type")),
            value=_decimal(_get(raw_m, "value", p), _key(p, "value")),
            unit=_text(_get(raw_m, "unit", p), _key(p, "unit")),
            taken_on=_date(_get(raw_m, "taken_on", p), _key(p, "taken_on")),
            source=_choice(_get(raw_m, "source", p), SOURCES, _key(p, "source")),
            index=j,
        ))

    prepatient = Prepatient(pp_id, enrolled_on, baseline, tuple(listings), tuple(events),
                            tuple(measurements))
    _check_units(prepatient, path, programme)
    _check_percent_change_baselines(prepatient, path, programme)
    _check_late_listings(prepatient, path, programme, provider_by_id)
    return prepatient


def _check_units(prepatient: Prepatient, path: str, programme: Programme) -> None:
    """'Every measurement and baseline value of a measure that a criterion or disqualifier
    names must be in that unit or have a conversion to it; otherwise the input is invalid
    (exit 2), whatever the prepatient's state.'"""
    named: list[tuple[str, str]] = [(c.measure, c.unit) for c in programme.criteria]
    named += [(d.measure, d.unit) for d in programme.disqualifiers]
    for m in prepatient.measurements:
        for measure, unit in named:
            if m.type == measure and not _convertible(programme, measure, m.unit, unit):
                raise InvalidInput(f"{path}.measurements[{m.index}].unit",
                                   f"no conversion from {m.unit} to {unit}")
    for measure, value in (prepatient.baseline or {}).items():
        for named_measure, unit in named:
            if measure == named_measure and not _convertible(programme, measure, value.unit,
                                                             unit):
                raise InvalidInput(f"{path}.baseline.values.{measure}.unit",
                                   f"no conversion from {value.unit} to {unit}")


def _check_percent_change_baselines(prepatient: Prepatient, path: str,
                                    programme: Programme) -> None:
    """'A baseline value of 0 for a measure compared by `percent_change` is invalid input too.'

    Reading: the baseline value as compared (in the criterion's unit) is 0 -- which, with the
    value reported in that unit, is the reported value being 0.
    """
    for c in programme.criteria:
        if c.compare != "percent_change" or not prepatient.baseline:
            continue
        value = prepatient.baseline.get(c.measure)
        if value is None:
            continue
        compared, _ = in_unit(programme, c.measure, value.value, value.unit, c.unit)
        if value.value.number == 0 or compared == 0:
            raise InvalidInput(f"{path}.baseline.values.{c.measure}.value",
                               "a baseline of 0 for a percent change")


def _check_late_listings(prepatient: Prepatient, path: str, programme: Programme,
                         provider_by_id: dict[str, Provider]) -> None:
    """Rule 5: 'A listing that starts after `enrolled_on + switch_months` (strictly after) is
    valid only if the provider listed just before it has `authorization_ended_on` on or before
    the listing's `from`. Otherwise the input is rejected (exit 2)'. Version 1: 'rule 5
    rejecting every listing after the switching window'."""
    switch_end = add_months(prepatient.enrolled_on, programme.switch_months)
    for j, listing in enumerate(prepatient.listings):
        if listing.start <= switch_end:
            continue
        where = f"{path}.listings[{j}].from"
        if not programme.late_listing_needs_ended_authorization:
            raise InvalidInput(where, "after the switching window")
        if j == 0:
            raise InvalidInput(where, "after the switching window, with no provider before it")
        before = provider_by_id[prepatient.listings[j - 1].provider]
        ended = before.authorization_ended_on
        if ended is None or ended > listing.start:
            raise InvalidInput(where, "after the switching window while the provider before "
                                      "it was still authorized")


# --------------------------------------------------------------------------------------------
# Quantities
# --------------------------------------------------------------------------------------------


def _conversion(programme: Programme, measure: str, from_unit: str,
                to_unit: str) -> Conversion | None:
    # Reading: only a conversion given for exactly this measure and pair of units applies
    # (none is inverted or chained); the first such entry if several are given.
    for c in programme.conversions:
        if c.measure == measure and c.from_unit == from_unit and c.to_unit == to_unit:
            return c
    return None


def _convertible(programme: Programme, measure: str, from_unit: str, to_unit: str) -> bool:
    return from_unit == to_unit or _conversion(programme, measure, from_unit, to_unit) is not None


def _round4(programme: Programme, number: Decimal) -> Decimal:
    """'each computed quantity is rounded half-even to 4 decimal places once, as soon as it is
    computed' (version 2); version 1: 'no rounding'."""
    if not programme.rounds_computed_quantities:
        return number
    rounded = number.quantize(FOUR_PLACES, rounding=decimal.ROUND_HALF_EVEN, context=ARITHMETIC)
    return rounded + 0 if rounded == 0 else rounded  # no "-0.0000"


def in_unit(programme: Programme, measure: str, value: Value, unit: str,
            to_unit: str) -> tuple[Decimal, str | None]:
    """The value in ``to_unit`` and, when used as reported, the text it was reported as.

    'A value is converted to the unit that its criterion or disqualifier names with the
    matching conversion: `to = (value + offset) × factor`'; 'a value used as reported is not
    rounded'.
    """
    if unit == to_unit:
        return value.number, value.text
    conversion = _conversion(programme, measure, unit, to_unit)
    assert conversion is not None, "checked when the file was read"
    converted = ARITHMETIC.multiply(ARITHMETIC.add(value.number, conversion.offset),
                                    conversion.factor)
    return _round4(programme, converted), None


def _text_of(number: Decimal, reported: str | None) -> str:
    """'the compared quantity (as reported when used as reported, else with 4 decimals)'."""
    if reported is not None:
        return reported
    return format(number.quantize(FOUR_PLACES, context=ARITHMETIC), "f")


def _sample(m: Measurement) -> dict[str, str]:
    return {"taken_on": m.taken_on.isoformat(), "value": m.value.text, "unit": m.unit}


# --------------------------------------------------------------------------------------------
# Rules 1-4: one prepatient
# --------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    provider: str | None
    result: str
    reason: str
    evidence: list[dict[str, Any]]
    evaluated: bool = False
    deciding_sample: dict[str, str] | None = None


def evaluate(settlement: SettlementInput, prepatient: Prepatient) -> Outcome:
    programme = settlement.programme
    v1 = settlement.version == 1
    end = add_months(prepatient.enrolled_on, programme.programme_months)
    window = dt.timedelta(days=programme.window_days)

    # "Events after `end` are ignored; events are taken by date, then in input order".
    events = sorted((e for e in prepatient.events if e.on <= end), key=lambda e: (e.on, e.index))

    # Rule 1. "`deceased` on or before `end` → excluded (`deceased`). `baseline` null, or
    # lacking a value that a criterion compares with → excluded (`no_baseline`). Excluded
    # prepatients are attributed to nobody."
    if any(e.type == "deceased" for e in events):
        return Outcome(None, "excluded", "deceased", [])
    if prepatient.baseline is None:
        return Outcome(None, "excluded", "no_baseline", [])
    for c in programme.criteria:
        if c.compare in ("change", "percent_change") and c.measure not in prepatient.baseline:
            return Outcome(None, "excluded", "no_baseline", [])

    # Rule 2. "a `reinstated` cancels the latest `excluded` before it that is not yet
    # cancelled; of terminal events on the same day the first in input order counts".
    open_exclusions: list[Event] = []
    cancelled: set[int] = set()
    for e in events:
        if e.type == "excluded":
            open_exclusions.append(e)
        elif e.type == "reinstated" and open_exclusions:
            cancelled.add(open_exclusions.pop().index)
    for e in events:
        if e.type in TERMINAL_TYPES and e.index not in cancelled:
            reason = f"excluded:{e.reason}" if e.type == "excluded" else e.type
            return Outcome(provider_listed_on(prepatient, e.on), "failure", reason, [])

    # Rule 3. "if `as_of` is before `end + W` → pending (`not_yet_due`), attributed to the
    # provider listed on `as_of`."
    if settlement.as_of < end + window:
        return Outcome(provider_listed_on(prepatient, settlement.as_of), "pending",
                       "not_yet_due", [])

    # Rule 4. "Otherwise, attributed to the provider listed on `end`".
    provider = provider_listed_on(prepatient, end)

    # 4a. "a disqualifier holds when any sample of its measure from one of its sources, taken
    # from `enrolled_on` to `end + W` inclusive, satisfies `value op threshold` → failure
    # (`disqualified:<reason>`; the first disqualifier in list order that holds)".
    for d in programme.disqualifiers:
        holding = []
        for m in prepatient.measurements:
            if (m.type == d.measure and m.source in d.sources
                    and prepatient.enrolled_on <= m.taken_on <= end + window):
                number, reported = in_unit(programme, d.measure, m.value, m.unit, d.unit)
                if OPS[d.op](number, d.threshold):
                    holding.append({"samples": [_sample(m)],
                                    "quantity": _text_of(number, reported)})
        if holding:
            # "for a disqualification, the sample that disqualified". Reading: the first such
            # sample in input order. The text does not say which one when several do, so the
            # entry also lists, under the platform's own key `disqualifying_samples`, every
            # sample that disqualifies (the tests accept any of them).
            evidence = [{"measure": d.measure, "quantity": holding[0]["quantity"],
                         "unit": d.unit, "samples": holding[0]["samples"], "baseline": None,
                         "met": True, "disqualifying_samples": holding}]
            return Outcome(provider, "failure", f"disqualified:{d.reason}", evidence,
                           evaluated=True)

    # 4b/4c. "the criteria are taken in list order, and the first one that has no sample or is
    # not met decides the failure."
    # Reading: evidence lists every criterion ("every criterion with the samples it used"),
    # each evaluated on its own, also those after the one that decides.
    evidence = []
    deciding: str | None = None
    deciding_sample: dict[str, str] | None = None
    for c in programme.criteria:
        entry, failure, used = _criterion(programme, prepatient, c, end, window)
        evidence.append(entry)
        if c is programme.criteria[0]:
            deciding_sample = used
        if deciding is None and failure is not None:
            deciding = failure
    if v1:
        # Reasons `below_target`, `above_target`, `no_outcome_sample`; 'each evaluated line
        # has `deciding_sample` (`taken_on`, `value`, `unit` as in the input)'.
        entry = evidence[0]
        if not entry["samples"]:
            return Outcome(provider, "failure", "no_outcome_sample", [], True, None)
        if entry["met"]:
            return Outcome(provider, "success", "below_target", [], True, deciding_sample)
        return Outcome(provider, "failure", "above_target", [], True, deciding_sample)
    if deciding is not None:
        return Outcome(provider, "failure", deciding, evidence, evaluated=True)
    return Outcome(provider, "success", "target_met", evidence, evaluated=True)


def _criterion(programme: Programme, prepatient: Prepatient, c: Criterion, end: dt.date,
               window: dt.timedelta) -> tuple[dict[str, Any], str | None, dict[str, str] | None]:
    """One criterion: its evidence entry, the failure reason it gives (or None when met), and
    for `closest` the sample chosen."""
    # "A criterion takes the samples of its measure from its sources taken within `end ± W`."
    samples = [m for m in prepatient.measurements
               if m.type == c.measure and m.source in c.sources
               and end - window <= m.taken_on <= end + window]
    baseline_number: Decimal | None = None
    baseline_text: str | None = None
    if c.compare in ("change", "percent_change"):
        assert prepatient.baseline is not None
        b = prepatient.baseline[c.measure]
        baseline_number, reported = in_unit(programme, c.measure, b.value, b.unit, c.unit)
        baseline_text = _text_of(baseline_number, reported)
    entry: dict[str, Any] = {"measure": c.measure, "quantity": None, "unit": c.unit,
                             "samples": [], "baseline": baseline_text, "met": False}
    if not samples:  # "None → failure (`no_outcome_sample:<measure>`)."
        return entry, f"no_outcome_sample:{c.measure}", None

    chosen = None
    if c.aggregate == "closest":
        # "the sample closest to `end` (on a tie, the later one; on the same day, the later in
        # input order)"
        chosen = max(samples, key=lambda m: (-abs((m.taken_on - end).days), m.taken_on, m.index))
        used = [chosen]
        quantity, reported = in_unit(programme, c.measure, chosen.value, chosen.unit, c.unit)
    else:
        # "`mean`: the mean of them all." Reading: the samples listed in input order.
        used = samples
        values = [in_unit(programme, c.measure, m.value, m.unit, c.unit)[0] for m in samples]
        total = Decimal(0)
        for v in values:
            total = ARITHMETIC.add(total, v)
        quantity = _round4(programme, ARITHMETIC.divide(total, Decimal(len(values))))
        reported = None

    if c.compare == "change":  # "quantity − baseline value"
        assert baseline_number is not None
        quantity = _round4(programme, ARITHMETIC.subtract(quantity, baseline_number))
        reported = None
    elif c.compare == "percent_change":  # "(quantity − baseline) / baseline × 100"
        assert baseline_number is not None
        share = ARITHMETIC.divide(ARITHMETIC.subtract(quantity, baseline_number),
                                  baseline_number)
        quantity = _round4(programme, ARITHMETIC.multiply(share, Decimal(100)))
        reported = None

    # "The criterion is met when `quantity op threshold`"
    met = OPS[c.op](quantity, c.threshold)
    entry["quantity"] = _text_of(quantity, reported)
    entry["samples"] = [_sample(m) for m in used]
    entry["met"] = met
    chosen_sample = _sample(chosen) if chosen is not None else None
    return entry, (None if met else f"target_not_met:{c.measure}"), chosen_sample


# --------------------------------------------------------------------------------------------
# Provider settlement and the result document
# --------------------------------------------------------------------------------------------


def settle_provider(programme: Programme, provider: Provider,
                    outcomes: list[Outcome]) -> dict[str, Any]:
    """'`N` = attributed prepatients that are success, failure or pending; `S` = successes'."""
    mine = [o for o in outcomes if o.provider == provider.id and o.result != "excluded"]
    successes = sum(1 for o in mine if o.result == "success")
    failures = sum(1 for o in mine if o.result == "failure")
    pending = sum(1 for o in mine if o.result == "pending")
    n = successes + failures + pending
    eligible = n >= programme.min_attributed
    paid_count = 0
    if eligible:
        ceiling = int(ARITHMETIC.multiply(programme.ceiling_share, Decimal(n))
                      .to_integral_value(rounding=decimal.ROUND_FLOOR))
        floor = int(ARITHMETIC.multiply(programme.floor_share, Decimal(n))
                    .to_integral_value(rounding=decimal.ROUND_CEILING))
        paid_count = max(0, min(successes, ceiling) - floor)
    # "`amount` = `paid_count × per_success`, rounded half-up to two decimals."
    amount = ARITHMETIC.multiply(Decimal(paid_count), programme.per_success).quantize(
        CENTS, rounding=decimal.ROUND_HALF_UP, context=ARITHMETIC)
    return {
        "id": provider.id,
        "attributed": n,
        "successes": successes,
        "failures": failures,
        "pending": pending,
        "final": pending == 0,
        "eligible": eligible,
        "paid_count": paid_count,
        "amount": format(amount, "f"),
    }


def recompute_document(raw: bytes) -> dict[str, Any]:
    settlement = loads(raw)
    programme = settlement.programme
    outcomes = [evaluate(settlement, p) for p in settlement.prepatients]
    providers = [settle_provider(programme, p, outcomes) for p in settlement.providers]
    total = sum((Decimal(p["amount"]) for p in providers), Decimal("0.00"))
    lines = []
    for prepatient, outcome in zip(settlement.prepatients, outcomes, strict=True):
        line: dict[str, Any] = {"id": prepatient.id, "provider": outcome.provider,
                                "result": outcome.result, "reason": outcome.reason}
        if settlement.version == 2:
            line["evidence"] = outcome.evidence
        else:
            line["deciding_sample"] = outcome.deciding_sample
        lines.append(line)
    return {
        "format": V2_RESULT if settlement.version == 2 else V1_RESULT,
        "as_of": settlement.as_of.isoformat(),
        "programme": programme.code,
        "input_sha256": hashlib.sha256(raw).hexdigest(),
        "providers": providers,
        "prepatients": lines,
        "total_amount": format(total.quantize(CENTS), "f"),
    }
