"""Validation of the providers' data: organisation numbers (SPEC §6) and the
marketplace profile's lists (languages, accessibility, regions, subcontractors,
owners).

The list validators both check and normalise: ``clean_*`` returns the value as
it is stored (organisation numbers without a hyphen, codes in lower case);
``validate_*`` is the model-field validator built on it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.logging import PERSONNUMMER_LIKE
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


# --- Marketplace profile ----------------------------------------------------------

# ISO 639-1 (two-letter language codes), as maintained by the Library of Congress.
_ISO_639_1_TABLE = """
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht
hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky
la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny
oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss
st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo
za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_TABLE.split())

ACCESSIBILITY_CHOICES = (
    ("read_aloud", _("Read aloud (for people with a visual impairment)")),
    ("easy_read", _("Easy-to-read Swedish")),
    ("sign_language", _("Sign language")),
    ("large_text", _("Large text")),
    ("interpreter", _("Interpreter")),
)

NATIONAL = "national"
# The 21 regions of Sweden, by the short names people use.
SWEDISH_REGIONS = (
    "Blekinge", "Dalarna", "Gotland", "Gävleborg", "Halland", "Jämtland Härjedalen",
    "Jönköpings län", "Kalmar län", "Kronoberg", "Norrbotten", "Skåne", "Stockholm",
    "Sörmland", "Uppsala", "Värmland", "Västerbotten", "Västernorrland", "Västmanland",
    "Västra Götaland", "Örebro län", "Östergötland",
)
REGION_CHOICES = ((NATIONAL, _("The whole country")),
                  *((region, region) for region in SWEDISH_REGIONS))

# A run of digits shaped like a personnummer (with or without a separator).
MAX_LIST_LENGTH = 200


def _require_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(_("Expected a list."), code="not_a_list")
    if len(value) > MAX_LIST_LENGTH:
        raise ValidationError(_("At most %(count)d entries."), code="too_long",
                              params={"count": MAX_LIST_LENGTH})
    return value


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def clean_languages(value: Any) -> list[str]:
    """ISO 639-1 codes, lower case, each once: ``["sv", "en", "ar"]``."""
    codes = []
    for item in _require_list(value):
        code = item.strip().lower() if isinstance(item, str) else ""
        if code not in ISO_639_1:
            raise ValidationError(
                _("%(value)s is not an ISO 639-1 language code (two letters, e.g. sv, en)."),
                code="language", params={"value": item},
            )
        codes.append(code)
    return _unique(codes)


def clean_accessibility(value: Any) -> list[str]:
    allowed = {key for key, _label in ACCESSIBILITY_CHOICES}
    items = _require_list(value)
    for item in items:
        if item not in allowed:
            raise ValidationError(
                _("%(value)s is not one of: %(allowed)s."), code="accessibility",
                params={"value": item, "allowed": ", ".join(sorted(allowed))},
            )
    return _unique(items)


def clean_regions(value: Any) -> list[str]:
    """Region names from the fixed list, or ``["national"]`` alone."""
    items = _require_list(value)
    for item in items:
        if item != NATIONAL and item not in SWEDISH_REGIONS:
            raise ValidationError(
                _("%(value)s is not one of the 21 Swedish regions (or national)."),
                code="region", params={"value": item},
            )
    if NATIONAL in items and len(set(items)) > 1:
        raise ValidationError(
            _("National coverage includes every region: name no regions beside it."),
            code="region_national",
        )
    return _unique(items)


def _clean_name(value: Any, *, position: int) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 200:
        raise ValidationError(_("Entry %(position)d: a name (at most 200 characters) is "
                                "required."), code="name", params={"position": position})
    if PERSONNUMMER_LIKE.search(name):
        raise ValidationError(
            _("Entry %(position)d: the name seems to contain a personal identity number; "
              "personal identity numbers are not stored."),
            code="personnummer", params={"position": position},
        )
    return " ".join(name.split())


def _clean_entry_number(value: Any, *, position: int) -> str:
    try:
        return normalise_organisation_number(value if isinstance(value, str) else "")
    except ValidationError as error:
        raise ValidationError(
            _("Entry %(position)d: %(error)s"), code=error.code,
            params={"position": position, "error": " ".join(error.messages)},
        ) from None


def _entries(value: Any, allowed_keys: set[str]) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for position, item in enumerate(_require_list(value), start=1):
        if not isinstance(item, dict) or not set(item) <= allowed_keys:
            raise ValidationError(
                _("Entry %(position)d: expected an object with the keys %(keys)s."),
                code="entry", params={"position": position, "keys": ", ".join(
                    sorted(allowed_keys))},
            )
        rows.append((position, item))
    return rows


def clean_subcontractors(value: Any) -> list[dict[str, str]]:
    """``[{"name": …, "organisation_number": …}]``, both required."""
    cleaned = []
    for position, item in _entries(value, {"name", "organisation_number"}):
        cleaned.append({
            "name": _clean_name(item.get("name"), position=position),
            "organisation_number": _clean_entry_number(item.get("organisation_number"),
                                                       position=position),
        })
    return cleaned


def clean_owners(value: Any) -> list[dict[str, Any]]:
    """Owners and beneficial owners: ``[{"name", "organisation_number"?, "birth_year"?}]``.

    A company is named with its organisation number; a person with a name and,
    to tell namesakes apart, a birth year. Personal identity numbers are never
    stored: a personnummer is refused where an organisation number is asked
    for (its third digit is a month, 0 or 1) and inside names.
    """
    cleaned = []
    this_year = clock.today().year
    for position, item in _entries(value, {"name", "organisation_number", "birth_year"}):
        entry: dict[str, Any] = {"name": _clean_name(item.get("name"), position=position)}
        number = item.get("organisation_number")
        year = item.get("birth_year")
        if number not in (None, ""):
            entry["organisation_number"] = _clean_entry_number(number, position=position)
        if year not in (None, ""):
            if entry.get("organisation_number"):
                raise ValidationError(
                    _("Entry %(position)d: a company has an organisation number, a person a "
                      "birth year; not both."), code="owner_kind", params={"position": position},
                )
            if not isinstance(year, int) or isinstance(year, bool) or not (
                    1900 <= year <= this_year):
                raise ValidationError(
                    _("Entry %(position)d: the birth year must be a year such as 1970."),
                    code="birth_year", params={"position": position},
                )
            entry["birth_year"] = year
        cleaned.append(entry)
    return cleaned


def validate_languages(value: Any) -> None:
    clean_languages(value)


def validate_accessibility(value: Any) -> None:
    clean_accessibility(value)


def validate_regions(value: Any) -> None:
    clean_regions(value)


def validate_subcontractors(value: Any) -> None:
    clean_subcontractors(value)


def validate_owners(value: Any) -> None:
    clean_owners(value)
