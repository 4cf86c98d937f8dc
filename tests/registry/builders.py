"""Builders for registry tests: real services, real rules, a file-backed register."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.consent.models import ConsentKind
from apps.consent.selectors import consent_text_current
from apps.consent.services import consent_grant, consent_text_publish
from apps.core import clock
from apps.core.luhn import luhn_check_digit
from apps.programs.models import Programme
from apps.registry.models import InclusionSample, Prepatient, SampleSource
from apps.registry.population import FilePopulationRegister
from apps.registry.services import prepatient_register, prepatient_set_identity
from tests.factories import UserFactory
from tests.registry.factories import screening_record


def personnummer(born: date, serial: int, *, male: bool) -> str:
    """A valid 12-digit personnummer (serial's last digit made odd for men)."""
    three = (serial % 90 + 10) * 10 + (1 if male else 0)
    ten = f"{born:%y%m%d}{three:03d}"
    return f"{born:%Y%m%d}{three:03d}{luhn_check_digit(ten)}"


@pytest.fixture
def programme(db: Any) -> Programme:
    from tests.conftest import ensure_reference_data

    ensure_reference_data()
    return Programme.objects.get(code="prediabetes-2026")


@pytest.fixture
def register_file(tmp_path: Path) -> Path:
    path = tmp_path / "register.csv"
    path.write_text("personnummer,postcode\n")
    return path


@pytest.fixture
def consent_texts(programme: Programme) -> dict[str, Any]:
    return {
        kind: consent_text_publish(programme=programme, kind=kind, title_sv="Samtycke",
                                   title_en="Consent", body_sv="Text", body_en="Text")
        for kind in (ConsentKind.DATA_SHARING, ConsentKind.RESEARCH)
    }


@pytest.fixture
def make_candidate(
    programme: Programme, register_file: Path, consent_texts: dict[str, Any]
) -> Callable[..., Prepatient]:
    """A person through consent and identity, with a screening BMI and an HbA1c."""
    counter = iter(range(100, 999))

    def build(
        *,
        born: date = date(1970, 5, 10),
        male: bool = False,
        postcode: str = "16355",
        vulnerable: bool = True,
        consent: bool = True,
        bmi: Decimal | None = Decimal("27.0"),
        hba1c: Decimal | None = Decimal("44"),
        source: str = SampleSource.LAB,
    ) -> Prepatient:
        number = personnummer(born, next(counter), male=male)
        with register_file.open("a") as handle:
            handle.write(f"{number},{postcode}\n")
        if vulnerable:
            programme.vulnerable_postcodes.get_or_create(postcode=postcode)
        prepatient = prepatient_register(programme=programme, user=UserFactory())
        if consent:  # the current text: publishing a version may have published a newer one
            consent_grant(prepatient=prepatient, text=consent_text_current(
                programme=programme, kind=ConsentKind.DATA_SHARING) or consent_texts[
                ConsentKind.DATA_SHARING])
        prepatient = prepatient_set_identity(
            prepatient=prepatient, personnummer=number,
            register=FilePopulationRegister(register_file),
        )
        if bmi is not None:
            screening_record(prepatient, bmi=bmi)
        if hba1c is not None:
            InclusionSample.objects.create(prepatient=prepatient, measure="hba1c", value=hba1c,
                                           taken_on=clock.today(), source=source)
        prepatient.refresh_from_db()
        return prepatient

    return build
