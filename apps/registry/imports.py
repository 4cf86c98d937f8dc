"""Imports of caseworker-maintained lists: the vulnerable-area postcodes.

The file is a CSV with the header ``postcode,area_name``. Postcodes may be
written as ``163 55`` or ``16355``; they are returned as 5 digits. Every bad
row is reported at once, keyed ``"line N"``, so the whole file can be fixed in
one go. A value that looks like a personnummer (pasted into the wrong file) is
masked in the report rather than echoed.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.core.errors import InvalidInput
from apps.core.logging import redact

__all__ = ["AREA_NAME_MAX_LENGTH", "POSTCODE_HEADER", "parse_postcode_csv"]

POSTCODE_HEADER = ("postcode", "area_name")
AREA_NAME_MAX_LENGTH = 100  # VulnerableAreaPostcode.area_name
_POSTCODE = re.compile(r"([0-9]{3}) ?([0-9]{2})")


def parse_postcode_csv(text: str) -> list[tuple[str, str]]:
    """``(postcode, area_name)`` pairs in file order; raises ``InvalidInput`` on bad rows."""
    rows = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    errors: dict[str, Any] = {}
    try:
        header = next(rows, None)
        if header is None:
            raise InvalidInput(
                _("The file is empty."),
                fields={"line 1": _("Expected the header postcode,area_name.")},
            )
        if tuple(cell.strip().lower() for cell in header) != POSTCODE_HEADER:
            raise InvalidInput(
                _("The file does not start with the header postcode,area_name."),
                fields={"line 1": _("Expected the header postcode,area_name.")},
            )
        result: list[tuple[str, str]] = []
        first_seen: dict[str, int] = {}
        for row in rows:
            line = rows.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            problem, entry = _parse_row(row, first_seen, line)
            if problem is not None:
                errors[f"line {line}"] = problem
            elif entry is not None:
                first_seen[entry[0]] = line
                result.append(entry)
    except csv.Error:
        errors[f"line {rows.line_num}"] = _("This line is not valid CSV.")
    if errors:
        raise InvalidInput(
            _("Some lines of the file are not valid."), fields=errors
        )
    return result


def _parse_row(
    row: list[str], first_seen: dict[str, int], line: int
) -> tuple[Any, tuple[str, str] | None]:
    """(problem, None) for a bad row, (None, (postcode, area_name)) for a good one."""
    if len(row) != len(POSTCODE_HEADER):
        return _("Expected 2 columns (postcode, area_name), found %(count)d.") % {
            "count": len(row)
        }, None
    raw_postcode, raw_area = (cell.strip() for cell in row)
    match = _POSTCODE.fullmatch(raw_postcode)
    if match is None:
        if not raw_postcode:
            return _("The postcode is missing."), None
        return _(
            "“%(value)s” is not a postcode: write 5 digits, such as 163 55 or 16355."
        ) % {"value": redact(raw_postcode)}, None
    postcode = match[1] + match[2]
    if postcode in first_seen:
        return _("Postcode %(value)s appears again (first on line %(line)d).") % {
            "value": f"{postcode[:3]} {postcode[3:]}",
            "line": first_seen[postcode],
        }, None
    if len(raw_area) > AREA_NAME_MAX_LENGTH:
        return _("The area name is longer than %(max)d characters.") % {
            "max": AREA_NAME_MAX_LENGTH
        }, None
    return None, (postcode, raw_area)
