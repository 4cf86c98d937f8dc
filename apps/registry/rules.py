"""The inclusion decision and the inclusion sample's value in the reader's words.

The rules themselves are ``prevention_engine.inclusion`` (the ordered checks that
give a reason code) and ``prevention_engine.units`` (the HbA1c conversion and
plausible range); this module only words each reason and refusal as a lazy
translation, rendered in the reader's language, and adds the advice to seek
care (SPEC §3.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.core.errors import InvalidInput
from prevention_engine import inclusion, units
from prevention_engine.inclusion import InclusionCandidate, InclusionParams, InclusionReason
from prevention_engine.units import ValueRefused, as_written

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise as StrOrPromise


@dataclass(frozen=True)
class InclusionDecision:
    included: bool
    reason: InclusionReason
    message: StrOrPromise  # a lazy translation: plain words and what happens next
    seek_care: bool  # hba1c >= seek_care_hba1c, whatever the reason


_MESSAGES = {
    InclusionReason.INCLUDED: _(
        "Your blood test result means you can join the programme. "
        "The next step is to choose the provider you want support from."
    ),
    InclusionReason.ALREADY_ENROLLED: _(
        "You are already taking part in the programme, so you do not need to sign up again."
    ),
    InclusionReason.NO_CONSENT: _(
        "Before you can join, you need to agree that the laboratory, your provider and "
        "the agency that follows up the programme may share your information. "
        "You can give your consent on the consent page and then continue."
    ),
    InclusionReason.NOT_OPEN: _(
        "The programme is not taking in participants yet. "
        "You can sign up from {date}, when it opens."
    ),
    InclusionReason.CLOSED: _(
        "The programme no longer takes in new participants, so you cannot join it. "
        "You do not need to do anything more."
    ),
    InclusionReason.CAP_REACHED: _(
        "The programme is full: all places have been taken, so you cannot join it. "
        "You do not need to do anything more."
    ),
    InclusionReason.NO_SAMPLE: _(
        "We do not have a blood test result for you yet. Take the blood test at a "
        "laboratory using your referral code. If you typed in a result yourself, our "
        "staff will check it first. We will tell you when we have a result."
    ),
    InclusionReason.BELOW_RANGE: _(
        "Your blood test shows a normal blood sugar level, so this programme is not "
        "meant for you. That is good news, and you do not need to do anything more."
    ),
    InclusionReason.ABOVE_RANGE: _(
        "Your blood test shows a blood sugar level just above what this programme is "
        "meant for, so you cannot join it. Please talk to your health centre about "
        "what the result means for you."
    ),
    InclusionReason.DIABETES: _(
        "Your blood test shows a blood sugar level that may mean diabetes, so you "
        "cannot join this programme. Please contact your health centre so that they "
        "can examine you."
    ),
    InclusionReason.NOT_PRIORITY: _(
        "During its first months the programme is only open to people who live in "
        "certain areas, weigh more than is healthy for their height and are "
        "between {age_min} and {age_max} years old. If there are places left, you can sign up "
        "from {date}, when it opens to everyone."
    ),
}

_SEEK_CARE_ADVICE = _(
    "Your blood test shows a high blood sugar level. Please contact your health "
    "centre so that they can examine you."
)


def _message(
    params: InclusionParams, reason: InclusionReason, *, seek_care: bool
) -> StrOrPromise:
    text = _MESSAGES[reason]
    message: StrOrPromise
    if reason is InclusionReason.NOT_OPEN:
        message = format_lazy(text, date=params.start_date.isoformat())
    elif reason is InclusionReason.NOT_PRIORITY:
        message = format_lazy(
            text,
            age_min=params.priority_age_min,
            age_max=params.priority_age_max,
            date=inclusion.priority_end(params.start_date, params.priority_months).isoformat(),
        )
    else:
        message = text
    if seek_care and reason is not InclusionReason.DIABETES:
        message = format_lazy("{} {}", message, _SEEK_CARE_ADVICE)
    return message


def decide_inclusion(
    params: InclusionParams, candidate: InclusionCandidate, *, today: date, enrolled_count: int
) -> InclusionDecision:
    """The engine's inclusion reason with its message.

    ``seek_care`` is judged on the sample alone, whatever the reason, and any
    message then also tells the person to contact their health centre.
    """
    care = inclusion.seek_care(params, candidate.hba1c)
    reason = inclusion.inclusion_reason(params, candidate, today=today,
                                        enrolled_count=enrolled_count)
    return InclusionDecision(
        included=reason is InclusionReason.INCLUDED,
        reason=reason,
        message=_message(params, reason, seek_care=care),
        seek_care=care,
    )


# --- The inclusion sample's value ------------------------------------------------------

# The platform's built-in HbA1c measure (canonical unit mmol/mol; "%" is converted).
HBA1C = units.MEASURES["hba1c"]
HBA1C_NAME = "HbA1c"


def _hba1c_refusal(refused: ValueRefused) -> StrOrPromise:
    """The refusal worded as ``apps.measurements.rules`` words a follow-up value's."""
    if refused.code == units.NOT_A_NUMBER:
        return format_lazy(_("“{value}” is not a number."), value=refused.value)
    if refused.code == units.UNKNOWN_UNIT:
        return format_lazy(
            _("The unit “{unit}” is not accepted for {name}. Accepted units: {units}."),
            unit=refused.unit, name=HBA1C_NAME, units=", ".join(HBA1C.accepted_units),
        )
    given = f"{as_written(refused.number)} {refused.unit}"
    if refused.canonical is not None and refused.unit != HBA1C.canonical_unit:
        given = f"{given} ({as_written(refused.canonical)} {HBA1C.canonical_unit})"
    return format_lazy(
        _("{name} {value} is outside the plausible range {low}–{high} {unit}."),
        name=HBA1C_NAME, value=given, low=as_written(HBA1C.plausible_min),
        high=as_written(HBA1C.plausible_max), unit=HBA1C.canonical_unit,
    )


def hba1c_in_mmol_per_mol(value: Decimal | int | str, unit: str, *,
                          field: str = "value") -> Decimal:
    """``value`` in ``unit`` as HbA1c in mmol/mol (``units.to_canonical``: converted,
    rounded, range-checked).

    Raises ``InvalidInput`` whose code is the engine's (``not_a_number``,
    ``unknown_unit`` or ``out_of_range``) and whose message names ``field``.
    """
    try:
        return units.to_canonical(HBA1C, value, unit)
    except ValueRefused as refused:
        message = _hba1c_refusal(refused)
        raise InvalidInput(message, code=refused.code, fields={field: message}) from refused
