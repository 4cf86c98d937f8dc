"""The population address register: the postcode a person is registered at.

The platform asks one question of the register, "which postcode is this
person registered at?", through the ``PopulationRegister`` protocol. The
backend is chosen by ``settings.POPULATION_REGISTER_BACKEND`` (a dotted path to
a class built with the path in ``settings.POPULATION_REGISTER_CSV``); the
default reads a CSV file, which is what demos and tests use.

Nothing here logs or shows a personnummer, not even when a row is malformed.
"""

from __future__ import annotations

import csv
import logging
import re
import threading
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Protocol, runtime_checkable

from django.core.exceptions import ImproperlyConfigured

from apps.core.adapters import load_adapter, read_register_file
from apps.registry.errors import InvalidPersonnummer
from apps.registry.identity import Personnummer, parse_personnummer

__all__ = ["FilePopulationRegister", "PopulationRegister", "get_population_register"]

logger = logging.getLogger(__name__)

DEFAULT_BACKEND = "apps.registry.population.FilePopulationRegister"
HEADER = ("personnummer", "postcode")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_POSTCODE = re.compile(r"[0-9]{5}")


@runtime_checkable
class PopulationRegister(Protocol):
    def postcode_for(self, personnummer: Personnummer) -> str | None:
        """The registered 5-digit postcode, or None if the person is not found."""
        ...


class FilePopulationRegister:
    """A register read from a CSV file with the header ``personnummer,postcode``.

    Personnummer are written with 12 digits and no separator, postcodes with 5
    digits. The file is read once, on the first lookup; a missing file or a bad
    row raises ``ImproperlyConfigured`` naming the path and the line (never the
    row's content).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._postcodes: dict[str, str] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<FilePopulationRegister {self.path}>"

    def postcode_for(self, personnummer: Personnummer) -> str | None:
        postcode = self._entries().get(personnummer.digits)
        logger.debug("Population register lookup: %s", "found" if postcode else "not found")
        return postcode

    def __len__(self) -> int:
        return len(self._entries())

    def _entries(self) -> dict[str, str]:
        postcodes = self._postcodes
        if postcodes is None:
            with self._lock:
                if self._postcodes is None:
                    self._postcodes = self._load()
                postcodes = self._postcodes
        return postcodes

    def _load(self) -> dict[str, str]:
        postcodes = read_register_file(self.path, register="Population register",
                                       setting="POPULATION_REGISTER_CSV", parse=self._parse)
        logger.info("Population register %s loaded: %d people", self.path, len(postcodes))
        return postcodes

    def _parse(self, lines: Iterable[str]) -> dict[str, str]:
        rows = csv.reader(lines)
        header = next(rows, None)
        if header is None or tuple(cell.strip().lower() for cell in header) != HEADER:
            raise self._bad_line(1, f"the header must be {','.join(HEADER)}")
        postcodes: dict[str, str] = {}
        first_seen: dict[str, int] = {}
        for row in rows:
            line = rows.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(HEADER):
                raise self._bad_line(line, f"expected {len(HEADER)} columns, found {len(row)}")
            number, postcode = (cell.strip() for cell in row)
            if not _TWELVE_DIGITS.fullmatch(number):
                raise self._bad_line(line, "the personnummer must be 12 digits, no separator")
            try:
                # The register holds people already born: the future check is moot here.
                parse_personnummer(number, today=date.max)
            except InvalidPersonnummer as error:
                reason = f"the personnummer is not valid ({error.code})"
                raise self._bad_line(line, reason) from None
            if not _POSTCODE.fullmatch(postcode):
                raise self._bad_line(line, "the postcode must be 5 digits")
            if number in first_seen:
                raise self._bad_line(
                    line, f"the personnummer already appears on line {first_seen[number]}"
                )
            first_seen[number] = line
            postcodes[number] = postcode
        return postcodes

    def _bad_line(self, line: int, reason: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"Population register {self.path}, line {line}: {reason}")


def get_population_register() -> PopulationRegister:
    """The register named by the settings (one instance per backend and path)."""
    return load_adapter(
        backend_setting="POPULATION_REGISTER_BACKEND", default_backend=DEFAULT_BACKEND,
        argument_setting="POPULATION_REGISTER_CSV",
        argument_missing="POPULATION_REGISTER_CSV must name the register's file",
        protocol=PopulationRegister,  # type: ignore[type-abstract]
        protocol_needs="has no postcode_for(personnummer) method")
