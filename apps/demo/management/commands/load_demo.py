"""Demo data for a first run: the programme, a few providers, demo accounts.

Idempotent: running it twice leaves the same rows. Demo accounts exist only
through this command, never through migrations.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.core.roles import caseworker_group
from apps.demo.scenario import load_demo_prepatients
from apps.programs.models import Programme
from apps.providers.models import AuthorizationStatus, Provider

CASEWORKER_PASSWORD = "demo-caseworker"  # noqa: S105 - public demo login
PREPATIENT_PASSWORD = "demo-prepatient"  # noqa: S105 - public demo login
DEMO_PROVIDERS = [
    ("Hälsocoachen Järva AB", "5566770011", AuthorizationStatus.AUTHORIZED),
    ("Digital Livsstil Sverige AB", "5566770029", AuthorizationStatus.AUTHORIZED),
    ("Idrottsföreningen Rörelse", "8024001011", AuthorizationStatus.AUTHORIZED),
    ("Nystart Hälsa AB", "5566770037", AuthorizationStatus.PENDING),
]


class Command(BaseCommand):
    help = "Loads demo data: the prediabetes programme, providers and demo logins."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        for name, number, status in DEMO_PROVIDERS:
            Provider.objects.update_or_create(
                organisation_number=number,
                defaults={"name": name, "authorization_status": status},
            )
        group = caseworker_group()
        caseworkers = []
        for username in ("caseworker", "caseworker2"):
            user = self._user(username, f"{username}@demo.invalid", CASEWORKER_PASSWORD,
                              is_staff=True)
            user.groups.add(group)
            caseworkers.append(user)
        self._user("prepatient", "prepatient@demo.invalid", PREPATIENT_PASSWORD, is_staff=False)
        programme = Programme.objects.get(code="prediabetes-2026")
        providers = list(Provider.objects.filter(
            organisation_number__in=[number for _n, number, _s in DEMO_PROVIDERS[:3]]
        ).order_by("organisation_number"))
        created = load_demo_prepatients(programme, providers, caseworkers[0])
        self.stdout.write(self.style.SUCCESS(
            f"Demo data loaded ({created} new prepatients)."))

    def _user(self, username: str, email: str, password: str, *, is_staff: bool) -> Any:
        user, _created = get_user_model().objects.update_or_create(
            username=username, defaults={"email": email, "is_staff": is_staff}
        )
        user.set_password(password)
        user.save()
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user
