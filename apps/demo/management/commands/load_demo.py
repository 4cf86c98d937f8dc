"""Demo data for a first run: the programme, a few providers, demo accounts.

Idempotent: running it twice leaves the same rows. Demo accounts exist only
through this command, never through migrations.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.core.roles import caseworker_group
from apps.demo.scenario import load_demo_candidates, load_demo_prepatients
from apps.programs.models import Programme
from apps.programs.services import shipped_definitions_publish
from apps.providers.models import AuthorizationStatus, Provider
from apps.providers.services import programme_offer

CASEWORKER_PASSWORD = "demo-caseworker"  # noqa: S105 - public demo login
PREPATIENT_PASSWORD = "demo-prepatient"  # noqa: S105 - public demo login
DEMO_PROVIDERS = [
    ("Hälsocoachen Järva AB", "5566770011", AuthorizationStatus.AUTHORIZED),
    ("Digital Livsstil Sverige AB", "5566770029", AuthorizationStatus.AUTHORIZED),
    ("Idrottsföreningen Rörelse", "8024001011", AuthorizationStatus.AUTHORIZED),
    ("Nystart Hälsa AB", "5566770037", AuthorizationStatus.PENDING),
]
# The programmes each demo provider offers its support in.
DEMO_OFFERS: dict[str, list[str]] = {
    "prediabetes-2026": [number for _name, number, _status in DEMO_PROVIDERS],
    "obesity-2027": ["5566770011", "5566770029"],
    "activity-2027": ["5566770029", "8024001011"],
    "loneliness-2027": ["5566770011", "8024001011"],
    "falls-2027": ["8024001011"],
}
# What each demo provider shows in the marketplace (SPEC §3.6).
DEMO_PROFILES: dict[str, dict[str, Any]] = {
    "5566770011": {
        "offer_sv": "Personliga hälsocoacher i Järva som pratar ditt språk. Vi träffas i "
                    "grupp varannan vecka och du får en egen coach att ringa. Matlagning, "
                    "promenadgrupper och stöd att sova bättre.",
        "offer_en": "Personal health coaches in Järva who speak your language. We meet in "
                    "groups every other week and you get your own coach to call. Cooking, "
                    "walking groups and help to sleep better.",
        "delivery_mode": "on_site", "coach_type": "human",
        "languages": ["sv", "ar", "so", "ti", "en"],
        "accessibility": ["read_aloud", "easy_read", "interpreter"],
        "regions": ["Stockholm"], "capacity": 600,
        "email": "hej@halsocoachen.example", "website": "https://halsocoachen.example",
    },
    "5566770029": {
        "offer_sv": "En app med en AI-coach dygnet runt och en legitimerad dietist en gång "
                    "i månaden på video. Passar dig som vill ta små steg i din egen takt.",
        "offer_en": "An app with an AI coach day and night and a registered dietitian once "
                    "a month on video. For you who want to take small steps at your own pace.",
        "delivery_mode": "remote", "coach_type": "both",
        "languages": ["sv", "en", "fa", "tr"],
        "accessibility": ["read_aloud", "large_text"],
        "regions": ["national"], "capacity": 5000,
        "email": "support@digitallivsstil.example", "website": "https://digitallivsstil.example",
    },
    "8024001011": {
        "offer_sv": "Träning i föreningens lokaler och utomhus, ledd av tränare från ditt "
                    "område. Vi har grupper för kvinnor, för seniorer och kvällsgrupper.",
        "offer_en": "Exercise in the club's rooms and outdoors, led by trainers from your "
                    "area. We have groups for women, for seniors and evening groups.",
        "delivery_mode": "both", "coach_type": "human",
        "languages": ["sv", "ar", "bs", "pl"],
        "accessibility": ["easy_read"],
        "regions": ["Västra Götaland", "Skåne"], "capacity": 300,
        "email": "info@rorelse.example", "website": "https://rorelse.example",
    },
}


class Command(BaseCommand):
    help = ("Loads demo data: the programmes' published definitions, providers and the "
            "programmes they offer, prepatients and demo logins.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        for name, number, status in DEMO_PROVIDERS:
            Provider.objects.update_or_create(
                organisation_number=number,
                defaults={"name": name, "authorization_status": status,
                          **DEMO_PROFILES.get(number, {})},
            )
        group = caseworker_group()
        caseworkers = []
        for username in ("caseworker", "caseworker2"):
            user = self._user(username, f"{username}@demo.invalid", CASEWORKER_PASSWORD,
                              is_staff=True)
            user.groups.add(group)
            caseworkers.append(user)
        person = self._user("prepatient", "prepatient@demo.invalid", PREPATIENT_PASSWORD,
                            is_staff=False)
        shipped_definitions_publish(directory=settings.BASE_DIR / "data",
                                    author=caseworkers[0], publisher=caseworkers[1])
        for code, numbers in DEMO_OFFERS.items():
            offered = Programme.objects.get(code=code)
            for provider in Provider.objects.filter(organisation_number__in=numbers):
                programme_offer(provider=provider, programme=offered)
        programme = Programme.objects.get(code="prediabetes-2026")
        providers = list(Provider.objects.filter(
            organisation_number__in=[number for _n, number, _s in DEMO_PROVIDERS[:3]]
        ).order_by("organisation_number"))
        created = load_demo_prepatients(programme, providers, caseworkers[0], user=person)
        for code in DEMO_OFFERS:
            if code != programme.code:
                created += load_demo_candidates(Programme.objects.get(code=code))
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
