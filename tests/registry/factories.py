"""Registry test data built with the real services.

Only the identity is written directly (instead of ``prepatient_set_identity``
with a population register), so that these tests do not depend on the
register file; everything else goes through the services.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from apps.consent.models import ConsentKind, ConsentText
from apps.consent.selectors import consent_text_current
from apps.consent.services import consent_grant, consent_text_publish
from apps.core import clock
from apps.core.crypto import lookup_hash
from apps.core.luhn import luhn_check_digit
from apps.programs.models import Programme
from apps.programs.selectors import questionnaire_published
from apps.registry.models import InclusionSample, Prepatient, SampleSource, Screening
from apps.registry.services import (
    inclusion_sample_record_self,
    prepatient_enroll,
    prepatient_register,
    questionnaire_response_record,
)
from tests.factories import ProviderFactory, UserFactory

ENROLL_ON = date(2026, 8, 1)  # after the six-month priority phase: anyone eligible enrolls
_serials = itertools.count(100)


def programme() -> Programme:
    return Programme.objects.get(code="prediabetes-2026")


def make_personnummer(born: date = date(1970, 5, 10), *, male: bool = False) -> str:
    """A valid, unique 12-digit personnummer (YYYYMMDDNNNC)."""
    three = next(_serials) * 2 % 1000 + (1 if male else 0)
    ten = f"{born:%y%m%d}{three:03d}"
    return f"{born:%Y%m%d}{three:03d}{luhn_check_digit(ten)}"


def data_sharing_text(of: Programme) -> ConsentText:
    return consent_text_current(programme=of, kind=ConsentKind.DATA_SHARING) or (
        consent_text_publish(programme=of, kind=ConsentKind.DATA_SHARING, title_sv="Samtycke",
                             title_en="Consent", body_sv="Text", body_en="Text")
    )


def candidate(*, personnummer: str | None = None, postcode: str = "16355",
              consent: bool = True) -> Prepatient:
    """A registered person with consent and an identity, not yet enrolled."""
    of = programme()
    number = personnummer or make_personnummer()
    prepatient = prepatient_register(programme=of, user=UserFactory())
    if consent:
        consent_grant(prepatient=prepatient, text=data_sharing_text(of))
        prepatient.refresh_from_db()
    born = date(int(number[:4]), int(number[4:6]), int(number[6:8]))
    prepatient.personnummer = number
    prepatient.personnummer_hash = lookup_hash(number)
    prepatient.birth_date = born
    prepatient.sex = "M" if int(number[10]) % 2 else "F"
    prepatient.postcode = postcode
    prepatient.save()
    return prepatient


def screening_record(prepatient: Prepatient, *, age: int = 50, bmi: Decimal = Decimal("27.0"),
                     waist_cm: Decimal = Decimal("95"), high_glucose_history: bool = True,
                     physically_active: bool = False) -> Screening:
    """A screening as the site keeps one: the answers, and the same answers as a response
    to the published FINDRISC questionnaire, whose score (14 or 15 with the defaults: a
    referral) both carry."""
    answers = {"sex": prepatient.sex or "F", "age": age, "bmi": bmi, "waist": waist_cm,
               "physically_active": "yes" if physically_active else "no",
               "vegetables_daily": "no", "antihypertensive_medication": "no",
               "high_glucose_history": "yes" if high_glucose_history else "no",
               "family_history": "none"}
    response = questionnaire_response_record(
        prepatient=prepatient, questionnaire=questionnaire_published("findrisc"),
        answers=answers)
    return Screening.objects.create(
        prepatient=prepatient, submitted_at=response.submitted_at, age=age,
        height_cm=Decimal("170"), weight_kg=Decimal("78"), waist_cm=waist_cm, bmi=bmi,
        physically_active=physically_active, eats_vegetables_daily=False,
        antihypertensive_medication=False, high_glucose_history=high_glucose_history,
        family_history="none", score=response.score)


def enrolled_prepatient(*, personnummer: str | None = None, postcode: str = "16355",
                        provider: Any = None) -> Prepatient:
    """An active prepatient: a lab HbA1c of 44, a BMI of 27, enrolled on 2026-08-01."""
    with clock.travel_to(ENROLL_ON):
        prepatient = candidate(personnummer=personnummer, postcode=postcode)
        screening_record(prepatient, age=56)
        InclusionSample.objects.create(prepatient=prepatient, measure="hba1c",
                                       value=Decimal("44"), taken_on=clock.today(),
                                       source=SampleSource.LAB)
        return prepatient_enroll(prepatient=prepatient, provider=provider or ProviderFactory())


def self_reported_sample(prepatient: Prepatient, *, hba1c: str = "45") -> InclusionSample:
    return inclusion_sample_record_self(prepatient=prepatient, value=Decimal(hba1c),
                                        taken_on=clock.today())
