"""A programme's settlement rules as the rule engine reads them.

The rules themselves live in ``prevention_engine`` (one definition, also run by
auditors from a file); this module only reads a programme and its measurement
types into the engine's ``Rules``: the outcome criteria and disqualifiers as
the programme states them, the conversions of every accepted unit of the
measures they name, and the payment rule.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from apps.core.errors import InvalidInput
from apps.measurements.models import MeasurementType
from apps.programs.models import Programme
from prevention_engine.model import Conversion, Criterion, Disqualifier, Payment, Rules


def settlement_rules(programme: Programme) -> Rules:
    """The rules a run of ``programme`` is computed with (format version 2)."""
    criteria = programme.criteria
    disqualifiers = programme.disqualifiers
    outcome_rules: tuple[Criterion | Disqualifier, ...] = (*criteria, *disqualifiers)
    measures = {rule.measure for rule in outcome_rules}
    types = {kind.code: kind for kind in
             MeasurementType.objects.filter(code__in=measures).prefetch_related("units")}
    conversions = []
    for rule in outcome_rules:
        kind = types.get(rule.measure)
        if kind is None:
            raise InvalidInput(fields={"outcome_criteria": _(
                "The measure “%(code)s” is not a measurement type.") % {"code": rule.measure}})
        if rule.unit != kind.canonical_unit:
            raise InvalidInput(fields={"outcome_criteria": _(
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
        code=programme.code, programme_months=programme.programme_months,
        switch_months=programme.switch_months, window_days=programme.outcome_window_days,
        criteria=criteria, disqualifiers=disqualifiers, conversions=tuple(conversions),
        payment=Payment(per_success=programme.payment_per_success,
                        currency=programme.currency,
                        floor_share=_plain(programme.floor_share),
                        ceiling_share=_plain(programme.ceiling_share),
                        min_attributed=programme.min_attributed),
    )


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros (a stored 2.150000 is 2.15), never in exponent form."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


def provider_key(provider_id: int) -> str:
    """A provider as the interchange file names it."""
    return f"P{provider_id}"


def provider_id(key: str) -> int:
    return int(key[1:])
