"""A programme version's settlement rules as the rule engine reads them.

The rules themselves live in ``prevention_engine`` (one definition, also run by
auditors from a file); this module only reads a version's definition and its
measurement types into the engine's ``Rules``: the outcome criteria and disqualifiers as
the programme states them, the conversions of every accepted unit of the
measures they name, and the payment rule.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from apps.core.errors import InvalidInput
from apps.measurements.models import MeasurementType
from apps.programs.errors import ProgrammeNotDefined
from apps.programs.models import ProgrammeVersion
from apps.programs.selectors import first_version, version_terms
from apps.settlements.models import SettlementRun
from prevention_engine.model import Conversion, Criterion, Disqualifier, Rules


def settlement_rules(version: ProgrammeVersion) -> Rules:
    """The rules a run of the enrollments under ``version`` is computed with (format
    version 2): the version's outcome criteria, disqualifiers and payment rule, and the
    conversions of every accepted unit of the measures they name."""
    terms = version_terms(version)
    criteria = terms.outcome.criteria
    disqualifiers = terms.outcome.disqualifiers
    outcome_rules: tuple[Criterion | Disqualifier, ...] = (*criteria, *disqualifiers)
    measures = {rule.measure for rule in outcome_rules}
    types = {kind.code: kind for kind in
             MeasurementType.objects.filter(code__in=measures).prefetch_related("units")}
    conversions = []
    for rule in outcome_rules:
        kind = types.get(rule.measure)
        if kind is None:
            raise InvalidInput(fields={"outcome.criteria": _(
                "The measure “%(code)s” is not a measurement type.") % {"code": rule.measure}})
        if rule.unit != kind.canonical_unit:
            raise InvalidInput(fields={"outcome.criteria": _(
                "%(code)s is compared in its stored unit, %(unit)s.") % {
                    "code": rule.measure, "unit": kind.canonical_unit}})
    for code in sorted(measures):
        kind = types[code]
        for accepted in sorted(kind.units.all(), key=lambda unit: unit.unit):
            if accepted.unit == kind.canonical_unit:
                continue
            conversions.append(Conversion(
                measure=code, from_unit=accepted.unit, to_unit=kind.canonical_unit,
                offset=_plain(-accepted.subtract), factor=_plain(accepted.multiply)))
    return Rules(
        code=terms.code, programme_months=terms.timeline.programme_months,
        switch_months=terms.timeline.switch_months, window_days=terms.outcome.window_days,
        criteria=criteria, disqualifiers=disqualifiers, conversions=tuple(conversions),
        payment=terms.payment,
    )


def run_version(run: SettlementRun) -> ProgrammeVersion:
    """The version whose enrollments and rules ``run`` settles (a run made before
    programmes had versions settled the programme's first one)."""
    if run.programme_version is not None:
        return run.programme_version
    first = first_version(run.programme)
    if first is None:
        raise ProgrammeNotDefined()
    return first


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros (a stored 2.150000 is 2.15), never in exponent form."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


def provider_key(provider_id: int) -> str:
    """A provider as the interchange file names it."""
    return f"P{provider_id}"


def provider_id(key: str) -> int:
    return int(key[1:])
