"""Factories for the providers' tests.

``tests.factories.ProviderFactory`` numbers its providers ``55000…``, whose
third digit (0) no valid organisation number has; the registers and the
profile validate numbers, so these tests use valid ones.
"""

from __future__ import annotations

from typing import Any

import factory

from apps.core.luhn import luhn_check_digit
from apps.providers.models import Lab
from tests.factories import ProviderFactory as BaseProviderFactory


def valid_organisation_number(n: int, *, prefix: str = "5567") -> str:
    body = f"{prefix}{n:05d}"
    return body + str(luhn_check_digit(body))


class ProviderFactory(BaseProviderFactory):
    organisation_number = factory.Sequence(valid_organisation_number)


class LabFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lab

    name = factory.Sequence(lambda n: f"Laboratory {n}")
    organisation_number = factory.Sequence(
        lambda n: valid_organisation_number(n, prefix="5568"))


def first_programme() -> Any:
    """The programme the migrations ship (applications in these tests are made for it)."""
    from apps.programs.models import Programme

    return Programme.objects.order_by("start_date", "pk").first()


def apply_for_first(**kwargs: Any) -> Any:
    """``authorization_apply`` for the first programme."""
    from apps.providers.services import authorization_apply

    return authorization_apply(programme=first_programme(), **kwargs)
