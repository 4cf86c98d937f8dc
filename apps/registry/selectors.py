"""The registry's readers for the API: prepatients by programme ID, and inclusion samples."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from apps.registry.models import InclusionSample, Prepatient, SampleSource
from apps.registry.services import referral_code_hash


def prepatients_by_pseudonym(pseudonyms: Iterable[str]) -> list[Prepatient]:
    """The prepatients with these programme IDs (unknown ones are left out)."""
    return list(Prepatient.objects.filter(pseudonym__in=pseudonyms))


def inclusion_sample_from_lab(*, code: str, lab_reference: str, hba1c: Decimal,
                              taken_on: date) -> InclusionSample | None:
    """A laboratory's inclusion sample stored before against the referral ``code``
    with the same sample ID, value and date (the same result sent again), or None."""
    return (InclusionSample.objects
            .filter(referral__code_hash=referral_code_hash(code), source=SampleSource.LAB,
                    lab_reference=lab_reference, hba1c=hba1c, taken_on=taken_on)
            .first())
