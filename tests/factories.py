from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from apps.core.luhn import luhn_check_digit
from apps.providers.models import AuthorizationStatus, Provider


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.invalid")
    password = factory.django.Password("correct horse battery staple")


def organisation_number(n: int) -> str:
    body = f"556{n:06d}"
    return body + str(luhn_check_digit(body))


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Provider {n}")
    organisation_number = factory.Sequence(organisation_number)
    authorization_status = AuthorizationStatus.AUTHORIZED
