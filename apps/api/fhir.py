"""Laboratory results as FHIR R4: an ``Observation`` or a ``Bundle`` of them.

Read as plain JSON with every refusal naming the path it is about
(``entry[2].resource.code.coding``), so a laboratory can fix its message. Only
the elements the platform uses are read:

- ``status``: ``final``, ``amended`` or ``corrected`` (a preliminary result is
  refused);
- ``code.coding``: a coding with system ``http://loinc.org`` whose code the
  platform knows (HbA1c ``59261-8`` in mmol/mol or ``4548-4`` in %, and the LOINC
  code of each measurement type);
- ``subject.identifier``: ``urn:prevention:programme-id`` with the programme ID
  (pseudonym) for follow-up results, or ``urn:prevention:referral-code`` with
  the referral code for an inclusion sample;
- ``effectiveDateTime`` (or ``effectivePeriod.start``): the day the sample was
  taken (a time with an offset is read as a date in Europe/Stockholm);
- ``valueQuantity``: ``value`` (a JSON number, read as a decimal) and the UCUM
  ``code`` (or ``unit``);
- ``identifier[0].value``: the laboratory's sample ID, the idempotency key.

A ``Bundle`` of type ``transaction`` or ``collection`` is stored all or nothing;
a ``batch`` stores its good entries and reports each bad one (FHIR's meaning of
the two types).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from apps.api.errors import FhirInvalid

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
PROGRAMME_ID_SYSTEM = "urn:prevention:programme-id"
REFERRAL_CODE_SYSTEM = "urn:prevention:referral-code"
ACCEPTED_STATUSES = ("final", "amended", "corrected")
BUNDLE_TYPES = ("batch", "transaction", "collection")
ALL_OR_NOTHING_BUNDLES = ("transaction", "collection")
MAX_ENTRIES = 5000
STOCKHOLM = ZoneInfo("Europe/Stockholm")

# Where each input of the measurement intake sits in an Observation.
FIELD_PATHS = {
    "prepatient": "subject.identifier.value",
    "type": "code.coding",
    "value": "valueQuantity.value",
    "unit": "valueQuantity.code",
    "taken_on": "effectiveDateTime",
    "source_reference": "identifier[0].value",
}


@dataclass(frozen=True)
class Catalogue:
    """What LOINC codes and units the platform accepts.

    ``loinc``: LOINC code -> (type code, the unit the code implies or "").
    ``units``: type code -> accepted units (as written; compared case-insensitively).
    """

    loinc: Mapping[str, tuple[str, str]]
    units: Mapping[str, Collection[str]]



@dataclass(frozen=True)
class Observation:
    """One result read from FHIR; ``path`` is where it sits (``entry[2].resource.``)."""

    path: str
    subject: str
    type: str
    value: Decimal | int
    unit: str
    unit_path: str
    taken_on: date
    taken_on_path: str
    source_reference: str

    def field_path(self, field: str) -> str:
        """The FHIR path (within the resource) of an intake field."""
        if field == "unit":
            return self.unit_path
        if field == "taken_on":
            return self.taken_on_path
        return FIELD_PATHS.get(field, field)


def is_fhir(data: Any) -> bool:
    return isinstance(data, dict) and "resourceType" in data


class _Reader:
    def __init__(self, catalogue: Catalogue, subject_system: str) -> None:
        self.catalogue = catalogue
        self.subject_system = subject_system
        self.errors: dict[str, list[str]] = {}

    def refuse(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def observation(self, data: Any, path: str) -> Observation | None:
        where = path.rstrip(".") or "resource"
        if not isinstance(data, dict):
            self.refuse(where, _("Expected a FHIR Observation (a JSON object)."))
            return None
        if data.get("resourceType") != "Observation":
            self.refuse(f"{path}resourceType", _("Expected resourceType “Observation”."))
            return None
        before = len(self.errors)
        status = data.get("status")
        if status not in ACCEPTED_STATUSES:
            self.refuse(f"{path}status", _("The status must be one of %(statuses)s; a "
                                           "preliminary or cancelled result is not stored.")
                        % {"statuses": ", ".join(ACCEPTED_STATUSES)})
        coded = self._code(data.get("code"), f"{path}code")
        subject = self._subject(data.get("subject"), f"{path}subject")
        taken_on, taken_on_path = self._effective(data, path)
        value, unit, unit_path = self._quantity(data.get("valueQuantity"),
                                                f"{path}valueQuantity", coded)
        reference = self._identifier(data.get("identifier"), f"{path}identifier")
        if len(self.errors) > before:
            return None
        assert coded is not None and subject is not None and taken_on is not None
        assert value is not None and unit is not None and reference is not None
        return Observation(path=path, subject=subject, type=coded[0], value=value, unit=unit,
                           unit_path=unit_path, taken_on=taken_on,
                           taken_on_path=taken_on_path, source_reference=reference)

    def _code(self, code: Any, path: str) -> tuple[str, str] | None:
        codings = code.get("coding") if isinstance(code, dict) else None
        if not isinstance(codings, list) or not codings:
            self.refuse(f"{path}.coding", _("Give the LOINC code in code.coding."))
            return None
        for coding in codings:
            if (isinstance(coding, dict) and coding.get("system") == LOINC_SYSTEM
                    and isinstance(coding.get("code"), str)
                    and coding["code"] in self.catalogue.loinc):
                return self.catalogue.loinc[coding["code"]]
        given = [str(c.get("code")) for c in codings
                 if isinstance(c, dict) and c.get("system") == LOINC_SYSTEM]
        self.refuse(f"{path}.coding", _(
            "No LOINC code (system %(system)s) that the platform accepts here%(given)s. "
            "Accepted: %(known)s.") % {
                "system": LOINC_SYSTEM,
                "given": f" ({', '.join(given)})" if given else "",
                "known": ", ".join(sorted(self.catalogue.loinc)),
        })
        return None

    def _subject(self, subject: Any, path: str) -> str | None:
        identifier = subject.get("identifier") if isinstance(subject, dict) else None
        if (not isinstance(identifier, dict) or identifier.get("system") != self.subject_system
                or not isinstance(identifier.get("value"), str)
                or not identifier["value"].strip()):
            self.refuse(f"{path}.identifier", _(
                "Identify the subject by an identifier with system %(system)s and a value.")
                % {"system": self.subject_system})
            return None
        return str(identifier["value"]).strip()

    def _effective(self, data: dict[str, Any], path: str) -> tuple[date | None, str]:
        if "effectiveDateTime" in data:
            where = f"{path}effectiveDateTime"
            raw = data["effectiveDateTime"]
        else:
            period = data.get("effectivePeriod")
            where = f"{path}effectivePeriod.start"
            raw = period.get("start") if isinstance(period, dict) else None
            if raw is None:
                self.refuse(f"{path}effectiveDateTime",
                            _("Give the day the sample was taken (effectiveDateTime)."))
                return None, "effectiveDateTime"
        day = parse_fhir_date(raw)
        if day is None:
            self.refuse(where, _("Expected a full date or date-time such as 2026-11-02 or "
                                 "2026-11-02T08:30:00+01:00."))
        return day, where.removeprefix(path)

    def _quantity(self, quantity: Any, path: str,
                  coded: tuple[str, str] | None) -> tuple[Decimal | int | None, str | None, str]:
        unit_path = "valueQuantity.code"
        if not isinstance(quantity, dict):
            self.refuse(path, _("Give the result as a valueQuantity with a value and a "
                                "UCUM unit."))
            return None, None, unit_path
        value = quantity.get("value")
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            self.refuse(f"{path}.value", _("The value must be a JSON number."))
            value = None
        elif isinstance(value, Decimal) and not value.is_finite():
            self.refuse(f"{path}.value", _("The value must be a finite number."))
            value = None
        system = quantity.get("system")
        if system is not None and system != UCUM_SYSTEM:
            self.refuse(f"{path}.system", _("Units are UCUM (system %(system)s).")
                        % {"system": UCUM_SYSTEM})
        unit = quantity.get("code")
        if unit is None:
            unit, unit_path = quantity.get("unit"), "valueQuantity.unit"
        if not isinstance(unit, str) or not unit.strip():
            self.refuse(f"{path}.code", _("Give the UCUM unit in valueQuantity.code."))
            return value, None, unit_path
        unit = unit.strip()
        if coded is not None:
            type_code, implied = coded
            accepted = self.catalogue.units.get(type_code, ())
            if implied and unit.casefold() != implied.casefold():
                self.refuse(f"{path}.{unit_path.split('.')[-1]}", _(
                    "This LOINC code is reported in %(implied)s, not “%(unit)s”.")
                    % {"implied": implied, "unit": unit})
            elif unit.casefold() not in {u.casefold() for u in accepted}:
                self.refuse(f"{path}.{unit_path.split('.')[-1]}", _(
                    "The unit “%(unit)s” is not accepted for %(type)s. Accepted units: "
                    "%(units)s.") % {"unit": unit, "type": type_code,
                                     "units": ", ".join(accepted)})
        return value, unit, unit_path

    def _identifier(self, identifiers: Any, path: str) -> str | None:
        first = identifiers[0] if isinstance(identifiers, list) and identifiers else None
        value = first.get("value") if isinstance(first, dict) else None
        if not isinstance(value, str) or not value.strip():
            self.refuse(path, _("Give the laboratory's sample ID in identifier[0].value."))
            return None
        if len(value.strip()) > 100:
            self.refuse(f"{path}[0].value", _("The sample ID is at most 100 characters."))
            return None
        return value.strip()


def parse_fhir_date(raw: Any) -> date | None:
    """A FHIR date or dateTime as a calendar day; partial dates (2026, 2026-11) are refused."""
    if not isinstance(raw, str):
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        if len(raw) < 10 or raw[10] != "T":
            return None
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return moment.astimezone(STOCKHOLM).date()
    return moment.date()


def read_results(data: Any, *, catalogue: Catalogue,
                 subject_system: str = PROGRAMME_ID_SYSTEM) -> tuple[list[Observation], bool]:
    """Observations from an Observation or a Bundle, and whether to store them all or
    nothing. Raises ``FhirInvalid`` naming every path that cannot be read."""
    reader = _Reader(catalogue, subject_system)
    kind = data.get("resourceType") if isinstance(data, dict) else None
    observations: list[Observation] = []
    all_or_nothing = True
    if kind == "Observation":
        found = reader.observation(data, "")
        if found is not None:
            observations.append(found)
    elif kind == "Bundle":
        bundle_type = data.get("type")
        if bundle_type not in BUNDLE_TYPES:
            reader.refuse("type", _("The bundle type must be one of %(types)s.")
                          % {"types": ", ".join(BUNDLE_TYPES)})
        all_or_nothing = bundle_type in ALL_OR_NOTHING_BUNDLES
        entries = data.get("entry")
        if not isinstance(entries, list) or not entries:
            reader.refuse("entry", _("The bundle has no entries."))
        elif len(entries) > MAX_ENTRIES:
            reader.refuse("entry", _("At most %(max)d entries per bundle.")
                          % {"max": MAX_ENTRIES})
        else:
            for index, entry in enumerate(entries):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                found = reader.observation(resource, f"entry[{index}].resource.")
                if found is not None:
                    observations.append(found)
    else:
        reader.refuse("resourceType", _("Expected a FHIR Observation or Bundle."))
    if reader.errors:
        raise FhirInvalid(fields=reader.errors)
    return observations, all_or_nothing


def read_referral_result(data: Any, *, catalogue: Catalogue) -> Observation:
    """One Observation whose subject is a referral code (of a measurement type the
    catalogue knows; which the referral's programme takes is the service's to say)."""
    reader = _Reader(catalogue, REFERRAL_CODE_SYSTEM)
    found = reader.observation(data, "")
    if reader.errors or found is None:
        raise FhirInvalid(fields=reader.errors or {"resourceType": [
            _("Expected a FHIR Observation.")]})
    return found
