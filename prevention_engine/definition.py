"""A programme's definition as data: everything that decides who may join, what is
followed up, what counts as an outcome and what is paid for it.

A definition is JSON-like data, versioned (``code`` and ``version``) and frozen once
published; the platform stores it and each enrollment keeps the version it joined
under. ``parse`` checks one completely and names the place of the first thing that
cannot be evaluated (``DefinitionError.path``: ``outcome.criteria[0].op``).

Vocabulary:

- ``timeline``: ``start_date``, ``recruitment_months``, ``priority_months``,
  ``programme_months``, ``switch_months``, ``followup_interval_months``,
  ``followup_grace_days``, ``reminder_days_before``, ``referral_valid_days``;
- ``cap`` (people), ``budget`` (a decimal string), ``currency``;
- ``screening``: the ``questionnaires`` a person answers first (codes) and the
  ``referral`` checks that earn the next step (``prevention_engine.criteria``);
- ``inclusion``: the checks at enrollment; ``priority``: the conditions a person
  must meet during the priority phase;
- ``followup``: the ``measures`` of a complete follow-up set;
- ``safety``: ``refer`` checks on every new value (told to seek care);
- ``outcome``: ``window_days``, ``criteria`` and ``disqualifiers`` exactly as in
  the settlement format (version 2);
- ``payment``: the settlement format's payment rule, with ``payments_from`` and
  ``payments_until``;
- ``consent``: the consent text, ``{"sv": …, "en": …}``;
- ``savings``: the savings model's parameters (decimal strings), optional; when
  given, all of ``SAVINGS_PARAMETERS``: the present value per case of the condition
  prevented (``direct_healthcare``, ``lost_production``, ``social_insurance``), the
  yearly risk of the condition while at risk (``annual_onset_risk``) and of relapse
  after a success (``annual_relapse``, both 0–1), ``discount_rate`` and
  ``horizon_years`` (whole years);
- ``messages``: optional plain-language texts, ``{reason: {"sv": …, "en": …}}``, that
  tell a person what a decision means (``included``, ``no_sample``, a check's reason,
  ``not_priority``, ``seek_care``); ``{date}`` in a text is the day it speaks of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from prevention_engine import criteria
from prevention_engine.interchange import (
    InvalidSettlementInput,
    read_criteria,
    read_disqualifiers,
    read_payment,
)
from prevention_engine.model import Criterion, Disqualifier, Payment

LANGUAGES = ("sv", "en")
TIMELINE_FIELDS = ("recruitment_months", "priority_months", "programme_months",
                   "switch_months", "followup_interval_months", "followup_grace_days",
                   "reminder_days_before", "referral_valid_days")
TOP_LEVEL = ("code", "version", "name", "description", "timeline", "cap", "budget",
             "currency", "screening", "inclusion", "priority", "followup", "safety",
             "outcome", "payment", "consent", "savings", "messages")


class DefinitionError(ValueError):
    """A programme definition that cannot be evaluated, at ``path``."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Timeline:
    start_date: date
    recruitment_months: int
    priority_months: int
    programme_months: int
    switch_months: int
    followup_interval_months: int
    followup_grace_days: int
    reminder_days_before: int
    referral_valid_days: int


@dataclass(frozen=True)
class Outcome:
    window_days: int
    criteria: tuple[Criterion, ...]
    disqualifiers: tuple[Disqualifier, ...]


@dataclass(frozen=True)
class ProgrammeDefinition:
    code: str
    version: int
    name: Mapping[str, str]
    description: Mapping[str, str]
    timeline: Timeline
    cap: int
    budget: Decimal
    currency: str
    screening_questionnaires: tuple[str, ...]
    referral: tuple[criteria.Check, ...]
    inclusion: tuple[criteria.Check, ...]
    priority: tuple[criteria.Condition, ...]
    followup_measures: tuple[str, ...]
    safety: tuple[criteria.Check, ...]
    outcome: Outcome
    payment: Payment
    payments_from: date
    payments_until: date
    consent: Mapping[str, str]
    savings: Mapping[str, Decimal] = field(default_factory=dict)
    messages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def measures(self) -> list[tuple[str, str]]:
        """Every (measure, unit) a rule of the definition reads, in order of appearance."""
        found: list[tuple[str, str]] = []
        conditions = [check.condition for check in (*self.referral, *self.inclusion,
                                                    *self.safety)] + list(self.priority)
        for condition in conditions:
            found += _measures_of(condition)
        found += [(rule.measure, rule.unit) for rule in self.outcome.criteria]
        found += [(rule.measure, rule.unit) for rule in self.outcome.disqualifiers]
        return list(dict.fromkeys(found))

    def questionnaires(self) -> list[str]:
        """Every questionnaire the definition asks or whose score a rule reads."""
        found = list(self.screening_questionnaires)
        conditions = [check.condition for check in (*self.referral, *self.inclusion,
                                                    *self.safety)] + list(self.priority)
        for condition in conditions:
            found += [code for subject, code in condition.needs() if subject == "score"]
        return list(dict.fromkeys(found))


def _measures_of(condition: criteria.Condition) -> list[tuple[str, str]]:
    if condition.group:
        return [pair for member in condition.members for pair in _measures_of(member)]
    return [(condition.measure, condition.unit)] if condition.subject == "measure" else []


# --- Reading ------------------------------------------------------------------------


def parse(data: Any, *, measures: Mapping[str, Sequence[str]] | None = None,
          questionnaires: Sequence[str] | None = None) -> ProgrammeDefinition:
    """The definition, checked. With ``measures`` (code → units it may be compared in)
    and ``questionnaires`` (codes), every measure, unit and questionnaire a rule names
    must be among them."""
    if not isinstance(data, Mapping):
        raise DefinitionError("$", "a programme definition is an object")
    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:
        raise DefinitionError(unknown[0], "not a field of a programme definition")
    try:
        definition = _parse(data)
    except (criteria.CriterionError, InvalidSettlementInput) as error:
        reason = (error.reason if isinstance(error, criteria.CriterionError)
                  else error.problem)
        raise DefinitionError(error.path, reason) from None
    if measures is not None:
        _check_measures(definition, measures)
    if questionnaires is not None:
        for code in definition.questionnaires():
            if code not in questionnaires:
                raise DefinitionError(_where_questionnaire(data, code),
                                      f"no questionnaire {code!r}")
    return definition


def _parse(data: Mapping[str, Any]) -> ProgrammeDefinition:
    code = _text(data.get("code"), "code")
    version = _whole(data.get("version"), "version", minimum=1)
    timeline = _timeline(data.get("timeline"))
    screening = _object(data.get("screening", {}), "screening")
    raw_questionnaires = screening.get("questionnaires", [])
    if not isinstance(raw_questionnaires, list) or not all(
            isinstance(item, str) and item for item in raw_questionnaires):
        raise DefinitionError("screening.questionnaires", "a list of questionnaire codes")
    outcome = _object(data.get("outcome"), "outcome")
    followup = _object(data.get("followup"), "followup")
    followup_measures = followup.get("measures")
    if not isinstance(followup_measures, list) or not followup_measures or not all(
            isinstance(item, str) and item for item in followup_measures):
        raise DefinitionError("followup.measures", "a list of at least one measure code")
    payment_data = _object(data.get("payment"), "payment")
    payment = read_payment({key: value for key, value in payment_data.items()
                            if key not in ("payments_from", "payments_until")}, "payment")
    currency = _text(data.get("currency"), "currency")
    if payment.currency != currency:
        raise DefinitionError("payment.currency", f"not the programme's currency {currency}")
    payments_from = _date(payment_data.get("payments_from"), "payment.payments_from")
    payments_until = _date(payment_data.get("payments_until"), "payment.payments_until")
    if payments_until < payments_from:
        raise DefinitionError("payment.payments_until", "before payments_from")
    safety = criteria.parse_checks(data.get("safety", []), "safety")
    for index, check in enumerate(safety):
        if check.effect != "refer":
            raise DefinitionError(f"safety[{index}].effect", "a safety check refers: refer")
    priority_raw = data.get("priority", [])
    if not isinstance(priority_raw, list):
        raise DefinitionError("priority", "a list of conditions")
    inclusion = criteria.parse_checks(data.get("inclusion"), "inclusion")
    if not inclusion:
        raise DefinitionError("inclusion", "at least one check")
    return ProgrammeDefinition(
        code=code, version=version,
        name=_languages(data.get("name"), "name"),
        description=_languages(data.get("description"), "description"),
        timeline=timeline,
        cap=_whole(data.get("cap"), "cap", minimum=1),
        budget=_money(data.get("budget"), "budget"),
        currency=currency,
        screening_questionnaires=tuple(raw_questionnaires),
        referral=criteria.parse_checks(screening.get("referral", []), "screening.referral"),
        inclusion=inclusion,
        priority=tuple(criteria.parse_condition(raw, f"priority[{index}]")
                       for index, raw in enumerate(priority_raw)),
        followup_measures=tuple(followup_measures),
        safety=safety,
        outcome=Outcome(
            window_days=_whole(outcome.get("window_days"), "outcome.window_days", minimum=0),
            criteria=read_criteria(outcome.get("criteria"), "outcome.criteria"),
            disqualifiers=read_disqualifiers(outcome.get("disqualifiers", []),
                                             "outcome.disqualifiers")),
        payment=payment, payments_from=payments_from, payments_until=payments_until,
        consent=_languages(data.get("consent"), "consent"),
        savings=_savings(data.get("savings", {})),
        messages=_messages(data.get("messages", {})),
    )


def _timeline(value: Any) -> Timeline:
    raw = _object(value, "timeline")
    unknown = sorted(set(raw) - {"start_date", *TIMELINE_FIELDS})
    if unknown:
        raise DefinitionError(f"timeline.{unknown[0]}", "not a field of the timeline")
    numbers = {name: _whole(raw.get(name), f"timeline.{name}", minimum=0)
               for name in TIMELINE_FIELDS}
    for name in ("recruitment_months", "programme_months", "followup_interval_months"):
        if numbers[name] < 1:
            raise DefinitionError(f"timeline.{name}", "at least 1")
    if numbers["priority_months"] > numbers["recruitment_months"]:
        raise DefinitionError("timeline.priority_months", "longer than recruitment_months")
    if numbers["switch_months"] > numbers["programme_months"]:
        raise DefinitionError("timeline.switch_months", "longer than programme_months")
    if numbers["followup_interval_months"] > numbers["programme_months"]:
        raise DefinitionError("timeline.followup_interval_months",
                              "longer than programme_months")
    return Timeline(start_date=_date(raw.get("start_date"), "timeline.start_date"), **numbers)


SAVINGS_PARAMETERS = ("direct_healthcare", "lost_production", "social_insurance",
                      "annual_onset_risk", "annual_relapse", "discount_rate", "horizon_years")
_SHARES = ("annual_onset_risk", "annual_relapse")


def _savings(value: Any) -> Mapping[str, Decimal]:
    raw = _object(value, "savings")
    if not raw:
        return {}
    unknown = sorted(set(raw) - set(SAVINGS_PARAMETERS))
    if unknown:
        raise DefinitionError(f"savings.{unknown[0]}",
                              f"not a parameter of the savings model: one of "
                              f"{', '.join(SAVINGS_PARAMETERS)}")
    missing = [name for name in SAVINGS_PARAMETERS if name not in raw]
    if missing:
        raise DefinitionError(f"savings.{missing[0]}", "missing: the savings model needs "
                                                      "all its parameters")
    numbers = {key: _money(raw[key], f"savings.{key}", places=None)
               for key in SAVINGS_PARAMETERS}
    for name in _SHARES:
        if numbers[name] > 1:
            raise DefinitionError(f"savings.{name}", "a share between 0 and 1")
    if numbers["horizon_years"] != numbers["horizon_years"].to_integral_value():
        raise DefinitionError("savings.horizon_years", "whole years")
    return numbers


def _messages(value: Any) -> Mapping[str, Mapping[str, str]]:
    raw = _object(value, "messages")
    return {reason: _languages(texts, f"messages.{reason}") for reason, texts in raw.items()}


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DefinitionError(path, "an object")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(path, "a non-empty text")
    return value.strip()


def _languages(value: Any, path: str) -> Mapping[str, str]:
    raw = _object(value, path)
    return {language: _text(raw.get(language), f"{path}.{language}") for language in LANGUAGES}


def _whole(value: Any, path: str, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DefinitionError(path, "a whole number")
    if value < minimum:
        raise DefinitionError(path, f"at least {minimum}")
    return value


def _date(value: Any, path: str) -> date:
    if not isinstance(value, str):
        raise DefinitionError(path, "a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DefinitionError(path, "a date, YYYY-MM-DD") from None


def _money(value: Any, path: str, *, places: int | None = 2) -> Decimal:
    if not isinstance(value, str):
        raise DefinitionError(path, "a decimal string, for example \"100000000.00\"")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise DefinitionError(path, "not a number") from None
    if not number.is_finite() or number < 0:
        raise DefinitionError(path, "a finite number, not negative")
    exponent = number.as_tuple().exponent
    if places is not None and isinstance(exponent, int) and -exponent > places:
        raise DefinitionError(path, f"at most {places} decimals")
    return number


def _check_measures(definition: ProgrammeDefinition,
                    measures: Mapping[str, Sequence[str]]) -> None:
    for index, code in enumerate(definition.followup_measures):
        if code not in measures:
            raise DefinitionError(f"followup.measures[{index}]", f"no measurement type {code!r}")
    for name, checks in (("screening.referral", definition.referral),
                         ("inclusion", definition.inclusion), ("safety", definition.safety)):
        try:
            # Questionnaires are checked apart, where the definition lists them.
            criteria.check_known(checks, measures=measures, questionnaires=None, path=name)
        except criteria.CriterionError as error:
            raise DefinitionError(error.path, error.reason) from None
    rules: list[tuple[str, int, str, str]] = [
        *(("outcome.criteria", index, rule.measure, rule.unit)
          for index, rule in enumerate(definition.outcome.criteria)),
        *(("outcome.disqualifiers", index, rule.measure, rule.unit)
          for index, rule in enumerate(definition.outcome.disqualifiers))]
    for name, index, measure, unit in rules:
        if measure not in measures:
            raise DefinitionError(f"{name}[{index}].measure", f"no measurement type {measure!r}")
        if unit not in measures[measure]:
            raise DefinitionError(f"{name}[{index}].unit",
                                  f"{measure} is not measured in {unit!r}")


def _where_questionnaire(data: Mapping[str, Any], code: str) -> str:
    screening = data.get("screening") or {}
    listed = screening.get("questionnaires") or []
    if code in listed:
        return f"screening.questionnaires[{listed.index(code)}]"
    return "screening.questionnaires"


# --- Writing ------------------------------------------------------------------------


def settlement_programme(data: Mapping[str, Any],
                         conversions: Sequence[Mapping[str, str]] = ()) -> dict[str, Any]:
    """The ``programme`` object of a settlement input (format version 2) for this
    definition: its code, months, outcome and payment as written, and the unit
    conversions (``measure``, ``from``, ``to``, ``offset``, ``factor``) of the measures
    its rules read, which come from the measurement types."""
    definition = parse(data)
    payment = {key: value for key, value in data["payment"].items()
               if key not in ("payments_from", "payments_until")}
    outcome = data["outcome"]
    return {
        "code": definition.code,
        "programme_months": definition.timeline.programme_months,
        "switch_months": definition.timeline.switch_months,
        "outcome": {"window_days": outcome["window_days"], "criteria": outcome["criteria"],
                    "disqualifiers": outcome.get("disqualifiers", [])},
        "conversions": [dict(conversion) for conversion in conversions],
        "payment": payment,
    }
