"""Fixtures for the providers' tests: register files, caseworkers, applications."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from apps.providers.models import AuthorizationApplication, AuthorizationStatus
from apps.providers.services import Declarations
from tests.factories import UserFactory
from tests.providers.factories import ProviderFactory, apply_for_first

HEADERS = {
    "f_tax.csv": "organisation_number,f_tax",
    "tax_debts.csv": "organisation_number,debt_sek",
    "annual_reports.csv": "organisation_number,fiscal_year,approved",
    "convictions.csv": "organisation_number,name,birth_year,convicted,detail",
    "flagged_suppliers.csv": "organisation_number,flagged,detail",
}


def write_registers(directory: Path, rows: dict[str, list[str]] | None = None) -> Path:
    """Writes the five register files (header plus the given lines) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, header in HEADERS.items():
        lines = [header, *(rows or {}).get(name, [])]
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def clean_record(number: str) -> dict[str, list[str]]:
    """Register lines under which ``number`` passes every check."""
    return {
        "f_tax.csv": [f"{number},yes"],
        "tax_debts.csv": [f"{number},0"],
        "annual_reports.csv": [f"{number},2025,yes"],
        "convictions.csv": [f"{number},,,no,"],
        "flagged_suppliers.csv": [f"{number},no,"],
    }


@pytest.fixture
def registers(tmp_path: Path, settings: Any) -> Callable[..., Path]:
    """``registers(rows)`` writes the register files and points the settings at them."""

    def build(rows: dict[str, list[str]] | None = None) -> Path:
        directory = write_registers(tmp_path / "registers", rows)
        settings.AUTHORIZATION_REGISTRY_DIR = str(directory)
        return directory

    return build


@pytest.fixture
def decider(db: Any) -> Any:
    """A caseworker making decisions (the actor of the services)."""
    return UserFactory(username="decider", is_staff=True)


@pytest.fixture
def applicant(db: Any) -> Any:
    return ProviderFactory(name="Nystart Hälsa AB",
                           authorization_status=AuthorizationStatus.PENDING)


@pytest.fixture
def application(applicant: Any) -> AuthorizationApplication:
    return apply_for_first(provider=applicant, declarations=Declarations.all_made())
