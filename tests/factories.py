from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
        skip_postgeneration_save = True  # the offers are rows of their own

    name = factory.Sequence(lambda n: f"Provider {n}")
    organisation_number = factory.Sequence(organisation_number)
    authorization_status = AuthorizationStatus.AUTHORIZED

    @factory.post_generation
    def programmes(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        """Offers every programme there is, unless ``programmes=[…]`` names them."""
        if not create:
            return
        from apps.programs.models import Programme
        from apps.providers.services import programme_offer

        for programme in (Programme.objects.all() if extracted is None else extracted):
            programme_offer(provider=self, programme=programme)


# --- Programme definitions (published through the real services, four eyes) ----------

SHIPPED_PROGRAMMES = Path(__file__).resolve().parents[1] / "data" / "programmes"


def shipped_definition(code: str = "prediabetes-2026") -> dict[str, Any]:
    """A definition that ships in ``data/programmes``, as data to change."""
    return json.loads((SHIPPED_PROGRAMMES / f"{code}.json").read_text("utf-8"))


def changed(definition: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``definition`` with ``changes`` written at their dotted paths
    (``{"payment.min_attributed": 3, "cap": 10}``)."""
    result = copy.deepcopy(dict(definition))
    for path, value in changes.items():
        *parents, last = path.split(".")
        place = result
        for key in parents:
            place = place[key]
        place[last] = value
    return result


def _two_caseworkers() -> tuple[Any, Any]:
    return (UserFactory(username="definition-author", is_staff=True),
            UserFactory(username="definition-reviewer", is_staff=True))


def version_publish(programme: Any, changes: Mapping[str, Any] | None = None) -> Any:
    """Publishes the next version of ``programme``: its current definition with
    ``changes``; new enrollments join it."""
    from apps.programs.selectors import programme_version_current
    from apps.programs.services import programme_version_draft, programme_version_publish

    author, reviewer = _two_caseworkers()
    current = programme_version_current(programme)
    base = current.definition if current is not None else shipped_definition()
    draft = programme_version_draft(programme=programme, author=author,
                                    definition=changed(base, changes or {}))
    published = programme_version_publish(version=draft, publisher=reviewer)
    programme.refresh_from_db()
    return published


def programme_publish(definition: Mapping[str, Any]) -> Any:
    """A new programme from ``definition``, its version 1 published; the programme."""
    from apps.programs.services import programme_define, programme_version_publish

    author, reviewer = _two_caseworkers()
    draft = programme_define(definition=definition, author=author)
    programme_version_publish(version=draft, publisher=reviewer)
    programme = draft.programme
    programme.refresh_from_db()
    return programme
