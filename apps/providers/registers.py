"""The registers behind the automated authorization checks (SPEC §3.5).

The grounds for exclusion are looked up through one protocol,
``AuthorizationRegistry``, with a method per check. The backend is chosen by
``settings.AUTHORIZATION_REGISTRY_BACKEND`` (a dotted path to a class built
with ``settings.AUTHORIZATION_REGISTRY_DIR``); the default reads CSV files
from that directory, which is what demos and tests use:

====================== ===================================================
file                   header
====================== ===================================================
f_tax.csv              organisation_number,f_tax (yes/no)
tax_debts.csv          organisation_number,debt_sek (whole kronor, ≥ 0)
annual_reports.csv     organisation_number,fiscal_year,approved (yes/no)
convictions.csv        organisation_number,name,birth_year,convicted,detail
flagged_suppliers.csv  organisation_number,flagged,detail
====================== ===================================================

A company is keyed by its organisation number; a person in
``convictions.csv`` by name and birth year (the organisation number left
empty): personal identity numbers are never stored. Every lookup answers
pass, fail or not found; "not found" asks the caseworker to check by hand.
A missing file or a bad line raises ``ImproperlyConfigured`` naming the path.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext_lazy as _

from apps.core.adapters import load_adapter, read_register_file
from apps.providers.models import CheckResult
from apps.providers.validators import normalise_organisation_number

__all__ = [
    "AuthorizationRegistry",
    "FileAuthorizationRegistry",
    "Outcome",
    "Party",
    "get_authorization_registry",
]

DEFAULT_BACKEND = "apps.providers.registers.FileAuthorizationRegistry"
Merge = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Party:
    """Someone checked for convictions: the provider, a subcontractor or an owner."""

    role: str  # "provider", "subcontractor", "owner"
    name: str
    organisation_number: str = ""
    birth_year: int | None = None

    def describe(self) -> str:
        labels = {"provider": _("provider"), "subcontractor": _("subcontractor"),
                  "owner": _("owner")}
        identity = self.organisation_number or (
            str(self.birth_year) if self.birth_year else str(_("no birth year")))
        return f"{labels.get(self.role, self.role)}: {self.name} ({identity})"


@dataclass(frozen=True)
class Outcome:
    result: str  # a CheckResult value
    detail: str
    source: str


@runtime_checkable
class AuthorizationRegistry(Protocol):
    def f_tax(self, organisation_number: str) -> Outcome:
        """Registered for F-tax (pass) or not (fail)."""
        ...

    def tax_debts(self, organisation_number: str) -> Outcome:
        """No debts at the Enforcement Authority (pass) or debts (fail)."""
        ...

    def annual_report(self, organisation_number: str) -> Outcome:
        """The latest annual report approved (pass) or not (fail)."""
        ...

    def convictions(self, party: Party) -> Outcome:
        """No convictions related to welfare crime (pass) or a conviction (fail)."""
        ...

    def flagged_supplier(self, organisation_number: str) -> Outcome:
        """Listed without flags (pass), flagged (fail); absent is not found."""
        ...


def _person_key(name: str, birth_year: int) -> str:
    return f"{' '.join(name.casefold().split())}|{birth_year}"


class _CsvFile:
    """One register file: parsed on first use and again whenever it changes."""

    def __init__(self, path: Path, header: tuple[str, ...],
                 parse: Callable[[_CsvFile, int, dict[str, str]], tuple[str, Any]],
                 merge: Merge | None = None) -> None:
        self.path = path
        self.header = header
        self._parse_row = parse
        self._merge = merge
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._rows: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self._entries().get(key)

    def _entries(self) -> dict[str, Any]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            raise ImproperlyConfigured(
                f"Authorization register {self.path}: the file does not exist "
                "(set AUTHORIZATION_REGISTRY_DIR)"
            ) from None
        with self._lock:
            if stamp != self._stamp:
                self._rows = self._load()
                self._stamp = stamp
            return self._rows

    def _load(self) -> dict[str, Any]:
        return read_register_file(self.path, register="Authorization register",
                                  setting="AUTHORIZATION_REGISTRY_DIR", parse=self._parse)

    def _parse(self, lines: Iterable[str]) -> dict[str, Any]:
        rows = csv.reader(lines)
        header = next(rows, None)
        if header is None or tuple(cell.strip().lower() for cell in header) != self.header:
            raise self.bad_line(1, f"the header must be {','.join(self.header)}")
        entries: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for row in rows:
            if not row or all(not cell.strip() for cell in row):
                continue
            line = rows.line_num
            if len(row) != len(self.header):
                raise self.bad_line(
                    line, f"expected {len(self.header)} columns, found {len(row)}")
            cells = dict(zip(self.header, (cell.strip() for cell in row), strict=True))
            key, value = self._parse_row(self, line, cells)
            if key in entries:
                if self._merge is None:
                    raise self.bad_line(line, f"the same entry is on line {first_seen[key]}")
                value = self._merge(entries[key], value)
            else:
                first_seen[key] = line
            entries[key] = value
        return entries

    def bad_line(self, line: int, reason: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"Authorization register {self.path}, line {line}: {reason}")

    def organisation_number(self, line: int, value: str) -> str:
        try:
            return normalise_organisation_number(value)
        except ValidationError:
            raise self.bad_line(line, "the organisation number is not valid") from None

    def yes_no(self, line: int, value: str, column: str) -> bool:
        answer = value.lower()
        if answer not in {"yes", "no"}:
            raise self.bad_line(line, f"{column} must be yes or no")
        return answer == "yes"

    def whole_number(self, line: int, value: str, column: str) -> int:
        if not value.isdigit():
            raise self.bad_line(line, f"{column} must be a whole number, 0 or more")
        return int(value)


def _f_tax_row(file: _CsvFile, line: int, row: dict[str, str]) -> tuple[str, bool]:
    return (file.organisation_number(line, row["organisation_number"]),
            file.yes_no(line, row["f_tax"], "f_tax"))


def _tax_debt_row(file: _CsvFile, line: int, row: dict[str, str]) -> tuple[str, int]:
    return (file.organisation_number(line, row["organisation_number"]),
            file.whole_number(line, row["debt_sek"], "debt_sek"))


def _annual_report_row(file: _CsvFile, line: int,
                       row: dict[str, str]) -> tuple[str, tuple[int, bool]]:
    year = file.whole_number(line, row["fiscal_year"], "fiscal_year")
    if not 1900 <= year <= 2200:
        raise file.bad_line(line, "fiscal_year must be a year such as 2025")
    return (file.organisation_number(line, row["organisation_number"]),
            (year, file.yes_no(line, row["approved"], "approved")))


def _conviction_row(file: _CsvFile, line: int,
                    row: dict[str, str]) -> tuple[str, tuple[bool, str]]:
    value = (file.yes_no(line, row["convicted"], "convicted"), row["detail"])
    if row["organisation_number"]:
        return file.organisation_number(line, row["organisation_number"]), value
    if not row["name"] or not row["birth_year"]:
        raise file.bad_line(line, "a person needs a name and a birth year "
                                  "(a company an organisation number)")
    return _person_key(row["name"], file.whole_number(line, row["birth_year"],
                                                      "birth_year")), value


def _latest_year(old: tuple[int, bool], new: tuple[int, bool]) -> tuple[int, bool]:
    """Several fiscal years of one company: the latest counts."""
    if old[0] == new[0]:
        return (old[0], old[1] and new[1])
    return max(old, new)


def _any_conviction(old: tuple[bool, str], new: tuple[bool, str]) -> tuple[bool, str]:
    """Several rows for one party: a conviction on any of them counts."""
    details = "; ".join(detail for convicted, detail in (old, new) if convicted and detail)
    return (old[0] or new[0], details)


def _flag_row(file: _CsvFile, line: int, row: dict[str, str]) -> tuple[str, tuple[bool, str]]:
    return (file.organisation_number(line, row["organisation_number"]),
            (file.yes_no(line, row["flagged"], "flagged"), row["detail"]))


class FileAuthorizationRegistry:
    """The registers read from CSV files in one directory (see the module's docstring)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._f_tax = _CsvFile(self.directory / "f_tax.csv",
                               ("organisation_number", "f_tax"), _f_tax_row)
        self._tax_debts = _CsvFile(self.directory / "tax_debts.csv",
                                   ("organisation_number", "debt_sek"), _tax_debt_row)
        self._annual_reports = _CsvFile(
            self.directory / "annual_reports.csv",
            ("organisation_number", "fiscal_year", "approved"), _annual_report_row,
            merge=_latest_year)
        self._convictions = _CsvFile(
            self.directory / "convictions.csv",
            ("organisation_number", "name", "birth_year", "convicted", "detail"),
            _conviction_row, merge=_any_conviction)
        self._flags = _CsvFile(self.directory / "flagged_suppliers.csv",
                               ("organisation_number", "flagged", "detail"), _flag_row)

    def __repr__(self) -> str:
        return f"<FileAuthorizationRegistry {self.directory}>"

    @staticmethod
    def _source(register: str, file: _CsvFile) -> str:
        return f"{register} (file {file.path.name})"

    def f_tax(self, organisation_number: str) -> Outcome:
        source = self._source("Skatteverket, F-skatt", self._f_tax)
        registered = self._f_tax.get(organisation_number)
        if registered is None:
            return Outcome(CheckResult.NOT_FOUND, str(_(
                "Not found in the F-tax register: check with Skatteverket.")), source)
        if registered:
            return Outcome(CheckResult.PASS, str(_("Registered for F-tax.")), source)
        return Outcome(CheckResult.FAIL, str(_("Not registered for F-tax.")), source)

    def tax_debts(self, organisation_number: str) -> Outcome:
        source = self._source("Kronofogden, skulder", self._tax_debts)
        debt = self._tax_debts.get(organisation_number)
        if debt is None:
            return Outcome(CheckResult.NOT_FOUND, str(_(
                "Not found in the register of debts: check with Kronofogden.")), source)
        if debt == 0:
            return Outcome(CheckResult.PASS, str(_("No tax debts.")), source)
        return Outcome(CheckResult.FAIL, str(_(
            "Tax debts of %(amount)s SEK at the Enforcement Authority.") % {"amount": debt}),
            source)

    def annual_report(self, organisation_number: str) -> Outcome:
        source = self._source("Bolagsverket, årsredovisningar", self._annual_reports)
        latest = self._annual_reports.get(organisation_number)
        if latest is None:
            return Outcome(CheckResult.NOT_FOUND, str(_(
                "No annual report found: check with Bolagsverket.")), source)
        year, approved = latest
        if approved:
            return Outcome(CheckResult.PASS, str(_(
                "The annual report for %(year)s is approved.") % {"year": year}), source)
        return Outcome(CheckResult.FAIL, str(_(
            "The latest annual report (%(year)s) is not approved.") % {"year": year}), source)

    def convictions(self, party: Party) -> Outcome:
        source = self._source("Belastningsregistret", self._convictions)
        if party.organisation_number:
            key = party.organisation_number
        elif party.birth_year:
            key = _person_key(party.name, party.birth_year)
        else:
            return Outcome(CheckResult.NOT_FOUND, str(_(
                "A person without a birth year cannot be checked automatically: request an "
                "extract from the conviction register.")), source)
        found = self._convictions.get(key)
        if found is None:
            return Outcome(CheckResult.NOT_FOUND, str(_(
                "Not found in the conviction register: request an extract.")), source)
        convicted, detail = found
        if convicted:
            return Outcome(CheckResult.FAIL, str(_(
                "Convicted of a crime related to welfare crime: %(detail)s")
                % {"detail": detail or "—"}), source)
        return Outcome(CheckResult.PASS, str(_("No convictions related to welfare crime.")),
                       source)

    def flagged_supplier(self, organisation_number: str) -> Outcome:
        source = self._source("Open database of public-sector suppliers", self._flags)
        found = self._flags.get(organisation_number)
        if found is None:
            return Outcome(CheckResult.NOT_FOUND, str(_(
                "Absent from the database of public-sector suppliers: check the supplier "
                "against the authority registers.")), source)
        flagged, detail = found
        if flagged:
            return Outcome(CheckResult.FAIL, str(_("Flagged: %(detail)s")
                                                 % {"detail": detail or "—"}), source)
        return Outcome(CheckResult.PASS, str(_("Listed without flags.")), source)


def get_authorization_registry() -> AuthorizationRegistry:
    """The registry named by the settings (one instance per backend and directory)."""
    return load_adapter(
        backend_setting="AUTHORIZATION_REGISTRY_BACKEND", default_backend=DEFAULT_BACKEND,
        argument_setting="AUTHORIZATION_REGISTRY_DIR",
        argument_missing="AUTHORIZATION_REGISTRY_DIR must name the directory of the "
                         "register files",
        protocol=AuthorizationRegistry,  # type: ignore[type-abstract]
        protocol_needs="does not implement AuthorizationRegistry (f_tax, tax_debts, "
                       "annual_report, convictions, flagged_supplier)")
