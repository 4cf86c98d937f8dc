"""Swedish organisation numbers (organisationsnummer), SPEC §6."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.luhn import luhn_valid


def normalise_organisation_number(value: str) -> str:
    """``556036-0793`` or ``5560360793`` → ``5560360793``; raises on anything else."""
    digits = value.strip().replace("-", "")
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    if len(digits) != 10 or not digits.isdigit():
        raise ValidationError(
            _("An organisation number has 10 digits, written NNNNNN-NNNN."), code="format"
        )
    if int(digits[2]) < 2:
        raise ValidationError(
            _("The third digit of an organisation number is 2 or more."), code="third_digit"
        )
    if not luhn_valid(digits):
        raise ValidationError(
            _("The check digit does not match: please check the organisation number."),
            code="checksum",
        )
    return digits


def validate_organisation_number(value: str) -> None:
    normalise_organisation_number(value)
