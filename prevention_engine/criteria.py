"""Inclusion and priority criteria as data, over anything measured or answered.

A programme's inclusion is an ordered list of *checks*. Each check is a
*condition* with a ``reason`` and an ``effect``:

- ``require``: the condition must hold; if not, the person is not included and
  the check's ``reason`` says why (``hba1c_below_range``, ``age_out_of_range``);
- ``refer``: if the condition holds, the person is not included and is told to
  seek care (``hba1c_diabetes``, ``severe_hypertension``).

The first check that refuses decides. A condition is one of:

- ``{"subject": "age" | "bmi" | "measure" | "score", "op": lt|le|gt|ge|eq, "threshold": "…"}``
  with ``"measure": code, "unit": …`` for a measurement (optionally ``"sources"``, the
  reporters whose values count, ``"aggregate": "latest" | "mean"`` and ``"days"``, how
  far back from the day of the decision values count) and ``"questionnaire": code``
  for a questionnaire's score;
- ``{"subject": "sex", "in": ["F", "M"]}`` and ``{"subject": "priority_area", "is": true}``;
- ``{"all": [conditions]}`` and ``{"any": [conditions]}``.

The facts about a person are given by the platform (``Facts``): their age, sex, BMI
and residence, the samples of each measure in the condition's unit (the condition
picks its deciding value: the latest, or the mean rounded to 4 decimals, of the
values from its sources within its days), and the latest score of each
questionnaire. A fact a condition needs and that is
missing makes a ``require`` check refuse with ``missing_reason`` (``no_sample``
for a measure, ``no_questionnaire`` for a score, ``missing_<subject>`` otherwise)
and a ``refer`` check not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from prevention_engine.arithmetic import mean

OPS = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
}
NUMERIC_SUBJECTS = ("age", "bmi", "measure", "score")
SUBJECTS = (*NUMERIC_SUBJECTS, "sex", "priority_area")
EFFECTS = ("require", "refer")
SEXES = ("F", "M")
SOURCES = ("lab", "provider", "self", "device")
AGGREGATES = ("latest", "mean")


class CriterionError(ValueError):
    """A criterion that cannot be evaluated, at ``path``."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Sample:
    taken_on: date
    value: Decimal  # in the unit the conditions on its measure name
    source: str  # lab, provider, self or device


@dataclass(frozen=True)
class Facts:
    on: date | None = None  # the day of the decision (needed by conditions with days)
    age: int | None = None
    sex: str | None = None
    bmi: Decimal | None = None
    priority_area: bool | None = None
    samples: Mapping[str, Sequence[Sample]] = field(default_factory=dict)  # measure → samples
    scores: Mapping[str, int] = field(default_factory=dict)  # questionnaire code → score


@dataclass(frozen=True)
class Condition:
    subject: str | None = None  # None for a group
    op: str = ""
    threshold: Decimal | None = None
    measure: str = ""
    unit: str = ""
    sources: tuple[str, ...] = ()  # empty: every source
    aggregate: str = "latest"
    days: int | None = None
    questionnaire: str = ""
    values: tuple[str, ...] = ()  # sex
    flag: bool | None = None  # priority area
    group: str = ""  # "all" or "any"
    members: tuple[Condition, ...] = ()

    def needs(self) -> list[tuple[str, str]]:
        """Every (subject, code) this condition reads, groups flattened, in order."""
        if self.group:
            return [need for member in self.members for need in member.needs()]
        code = self.measure if self.subject == "measure" else self.questionnaire
        return [(self.subject or "", code)]


@dataclass(frozen=True)
class Check:
    condition: Condition
    effect: str  # "require" or "refer"
    reason: str


@dataclass(frozen=True)
class Verdict:
    included: bool
    reason: str  # the refusing check's reason, or "included"
    seek_care: bool = False


# --- Reading criteria ----------------------------------------------------------------


def parse_checks(data: Any, path: str = "inclusion") -> tuple[Check, ...]:
    if not isinstance(data, list):
        raise CriterionError(path, "a list of checks")
    checks = []
    for index, raw in enumerate(data):
        where = f"{path}[{index}]"
        if not isinstance(raw, Mapping):
            raise CriterionError(where, "a check is an object")
        effect = raw.get("effect", "require")
        if effect not in EFFECTS:
            raise CriterionError(f"{where}.effect", "require or refer")
        reason = raw.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise CriterionError(f"{where}.reason", "a reason code, for example "
                                 "hba1c_below_range")
        condition_data = {key: value for key, value in raw.items()
                          if key not in ("effect", "reason")}
        checks.append(Check(parse_condition(condition_data, where), effect, reason.strip()))
    return tuple(checks)


def parse_condition(raw: Any, path: str) -> Condition:
    if not isinstance(raw, Mapping):
        raise CriterionError(path, "a condition is an object")
    groups = [key for key in ("all", "any") if key in raw]
    if groups:
        if len(raw) != 1:
            raise CriterionError(path, f"a group holds only {groups[0]!r}")
        members = raw[groups[0]]
        if not isinstance(members, list) or not members:
            raise CriterionError(f"{path}.{groups[0]}", "at least one condition")
        return Condition(group=groups[0], members=tuple(
            parse_condition(member, f"{path}.{groups[0]}[{index}]")
            for index, member in enumerate(members)))
    subject = raw.get("subject")
    if subject not in SUBJECTS:
        raise CriterionError(f"{path}.subject", f"one of {', '.join(SUBJECTS)}")
    allowed = {"subject"} | {
        "age": {"op", "threshold"}, "bmi": {"op", "threshold"},
        "measure": {"op", "threshold", "measure", "unit", "sources", "aggregate", "days"},
        "score": {"op", "threshold", "questionnaire"},
        "sex": {"in"}, "priority_area": {"is"}}[subject]
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise CriterionError(f"{path}.{unknown[0]}", f"not a field of a {subject} condition")
    if subject == "sex":
        values = raw.get("in")
        if not isinstance(values, list) or not values or any(v not in SEXES for v in values):
            raise CriterionError(f"{path}.in", "a list of F and/or M")
        return Condition(subject=subject, values=tuple(values))
    if subject == "priority_area":
        if not isinstance(raw.get("is"), bool):
            raise CriterionError(f"{path}.is", "true or false")
        return Condition(subject=subject, flag=raw["is"])
    op = raw.get("op")
    if op not in OPS:
        raise CriterionError(f"{path}.op", f"one of {', '.join(OPS)}")
    threshold = _threshold(raw.get("threshold"), f"{path}.threshold")
    if subject == "measure":
        sources = raw.get("sources", list(SOURCES))
        if not isinstance(sources, list) or not sources or any(
                source not in SOURCES for source in sources):
            raise CriterionError(f"{path}.sources", f"a list of {', '.join(SOURCES)}")
        aggregate = raw.get("aggregate", "latest")
        if aggregate not in AGGREGATES:
            raise CriterionError(f"{path}.aggregate", f"one of {', '.join(AGGREGATES)}")
        days = raw.get("days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool)
                                 or days < 1):
            raise CriterionError(f"{path}.days", "a whole number of days from 1")
        return Condition(subject=subject, op=op, threshold=threshold,
                         measure=_code(raw, "measure", path), unit=_code(raw, "unit", path),
                         sources=tuple(sources), aggregate=aggregate, days=days)
    questionnaire = _code(raw, "questionnaire", path) if subject == "score" else ""
    return Condition(subject=subject, op=op, threshold=threshold, questionnaire=questionnaire)


def _code(raw: Mapping[str, Any], key: str, path: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CriterionError(f"{path}.{key}", "a non-empty code")
    return value.strip()


def _threshold(value: Any, path: str) -> Decimal:
    # A decimal string, as everywhere money or a measured value is written.
    if not isinstance(value, str):
        raise CriterionError(path, "a decimal string, for example \"39\"")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CriterionError(path, "not a number") from None
    if not number.is_finite():
        raise CriterionError(path, "not a finite number")
    return number


def check_known(checks: Sequence[Check], *, measures: Mapping[str, Sequence[str]],
                questionnaires: Sequence[str] | None, path: str = "inclusion") -> None:
    """Every measure (with one of its units) and questionnaire a check names exists
    (questionnaires not checked when ``None``)."""
    for index, check in enumerate(checks):
        _check_condition_known(check.condition, measures, questionnaires, f"{path}[{index}]")


def _check_condition_known(condition: Condition, measures: Mapping[str, Sequence[str]],
                           questionnaires: Sequence[str] | None, path: str) -> None:
    if condition.group:
        for index, member in enumerate(condition.members):
            _check_condition_known(member, measures, questionnaires,
                                   f"{path}.{condition.group}[{index}]")
        return
    if condition.subject == "measure":
        if condition.measure not in measures:
            raise CriterionError(f"{path}.measure", f"no measurement type {condition.measure!r}")
        if condition.unit not in measures[condition.measure]:
            raise CriterionError(f"{path}.unit", f"{condition.measure} is not measured in "
                                 f"{condition.unit!r}")
    if (condition.subject == "score" and questionnaires is not None
            and condition.questionnaire not in questionnaires):
        raise CriterionError(f"{path}.questionnaire",
                             f"no questionnaire {condition.questionnaire!r}")


# --- Evaluating ----------------------------------------------------------------------


class _Missing(Exception):
    def __init__(self, subject: str, code: str) -> None:
        self.subject = subject
        self.code = code


def holds(condition: Condition, facts: Facts) -> bool:
    """Does the condition hold for these facts? ``_Missing`` when a needed fact is
    absent (an ``any`` group holds as soon as one member holds on known facts)."""
    if condition.group == "all":
        return all(holds(member, facts) for member in condition.members)
    if condition.group == "any":
        missing: _Missing | None = None
        for member in condition.members:
            try:
                if holds(member, facts):
                    return True
            except _Missing as absent:
                missing = missing or absent
        if missing is not None:
            raise missing
        return False
    subject = condition.subject or ""
    if subject == "sex":
        if facts.sex is None:
            raise _Missing(subject, "")
        return facts.sex in condition.values
    if subject == "priority_area":
        if facts.priority_area is None:
            raise _Missing(subject, "")
        return facts.priority_area is condition.flag
    value: Decimal | int | None
    if subject == "age":
        value = facts.age
    elif subject == "bmi":
        value = facts.bmi
    elif subject == "measure":
        value = deciding_value(condition, facts)
    else:
        value = facts.scores.get(condition.questionnaire)
    if value is None:
        raise _Missing(subject, condition.measure or condition.questionnaire)
    assert condition.threshold is not None
    return bool(OPS[condition.op](Decimal(value), condition.threshold))


def deciding_value(condition: Condition, facts: Facts) -> Decimal | None:
    """The value a measure condition compares: of the samples from its sources (within
    its days up to the day of the decision, both ends included), the latest (on the same
    day, the later given) or their mean; ``None`` when there is none."""
    samples = [sample for sample in facts.samples.get(condition.measure, ())
               if sample.source in condition.sources]
    if condition.days is not None:
        if facts.on is None:
            raise ValueError("a condition with days needs the day of the decision")
        first = facts.on - timedelta(days=condition.days)
        samples = [sample for sample in samples if first <= sample.taken_on <= facts.on]
    if not samples:
        return None
    if condition.aggregate == "mean":
        return mean([sample.value for sample in samples])
    latest = samples[0]
    for sample in samples[1:]:
        if sample.taken_on >= latest.taken_on:
            latest = sample
    return latest.value


def missing_reason(subject: str) -> str:
    return {"measure": "no_sample", "score": "no_questionnaire"}.get(subject,
                                                                     f"missing_{subject}")


def decide(checks: Sequence[Check], facts: Facts) -> Verdict:
    """The first check that refuses decides; ``included`` when none does."""
    for check in checks:
        try:
            result = holds(check.condition, facts)
        except _Missing as absent:
            if check.effect == "require":
                return Verdict(False, missing_reason(absent.subject))
            continue
        if check.effect == "require" and not result:
            return Verdict(False, check.reason)
        if check.effect == "refer" and result:
            return Verdict(False, check.reason, seek_care=True)
    return Verdict(True, "included")


def referrals(checks: Sequence[Check], facts: Facts) -> tuple[Check, ...]:
    """The ``refer`` checks whose condition holds on these facts (a missing fact: it
    does not). A programme's safety checks, run on each new value."""
    found = []
    for check in checks:
        if check.effect != "refer":
            continue
        try:
            if holds(check.condition, facts):
                found.append(check)
        except _Missing:
            continue
    return tuple(found)


def measures_read(checks: Sequence[Check], source: str) -> list[str]:
    """The measures whose values from ``source`` a check reads, in order."""
    found: list[str] = []

    def collect(condition: Condition) -> None:
        if condition.group:
            for member in condition.members:
                collect(member)
        elif condition.subject == "measure" and source in condition.sources:
            found.append(condition.measure)
    for check in checks:
        collect(check.condition)
    return list(dict.fromkeys(found))


def watches(checks: Sequence[Check], measure: str, source: str) -> bool:
    """Does a check read values of ``measure`` from ``source``?"""
    return measure in measures_read(checks, source)


def all_hold(conditions: Sequence[Condition], facts: Facts) -> bool:
    """Every condition holds (a missing fact: it does not). For priority criteria."""
    try:
        return all(holds(condition, facts) for condition in conditions)
    except _Missing:
        return False
