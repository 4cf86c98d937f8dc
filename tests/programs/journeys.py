"""A programme walked end to end through the real services and the API, for any
programme definition: sign-up (account, consent, personnummer), screening (the
definition's questionnaires), inclusion (a laboratory's value against a referral
code, or the answers alone), the choice of provider, follow-up values from the
provider's API, and the settlement, whose auditor's file is recomputed by the engine
run as an auditor runs it (``python -m prevention_engine recompute``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from apps.consent.models import ConsentKind
from apps.consent.selectors import consent_text_current
from apps.consent.services import consent_grant
from apps.core import clock
from apps.programs.models import Programme
from apps.programs.selectors import programme_terms, programme_version_current
from apps.programs.selectors import questionnaire_published as published_questionnaire
from apps.providers.models import Provider
from apps.providers.services import api_credential_issue
from apps.registry.models import Prepatient
from apps.registry.population import FilePopulationRegister
from apps.registry.selectors import prepatient_referred
from apps.registry.services import (
    inclusion_decide,
    prepatient_enroll,
    prepatient_register,
    prepatient_set_identity,
    questionnaire_response_record,
    referral_issue,
)
from apps.settlements.export import run_input_lines
from apps.settlements.models import PrepatientLine, RunKind, RunStatus, SettlementRun
from apps.settlements.services import settlement_prepare
from prevention_engine.dates import add_months
from tests.api.conftest import client_for
from tests.factories import ProviderFactory, UserFactory
from tests.providers.factories import LabFactory
from tests.registry.builders import personnummer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Journey:
    """One programme's people, providers and keys."""

    programme: Programme
    register_file: Path
    capture: Callable[..., Any]  # pytest-django's django_capture_on_commit_callbacks

    def __post_init__(self) -> None:
        self.provider = cast(Provider, ProviderFactory(name=f"{self.programme.code} provider"))
        self.lab = LabFactory(name=f"{self.programme.code} lab")
        _credential, provider_key = api_credential_issue(provider=self.provider, label="p")
        _credential, lab_key = api_credential_issue(lab=self.lab, label="lab")
        self.provider_api, self.lab_api = client_for(provider_key), client_for(lab_key)
        self.serial = iter(range(100, 999))
        self.terms = programme_terms(self.programme)

    # --- The way in ----------------------------------------------------------------

    def person(self, *, born: date, male: bool = False, postcode: str = "16355",
               on: date) -> Prepatient:
        """Signed up on ``on``: an account, the programme's consent, a personnummer
        found in the population register at a postcode of a priority area."""
        number = personnummer(born, next(self.serial), male=male)
        with self.register_file.open("a") as handle:
            handle.write(f"{number},{postcode}\n")
        self.programme.vulnerable_postcodes.get_or_create(postcode=postcode)
        with clock.travel_to(on):
            prepatient = prepatient_register(programme=self.programme, user=UserFactory())
            text = consent_text_current(programme=self.programme,
                                        kind=ConsentKind.DATA_SHARING)
            assert text is not None, "publishing the version published its consent text"
            assert text.body_en == self.terms.consent["en"]
            consent_grant(prepatient=prepatient, text=text)
            return prepatient_set_identity(prepatient=prepatient, personnummer=number,
                                           register=FilePopulationRegister(self.register_file))

    def answer(self, prepatient: Prepatient, answers: Mapping[str, Mapping[str, Any]], *,
               on: date) -> bool:
        """The definition's screening questionnaires answered; whether the next step
        is earned."""
        assert list(answers) == list(self.terms.screening_questionnaires)
        with clock.travel_to(on):
            for code, given in answers.items():
                questionnaire = published_questionnaire(code)
                assert questionnaire is not None
                questionnaire_response_record(prepatient=prepatient,
                                              questionnaire=questionnaire, answers=given)
            return prepatient_referred(prepatient=prepatient) if self.terms.referral else True

    def lab_result(self, prepatient: Prepatient, measure: str, value: str, unit: str, *,
                   on: date) -> dict[str, Any]:
        """A referral code given to the person, and the laboratory's value against it
        through the API."""
        with clock.travel_to(on):
            _referral, code = referral_issue(prepatient=prepatient)
            answer = self.lab_api.post("/api/v1/lab/referral-results/", {
                "referral_code": code, "type": measure, "value": value, "unit": unit,
                "taken_on": on.isoformat(), "sample_id": f"S-{prepatient.pk}-{measure}"},
                format="json")
        assert answer.status_code == 201, answer.content
        return answer.json()

    def decision(self, prepatient: Prepatient, *, on: date) -> str:
        with clock.travel_to(on):
            return inclusion_decide(prepatient=prepatient).reason

    def enroll(self, prepatient: Prepatient, *, on: date) -> Prepatient:
        with clock.travel_to(on), self.capture(execute=True):
            enrolled = prepatient_enroll(prepatient=prepatient, provider=self.provider)
        assert enrolled.programme_version == programme_version_current(self.programme)
        return enrolled

    # --- Follow-up ---------------------------------------------------------------

    def values(self, prepatient: Prepatient, on: date,
               values: Iterable[tuple[str, str, str]]) -> None:
        """The provider reports ``(type, value, unit)`` taken on ``on`` through the API."""
        with clock.travel_to(on), self.capture(execute=True):
            answer = self.provider_api.post("/api/v1/measurements/", {"items": [
                {"prepatient": prepatient.pseudonym, "type": code, "value": value,
                 "unit": unit, "taken_on": on.isoformat(),
                 "source_reference": f"{prepatient.pk}-{code}-{on.isoformat()}"}
                for code, value, unit in values]}, format="json")
        assert answer.status_code == 200, answer.content
        assert {item["status"] for item in answer.json()["items"]} == {"stored"}, answer.json()

    def followed(self, prepatient: Prepatient, baseline: list[tuple[str, str, str]],
                 end: list[tuple[str, str, str]], middle: list[tuple[str, str, str]] | None = None,
                 ) -> None:
        """A complete set at enrollment, at every due date and at the end."""
        enrolled = prepatient.enrolled_on
        assert enrolled is not None
        months = self.terms.timeline.programme_months
        interval = self.terms.timeline.followup_interval_months
        self.values(prepatient, enrolled, baseline)
        for month in range(interval, months, interval):
            self.values(prepatient, add_months(enrolled, month), middle or baseline)
        self.values(prepatient, add_months(enrolled, months), end)

    # --- Settlement ----------------------------------------------------------------

    def settle(self, as_of: date) -> tuple[SettlementRun, dict[str, tuple[str, str]]]:
        """A final run as of ``as_of``; its lines by programme ID (result, reason)."""
        with clock.travel_to(as_of), self.capture(execute=True):
            run = settlement_prepare(programme=self.programme, as_of=as_of,
                                     kind=RunKind.FINAL, prepared_by=UserFactory())
        run.refresh_from_db()
        assert run.status == RunStatus.COMPUTED, run.error
        assert run.programme_version == programme_version_current(self.programme)
        lines = {line.pseudonym: (line.result, line.reason)
                 for line in PrepatientLine.objects.filter(run=run)}
        return run, lines

    def recomputed(self, run: SettlementRun, folder: Path) -> dict[str, Any]:
        """The run's auditor's file, recomputed by the engine in a separate process."""
        source = folder / "input.json"
        source.write_text("".join(run_input_lines(run)), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "prevention_engine", "recompute", str(source)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result


def end_of(prepatient: Prepatient) -> date:
    assert prepatient.end_date is not None
    return prepatient.end_date


def after_the_window(journey: Journey, prepatients: Iterable[Prepatient]) -> date:
    return max(end_of(p) for p in prepatients) + timedelta(
        days=journey.terms.outcome.window_days + 1)
