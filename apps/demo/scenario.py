"""Demo prepatients in every state, created through the real services.

Each person walks the real path (consent, identity through the file-backed
population register, FINDRISC, referral, lab result, enrollment) with the
clock moved to the day it happens, so the history is as it would be.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.consent.models import ConsentKind
from apps.consent.selectors import consent_text_current
from apps.consent.services import consent_grant, consent_text_publish, consent_withdraw
from apps.core import clock
from apps.core.crypto import lookup_hash
from apps.measurements.rules import TYPES
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.programs.models import Programme
from apps.programs.selectors import programme_terms, screening_questionnaires
from apps.providers.models import Provider
from apps.registry import services as registry
from apps.registry.identity import parse_personnummer
from apps.registry.models import ExclusionReason, Prepatient
from prevention_engine import criteria
from prevention_engine import questionnaire as questionnaire_rules
from prevention_engine.dates import age_on
from prevention_engine.findrisc import FamilyHistory

DATA_DIR = Path(settings.BASE_DIR) / "data"

CONSENT_TEXTS = {
    ConsentKind.DATA_SHARING: dict(
        title_sv="Samtycke till delning av uppgifter",
        title_en="Consent to sharing your data",
        body_sv=(
            "Jag samtycker till att laboratoriet, den myndighet som utvärderar programmet "
            "och den utförare jag väljer delar mina provsvar och uppgifter om min hälsa "
            "under de 24 månader programmet pågår. Uppgifterna används för att ge mig "
            "stöd och för att bedöma resultatet. Jag kan när som helst ta tillbaka mitt "
            "samtycke; då slutar delningen direkt och jag lämnar programmet."
        ),
        body_en=(
            "I agree that the laboratory, the agency that evaluates the programme and the "
            "provider I choose share my test results and health information during the 24 "
            "months of the programme. The information is used to support me and to judge "
            "the outcome. I can withdraw my consent at any time; sharing then stops at once "
            "and I leave the programme."
        ),
    ),
    ConsentKind.RESEARCH: dict(
        title_sv="Donera uppgifter till forskning (frivilligt)",
        title_en="Donate data to research (optional)",
        body_sv=(
            "Jag samtycker till att mina uppgifter, utan namn och personnummer, lämnas ut "
            "till godkända forskare som studerar hur diabetes kan förebyggas."
        ),
        body_en=(
            "I agree that my data, without my name or personnummer, is given to approved "
            "researchers who study how diabetes can be prevented."
        ),
    ),
}


@dataclass(frozen=True)
class Person:
    personnummer: str
    postcode: str


def _register_people() -> list[Person]:
    path = Path(settings.POPULATION_REGISTER_CSV)
    with path.open(encoding="utf-8") as handle:
        return [Person(row["personnummer"], row["postcode"]) for row in csv.DictReader(handle)]


def eligible_people() -> list[Person]:
    """Adults of 20–60 in 2026, so each can enroll whatever the phase."""
    return [p for p in _register_people() if 1966 <= int(p.personnummer[:4]) <= 2005]


def ensure_consent_texts(programme: Programme) -> None:
    for kind, text in CONSENT_TEXTS.items():
        if consent_text_current(programme=programme, kind=kind) is None:
            consent_text_publish(programme=programme, kind=kind, **text)


def ensure_vulnerable_postcodes(programme: Programme) -> None:
    registry.vulnerable_postcodes_import(
        programme=programme, text=(DATA_DIR / "vulnerable_postcodes.csv").read_text("utf-8"))


class DemoBuilder:
    def __init__(self, programme: Programme, providers: list[Provider]) -> None:
        self.programme = programme
        self.providers = providers
        self.people = iter(eligible_people())

    def candidate(self, day: date, *, screened: bool = True) -> Prepatient:
        person = next(self.people)
        with clock.travel_to(day):
            prepatient = registry.prepatient_register(programme=self.programme)
            consent_grant(prepatient=prepatient, text=self._text(ConsentKind.DATA_SHARING))
            prepatient = registry.prepatient_set_identity(
                prepatient=prepatient, personnummer=person.personnummer)
            if screened:
                self.referral_code = registry.screening_submit(
                    prepatient=prepatient, height_cm=Decimal("170"), weight_kg=Decimal("84"),
                    waist_cm=Decimal("101"), physically_active=False,
                    eats_vegetables_daily=False, antihypertensive_medication=False,
                    high_glucose_history=True, family_history=FamilyHistory.SECOND_DEGREE,
                ).referral_code
        return prepatient

    def enrolled(self, day: date, provider: Provider, hba1c: str = "45") -> Prepatient:
        prepatient = self.candidate(day)
        with clock.travel_to(day):
            registry.inclusion_sample_record_lab(
                code=str(self.referral_code), value=Decimal(hba1c), taken_on=day,
                lab_reference=f"DEMO-{prepatient.pk}",
            )
            return registry.prepatient_enroll(prepatient=prepatient, provider=provider)

    def own_record(self, user: Any) -> Prepatient:
        """The demo login's own record: enrolled in July with a provider, two complete
        follow-up sets since, and a switch still possible, so My page has something
        to show."""
        provider = self.providers[0]
        prepatient = self.enrolled(date(2026, 7, 3), provider, hba1c="46")
        Prepatient.objects.filter(pk=prepatient.pk).update(user=user)
        sets = [
            (date(2026, 7, 3), {"hba1c": "46", "triglycerides": "1.9", "cholesterol_total": "5.6",
                                "ldl": "3.6", "hdl": "1.1"}, {"weight": "84", "height": "170",
                                                             "findrisc": "17"}),
            (date(2026, 10, 1), {"hba1c": "43.5", "triglycerides": "1.7",
                                 "cholesterol_total": "5.3", "ldl": "3.4", "hdl": "1.2"},
             {"weight": "81.5", "findrisc": "15"}),
        ]
        for taken_on, blood, body in sets:
            with clock.travel_to(taken_on + timedelta(days=2)):
                for reporter, values in ((Reporter.for_lab("Demolab"), blood),
                                         (Reporter.for_provider(provider), body)):
                    measurements_record_batch(reporter=reporter, items=[
                        MeasurementInput(prepatient=prepatient.pseudonym, type=code,
                                         value=value, unit=TYPES[code].canonical_unit,
                                         taken_on=taken_on,
                                         source_reference=f"demo/{taken_on:%Y%m%d}/{code}")
                        for code, value in values.items()])
        return prepatient

    def _text(self, kind: ConsentKind) -> Any:
        return consent_text_current(programme=self.programme, kind=kind)

    def build(self, caseworker: Any, user: Any = None) -> int:
        first, second, third = self.providers[:3]
        made = []
        if user is not None:
            made.append(self.own_record(user))
        # Candidates: screened and waiting for a lab result; a self-reported value
        # waiting for verification; a result that calls for care.
        made.append(self.candidate(date(2026, 10, 5)))
        waiting = self.candidate(date(2026, 10, 12))
        with clock.travel_to(date(2026, 10, 20)):
            registry.inclusion_sample_record_self(prepatient=waiting, value=Decimal("44"),
                                                  taken_on=date(2026, 10, 18))
        made.append(waiting)
        care = self.candidate(date(2026, 9, 1))
        with clock.travel_to(date(2026, 9, 8)):
            registry.inclusion_sample_record_lab(code=str(self.referral_code),
                                                 value=Decimal("52"), taken_on=date(2026, 9, 8),
                                                 lab_reference="DEMO-CARE")
        made.append(care)
        # Active with each provider, one with research donation.
        for index, day in enumerate([date(2026, 7, 6), date(2026, 7, 20), date(2026, 8, 10),
                                     date(2026, 9, 14), date(2026, 10, 1), date(2026, 11, 2)]):
            made.append(self.enrolled(day, self.providers[index % 3]))
        with clock.travel_to(date(2026, 11, 3)):
            consent_grant(prepatient=made[-1], text=self._text(ConsentKind.RESEARCH))
        # Switched provider.
        switched = self.enrolled(date(2026, 7, 8), first)
        with clock.travel_to(date(2026, 10, 15)):
            registry.listing_switch(prepatient=switched, provider=second)
        # Excluded for a missed follow-up, and one excluded then reinstated.
        excluded = self.enrolled(date(2026, 7, 13), second)
        reinstated = self.enrolled(date(2026, 7, 14), third)
        with clock.travel_to(date(2026, 11, 2)):
            registry.lifecycle_exclude(prepatient=excluded,
                                       reason=ExclusionReason.MISSED_FOLLOWUP, actor=caseworker)
            registry.lifecycle_exclude(prepatient=reinstated,
                                       reason=ExclusionReason.MISSED_FOLLOWUP, actor=caseworker)
        with clock.travel_to(date(2026, 11, 9)):
            registry.lifecycle_reinstate(prepatient=reinstated, actor=caseworker,
                                         note="The lab confirmed the sample was taken in time.")
        # Dropped out, withdrew consent, deceased.
        dropped = self.enrolled(date(2026, 7, 15), first)
        withdrawn = self.enrolled(date(2026, 7, 16), second)
        deceased = self.enrolled(date(2026, 7, 17), third)
        with clock.travel_to(date(2026, 10, 30)):
            registry.lifecycle_drop_out(prepatient=dropped, note="Moved to another region")
            consent_withdraw(prepatient=withdrawn, kind=ConsentKind.DATA_SHARING)
            registry.lifecycle_register_death(prepatient=deceased, on=date(2026, 10, 21),
                                              note="Notified by the population register",
                                              actor=caseworker)
        # Completed: the clock is moved to the end of the individual period.
        completed = self.enrolled(date(2026, 7, 1), third)
        with clock.travel_to(completed.end_date or date.max):
            registry.lifecycle_complete(prepatient=completed)
        made += [switched, excluded, reinstated, dropped, withdrawn, deceased, completed]
        return len(made)


def load_demo_candidates(programme: Programme, people: int = 2) -> int:
    """People who have signed up to a programme through the real services (consent,
    personnummer, the definition's questionnaires answered as someone it is meant for)
    and now wait for it to open or for their test; returns how many were created."""
    ensure_vulnerable_postcodes(programme)
    ages = [check.condition for check in programme_terms(programme).inclusion
            if check.condition.subject == "age"]
    today = clock.today()

    def of_age(person: Person) -> bool:
        born = parse_personnummer(person.personnummer, today=today).birth_date
        return criteria.all_hold(ages, criteria.Facts(age=age_on(born, today)))

    created = 0
    for person in [p for p in _register_people() if of_age(p)][-people:]:
        if Prepatient.objects.filter(programme=programme,
                                     personnummer_hash=lookup_hash(person.personnummer)
                                     ).exists():
            continue
        prepatient = registry.prepatient_register(programme=programme)
        text = consent_text_current(programme=programme, kind=ConsentKind.DATA_SHARING)
        assert text is not None, "publishing a version publishes its consent text"
        consent_grant(prepatient=prepatient, text=text)
        prepatient = registry.prepatient_set_identity(prepatient=prepatient,
                                                      personnummer=person.personnummer)
        answers = {questionnaire.code: _answered_at_risk(questionnaire.definition)
                   for questionnaire in screening_questionnaires(programme)}
        if answers:
            registry.screening_answer(prepatient=prepatient, answers=answers)
        created += 1
    return created


def _answered_at_risk(definition: dict[str, Any]) -> dict[str, Any]:
    """Each choice item answered with its highest-scoring option."""
    parsed = questionnaire_rules.parse(definition)
    return {item.link_id: max(item.options, key=lambda option: option.points).code
            for item in parsed.items if item.options}


def load_demo_prepatients(programme: Programme, providers: list[Provider],
                          caseworker: Any, user: Any = None) -> int:
    """Creates the demo prepatients once; returns how many were created."""
    ensure_consent_texts(programme)
    ensure_vulnerable_postcodes(programme)
    people = eligible_people()
    if people and Prepatient.objects.filter(
        programme=programme, personnummer_hash=lookup_hash(people[0].personnummer)
    ).exists():
        return 0
    return DemoBuilder(programme, providers).build(caseworker, user=user)
