"""Swedish personnummer: parsing and validation (SPEC §6).

A pure module: no ORM and no clock. The caller passes ``today`` so that the
century of a 10-digit number can be inferred and a birth date in the future
refused.

Accepted forms (surrounding whitespace is ignored):

- 10 digits: ``YYMMDD-NNNC``, ``YYMMDDNNNC`` and ``YYMMDD+NNNC`` (``+`` for
  people aged 100 or more);
- 12 digits: ``YYYYMMDD-NNNC`` and ``YYYYMMDDNNNC``.

``C`` is a Luhn check digit over the 10-digit form. Coordination numbers
(samordningsnummer) add 60 to the day and are accepted. The second-to-last
digit is odd for men and even for women.

A personnummer is personal data: neither the errors raised here nor the
``Personnummer`` value ever show the number in ``str()``/``repr()``, so it cannot
slip into a log line or a traceback.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy as _

from apps.core.luhn import luhn_valid
from apps.registry.errors import InvalidPersonnummer
from prevention_engine.dates import age_on

__all__ = ["InvalidPersonnummer", "Personnummer", "parse_personnummer"]

# ASCII digits only: ``\d`` would also accept other scripts' digits.
_SHAPE = re.compile(
    r"(?P<century>[0-9]{2})?(?P<yymmdd>[0-9]{6})(?P<separator>[-+]?)(?P<serial>[0-9]{4})"
)
_COORDINATION_OFFSET = 60

# Stable codes, one per reason for refusing a number.
FORMAT = "format"
DATE = "date"
CHECKSUM = "checksum"
FUTURE = "future"

# The messages name the problem, never the value that was typed.
_MESSAGES = {
    FORMAT: _(
        "This is not a personnummer: write its 10 or 12 digits as YYMMDD-NNNN "
        "or YYYYMMDD-NNNN."
    ),
    DATE: _("The personnummer does not contain a valid date of birth."),
    CHECKSUM: _(
        "The last digit of the personnummer (the check digit) does not match. "
        "Please check the number for typing errors."
    ),
    FUTURE: _("The date of birth in the personnummer is in the future."),
}


def _refuse(code: str) -> InvalidPersonnummer:
    message = _MESSAGES[code]
    return InvalidPersonnummer(message, code=code, fields={"personnummer": message})


@dataclass(frozen=True, repr=False)
class Personnummer:
    """A valid personnummer or coordination number.

    ``str()`` and ``repr()`` show only the masked form; read ``digits`` when the
    full number is really needed (storing it encrypted, hashing it).
    """

    digits: str  # 12 digits YYYYMMDDNNNC as written (day+60 kept)
    birth_date: date
    sex: str  # "F" or "M"
    is_coordination_number: bool

    @property
    def masked(self) -> str:
        """Year and month of birth only, e.g. ``198112**-****``."""
        return f"{self.digits[:6]}**-****"

    def age_on(self, day: date) -> int:
        """Completed years of age on ``day``."""
        return age_on(self.birth_date, day)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        kind = "coordination number" if self.is_coordination_number else "personnummer"
        return f"<Personnummer {self.masked} ({kind})>"


def parse_personnummer(value: str, *, today: date) -> Personnummer:
    """Parses and validates ``value``; raises ``InvalidPersonnummer`` if it is refused.

    Checks run in this order, each with its own code: ``format`` (length,
    characters, separator), ``date`` (no such calendar date), ``checksum``
    (Luhn check digit) and ``future`` (birth date after ``today``).
    """
    if not isinstance(value, str):
        raise _refuse(FORMAT)
    match = _SHAPE.fullmatch(value.strip())
    if match is None:
        raise _refuse(FORMAT)
    century_digits = match["century"]
    yymmdd = match["yymmdd"]
    separator = match["separator"]
    serial = match["serial"]
    if century_digits is not None and separator == "+":
        # The century is written out; "+" (aged 100 or more) only belongs to the short form.
        raise _refuse(FORMAT)

    yy, month, written_day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    is_coordination_number = written_day > _COORDINATION_OFFSET
    day = written_day - _COORDINATION_OFFSET if is_coordination_number else written_day

    if century_digits is not None:
        year = int(century_digits) * 100 + yy
    else:
        year = _infer_year(yy, month, day, today=today, centenarian=separator == "+")

    birth_date = _calendar_date(year, month, day)
    if birth_date is None:
        raise _refuse(DATE)
    if not luhn_valid(yymmdd + serial):
        raise _refuse(CHECKSUM)
    if birth_date > today:
        raise _refuse(FUTURE)

    return Personnummer(
        digits=f"{year:04d}{yymmdd[2:]}{serial}",
        birth_date=birth_date,
        sex="M" if int(serial[2]) % 2 == 1 else "F",
        is_coordination_number=is_coordination_number,
    )


def _infer_year(yy: int, month: int, day: int, *, today: date, centenarian: bool) -> int:
    """The most recent year ending in ``yy`` whose (month, day) is not after ``today``;
    100 years earlier again for the ``+`` separator (aged 100 or more)."""
    year = today.year - (today.year - yy) % 100
    if (year, month, day) > (today.year, today.month, today.day):
        year -= 100
    if centenarian:
        year -= 100
    return year


def _calendar_date(year: int, month: int, day: int) -> date | None:
    """The date, or None when there is no such day (month 13, 30 February, …)."""
    if not (1 <= year <= 9999 and 1 <= month <= 12):
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return date(year, month, day)
