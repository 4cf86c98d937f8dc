"""A synthetic programme, made through the real services (``simulate_programme``).

The generator invents a population, walks every person along the real path
(consent, identity through a population register, FINDRISC screening, referral,
the lab's inclusion sample, enrollment with a provider) and then lives through
their 24 months: quarterly follow-up sets reported in large batches through
``measurements_record_batch``, provider switches, dropouts, deaths, consent
withdrawals, and exclusions for missed follow-up made by the real periodic job
``followups_exclude_missed``. The clock is moved with ``clock.travel_to`` to the
day of each event, so every row carries the date it would have in real life.

Everything random comes from ``random.Random(seed)`` (and per-set generators
derived from the seed), and the plan is drawn before the first write, so a seed
gives the same programme in any fresh database. Only what the database invents
(primary keys, pseudonyms, referral codes) differs between runs.

Who reports what: blood values (HbA1c, triglycerides, cholesterol) come from
the laboratory, the rest of the set (weight, height at baseline, FINDRISC) from
the prepatient's provider. The outcome is judged on lab HbA1c only
(SETTLEMENT_FORMAT rule 4), so a programme made here can be settled. The lab
reports every simulated week, providers every four weeks (within the grace
period, so only the people meant to miss a set are ever excluded); the periodic
jobs run once a simulated week.

On PostgreSQL the people can be shared among several worker processes
(``workers``): each lives through its share up to the end of a simulated week,
then the coordinator runs the periodic jobs; the result is the same as with one
process. Where the server's autovacuum is off, the coordinator runs
``VACUUM (ANALYZE)`` in its place, as production's autovacuum would.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Count

from apps.consent.models import ConsentEvent, ConsentKind, ConsentText
from apps.consent.selectors import consent_text_current
from apps.consent.services import consent_grant, consent_withdraw
from apps.core import clock
from apps.core.crypto import lookup_hash
from apps.core.luhn import luhn_check_digit
from apps.demo.scenario import ensure_consent_texts, ensure_vulnerable_postcodes
from apps.measurements.models import FollowUpDue, Measurement, ReporterKind, SafetyNotice
from apps.measurements.rules import TYPES
from apps.measurements.services import (
    MeasurementInput,
    Reporter,
    followups_exclude_missed,
    measurements_record_batch,
    prepatients_complete_ended,
)
from apps.programs.models import Programme
from apps.programs.selectors import programme_terms, referral_score_threshold
from apps.providers.models import AuthorizationStatus, Provider
from apps.providers.services import programme_offer
from apps.providers.validators import normalise_organisation_number
from apps.registry import services as registry
from apps.registry.identity import Personnummer
from apps.registry.models import (
    InclusionSample,
    LifecycleEvent,
    Listing,
    ListingReason,
    Prepatient,
    ReferralCode,
    Screening,
    VulnerableAreaPostcode,
)
from prevention_engine import followup
from prevention_engine.criteria import Condition
from prevention_engine.dates import add_months, age_on, end_date, switch_window_end
from prevention_engine.definition import ProgrammeDefinition
from prevention_engine.findrisc import (
    FamilyHistory,
    FindriscAnswers,
    earns_referral,
    findrisc_score,
)
from prevention_engine.units import body_mass_index

__all__ = [
    "ProgrammeSimulation",
    "SimulationError",
    "SimulationSummary",
    "SyntheticPopulationRegister",
    "simulate_programme",
]

# --- The shape of the programme (shares of the enrolled) ---------------------------

SWITCH_RATE = 0.08
DROP_OUT_RATE = 0.05
DEATH_RATE = 0.005
WITHDRAWAL_RATE = 0.02
MISSED_FOLLOWUP_RATE = 0.03
RESEARCH_RATE = 0.30  # also donate their data to research

PRIORITY_PHASE_SHARE = 0.30  # of the enrollments fall in the (slower) priority phase
OPEN_PHASE_VULNERABLE = 0.15  # so that about 40 % in all live in a vulnerable area
COORDINATION_NUMBER_RATE = 0.01

IMPROVING_SHARE = 0.45  # reach HbA1c below the target by month 24
WORSENING_SHARE = 0.12  # the rest stay flat

PREPATIENTS_PER_PROVIDER = 400
MIN_PROVIDERS = 3
JOB_INTERVAL_DAYS = 7  # the periodic jobs and the batched intake run once a simulated week
BATCH_SIZE = 5_000  # values per measurements_record_batch call
LAB_NAME = "Simlab"
BLOOD_TYPES = frozenset({"hba1c", "triglycerides", "cholesterol_total", "ldl", "hdl"})


class SimulationError(RuntimeError):
    """The generator met something the services refused: a bug, never random noise."""


class Fate(str, Enum):
    STAYS = "stays"
    DROP_OUT = "drop_out"
    DEATH = "death"
    WITHDRAWAL = "withdrawal"
    MISSED_FOLLOWUP = "missed_followup"


class Trajectory(str, Enum):
    IMPROVING = "improving"
    FLAT = "flat"
    WORSENING = "worsening"


class EventKind(int, Enum):
    """Events of one day run in this order."""

    ENROLL = 0
    SET_TAKEN = 1
    SWITCH = 2
    DROP_OUT = 3
    DEATH = 4
    WITHDRAWAL = 5
    COMPLETE = 6


# --- The population register ---------------------------------------------------------


class SyntheticPopulationRegister:
    """An in-memory population register (the ``PopulationRegister`` protocol),
    filled as the generator invents people."""

    def __init__(self) -> None:
        self._postcodes: dict[str, str] = {}

    def add(self, digits: str, postcode: str) -> None:
        self._postcodes[digits] = postcode

    def postcode_for(self, personnummer: Personnummer) -> str | None:
        return self._postcodes.get(personnummer.digits)

    def __contains__(self, digits: object) -> bool:
        return digits in self._postcodes

    def __len__(self) -> int:
        return len(self._postcodes)


def make_personnummer(born: date, serial: int, *, male: bool, coordination: bool = False) -> str:
    """A valid 12-digit personnummer (or coordination number: day + 60)."""
    three = (serial % 500) * 2 + (1 if male else 0)  # the last digit is odd for men
    day = born.day + (60 if coordination else 0)
    nine = f"{born:%y%m}{day:02d}{three:03d}"
    return f"{born:%Y}{nine[2:]}{luhn_check_digit(nine)}"


def make_organisation_number(serial: int) -> str:
    """A valid organisation number in a series of our own (``5599…``)."""
    nine = f"5599{serial:05d}"
    return normalise_organisation_number(f"{nine}{luhn_check_digit(nine)}")


# --- The plan ----------------------------------------------------------------------------


@dataclass(slots=True)
class Person:
    index: int
    personnummer: str
    sex: str
    birth_date: date
    postcode: str
    vulnerable: bool
    height_cm: Decimal
    weight_kg: Decimal
    waist_cm: Decimal
    physically_active: bool
    eats_vegetables_daily: bool
    antihypertensive_medication: bool
    high_glucose_history: bool
    family_history: FamilyHistory
    findrisc: int
    research: bool
    consent_day: date
    lab_day: date
    enroll_day: date
    end_day: date
    inclusion_hba1c: Decimal
    provider: int  # index into the simulation's providers (current)
    trajectory: Trajectory
    fate: Fate = Fate.STAYS
    fate_day: date | None = None
    missed_from: int | None = None  # first follow-up set never delivered
    switch_day: date | None = None
    switch_to: int | None = None
    set_days: list[date] = field(default_factory=list)
    # Filled in as the simulation runs.
    prepatient_id: int | None = None
    pseudonym: str = ""
    # Per person, drawn once: where the trajectory goes.
    hba1c_change: float = 0.0
    weight_change: float = 0.0
    triglycerides: float = 1.5
    ldl: float = 3.0
    hdl: float = 1.3


@dataclass
class SimulationSummary:
    prepatients: int
    enrolled: int
    states: dict[str, int]
    providers: int
    listings_switched: int
    lifecycle: dict[str, int]
    missed_followup_exclusions: int
    measurements: int
    bmi_derived: int
    safety_notices: int
    values_reported: int
    until: date
    seconds: float
    timings: dict[str, float]

    def counts(self) -> dict[str, Any]:
        """Everything a seed decides (no timings, no dates the clock chose)."""
        return {
            "prepatients": self.prepatients, "enrolled": self.enrolled, "states": self.states,
            "providers": self.providers, "listings_switched": self.listings_switched,
            "lifecycle": self.lifecycle,
            "missed_followup_exclusions": self.missed_followup_exclusions,
            "measurements": self.measurements, "bmi_derived": self.bmi_derived,
            "safety_notices": self.safety_notices, "values_reported": self.values_reported,
        }

    def lines(self) -> list[str]:
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items()))
        events = ", ".join(f"{k} {v}" for k, v in sorted(self.lifecycle.items()))
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
        return [
            f"Simulated until {self.until} in {self.seconds:.1f}s ({phases})",
            f"Prepatients {self.prepatients} (enrolled {self.enrolled}): {states}",
            f"Providers {self.providers}; switches {self.listings_switched}",
            f"Lifecycle events: {events}",
            f"Excluded for missed follow-up: {self.missed_followup_exclusions}",
            f"Measurements {self.measurements} (reported {self.values_reported}, "
            f"BMI derived {self.bmi_derived}); safety notices {self.safety_notices}",
        ]


def _q(value: float, places: int) -> str:
    """A float rounded half-up to ``places`` decimals, as the string a reporter sends."""
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


# --- The simulation ---------------------------------------------------------------------


@dataclass(frozen=True)
class DefinitionNumbers:
    """The numbers of the first programme's definition that the synthetic people are
    drawn around: the inclusion band of the laboratory measure, the priority ages and
    BMI, and the screening score that earns a referral."""

    inclusion_min: Decimal
    inclusion_max: Decimal
    priority_age_min: int
    priority_age_max: int
    priority_bmi_above: Decimal
    referral_score: int

    @classmethod
    def of(cls, terms: ProgrammeDefinition) -> DefinitionNumbers:
        def bound(conditions: Sequence[Condition], subject: str, ops: tuple[str, ...]
                  ) -> Decimal:
            for condition in conditions:
                if condition.subject == subject and condition.op in ops:
                    assert condition.threshold is not None
                    return condition.threshold
            raise SimulationError(f"The definition has no {subject} {'/'.join(ops)} condition.")
        required = [check.condition for check in terms.inclusion if check.effect == "require"]
        referral = referral_score_threshold(terms)
        if referral is None:
            raise SimulationError("The definition's screening earns no referral by a score.")
        return cls(
            inclusion_min=bound(required, "measure", ("ge", "gt")),
            inclusion_max=bound(required, "measure", ("le", "lt")),
            priority_age_min=int(bound(terms.priority, "age", ("ge", "gt"))),
            priority_age_max=int(bound(terms.priority, "age", ("le", "lt"))),
            priority_bmi_above=bound(terms.priority, "bmi", ("gt", "ge")),
            referral_score=int(referral),
        )


class ProgrammeSimulation:
    """Plans ``prepatients`` people for ``programme`` and lives through their programme.

    ``setup()`` writes the fixtures (consent texts, vulnerable postcodes,
    providers) and draws the plan; ``advance_to(day)`` runs every event up to
    and including ``day`` (it may be called again with a later day);
    ``run(until)`` does both and returns the summary.
    """

    def __init__(self, *, programme: Programme, prepatients: int, seed: int,
                 out: Callable[[str], None] | None = None, workers: int = 1) -> None:
        if prepatients < 1:
            raise ValueError("prepatients must be at least 1")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.programme = programme
        self.numbers = DefinitionNumbers.of(programme_terms(programme))
        self.size = prepatients
        self.seed = seed
        self.out = out
        self.workers = workers
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
        self.register = SyntheticPopulationRegister()
        self.people: list[Person] = []
        self.providers: list[Provider] = []
        self.calendar: dict[date, list[tuple[EventKind, int]]] = defaultdict(list)
        self.pending: dict[int, list[MeasurementInput]] = {}
        self.lab = Reporter.for_lab(LAB_NAME)
        self.day: date | None = None  # the last day simulated (and whose jobs have run)
        self.origin: date | None = None
        self.texts: dict[str, ConsentText] = {}
        self.counters: Counter[str] = Counter()
        self.timings: defaultdict[str, float] = defaultdict(float)
        self.started = 0.0
        self.provider_weeks = 1
        self.shard = 0  # which people this process handles: index % workers == shard
        self._pool: list[tuple[Any, Any]] = []  # (process, pipe) of each worker
        self._reported_thousands = 0
        self._autovacuum: bool | None = None  # the server's setting, read once
        self._ready = False

    # --- Setup and planning ------------------------------------------------------------

    def setup(self) -> None:
        if self._ready:
            return
        self.started = time.monotonic()
        programme = self.programme
        already = registry.enrolled_count(programme)
        if already + self.size > programme.cap:
            raise SimulationError(
                f"The programme's cap is {programme.cap} and {already} are enrolled: "
                f"{self.size} more do not fit."
            )
        with clock.travel_to(programme.start_date - timedelta(days=60)):
            ensure_consent_texts(programme)
            ensure_vulnerable_postcodes(programme)
        for kind in (ConsentKind.DATA_SHARING, ConsentKind.RESEARCH):
            text = consent_text_current(programme=programme, kind=kind)
            assert text is not None
            self.texts[kind] = text
        self.providers = self._ensure_providers(
            max(MIN_PROVIDERS, round(self.size / PREPATIENTS_PER_PROVIDER)))
        # Providers report every few weeks, but always within the grace period: a set taken
        # on its due date is still reported (and complete) before the exclusion job sees it.
        self.provider_weeks = max(1, min(4, (programme.followup_grace_days + 1) // 7))
        self._plan()
        self.origin = min(self.calendar)
        self._ready = True

    def _ensure_providers(self, wanted: int) -> list[Provider]:
        authorized = Provider.objects.filter(authorization_status=AuthorizationStatus.AUTHORIZED)
        missing = wanted - authorized.count()
        if missing > 0:
            taken = set(Provider.objects.values_list("organisation_number", flat=True))
            serial = 0
            created: list[Provider] = []
            while len(created) < missing:
                serial += 1
                number = make_organisation_number(serial)
                if number in taken:
                    continue
                created.append(Provider(
                    name=f"Simulerad hälsa {serial:03d} AB", organisation_number=number,
                    authorization_status=AuthorizationStatus.AUTHORIZED,
                ))
            Provider.objects.bulk_create(created)
        # A stable order, so that a seed picks the same providers in any database.
        chosen = list(authorized.order_by("organisation_number"))
        for provider in chosen:  # each offers the simulated programme
            programme_offer(provider=provider, programme=self.programme)
        return chosen

    def _plan(self) -> None:
        programme = self.programme
        rng = self.rng
        vulnerable = sorted(VulnerableAreaPostcode.objects.filter(programme=programme)
                            .values_list("postcode", flat=True))
        if not vulnerable:
            raise SimulationError("The programme has no vulnerable-area postcodes.")
        vulnerable_set = set(vulnerable)
        taken_hashes = set(Prepatient.objects.filter(programme=programme)
                           .exclude(personnummer_hash=None)
                           .values_list("personnummer_hash", flat=True))
        start = programme.start_date
        priority_end = programme.priority_end
        recruitment_end = programme.recruitment_end
        priority_days = (priority_end - start).days
        open_days = (recruitment_end - priority_end).days
        # Weights of the providers: a few large ones and a long tail.
        weights = [1 / (rank + 1) ** 0.6 for rank in range(len(self.providers))]
        cumulative = [sum(weights[:i + 1]) for i in range(len(weights))]

        for index in range(self.size):
            priority = priority_days > 0 and (open_days <= 0
                                              or rng.random() < PRIORITY_PHASE_SHARE)
            if priority:
                enroll = start + timedelta(days=rng.randrange(priority_days))
            else:
                enroll = priority_end + timedelta(days=rng.randrange(max(1, open_days)))
            lab_day = enroll - timedelta(days=rng.randint(0, 7))
            consent_day = lab_day - timedelta(days=rng.randint(1, 14))
            male = rng.random() < 0.5
            if priority:
                ages = (max(20, self.numbers.priority_age_min),
                        min(60, self.numbers.priority_age_max))
            else:
                ages = (20, 70)
            birth = self._birth_date(enroll, ages)
            in_vulnerable = priority or rng.random() < OPEN_PHASE_VULNERABLE
            if in_vulnerable:
                postcode = rng.choice(vulnerable)
            else:
                postcode = f"{rng.randint(10000, 98999)}"
                while postcode in vulnerable_set:
                    postcode = f"{rng.randint(10000, 98999)}"
            coordination = rng.random() < COORDINATION_NUMBER_RATE
            number = make_personnummer(birth, rng.randrange(500), male=male,
                                       coordination=coordination)
            while number in self.register or lookup_hash(number) in taken_hashes:
                number = make_personnummer(birth, rng.randrange(500), male=male,
                                           coordination=coordination)
            self.register.add(number, postcode)

            height = rng.gauss(179 if male else 166, 6.5)
            height = _clamp(height, 150, 205)
            low_bmi = float(self.numbers.priority_bmi_above) + 0.6 if priority else 21.0
            bmi = _clamp(rng.gauss(30.5, 4.5), low_bmi, 45.0)
            height_cm = Decimal(_q(height, 1))
            weight_kg = Decimal(_q(bmi * float(height_cm) ** 2 / 10_000, 1))
            while priority and body_mass_index(
                    weight_kg=weight_kg, height_cm=height_cm) <= self.numbers.priority_bmi_above:
                weight_kg += Decimal("0.5")
            bmi_value = body_mass_index(weight_kg=weight_kg, height_cm=height_cm)
            waist = (84 if male else 72) + (float(bmi_value) - 22) * 2.3 + rng.gauss(0, 4)
            waist_cm = Decimal(_q(_clamp(waist, 60, 170), 1))

            answers = self._findrisc_answers(
                sex="M" if male else "F", age=age_on(birth, consent_day), bmi=bmi_value,
                waist_cm=waist_cm,
            )
            inclusion = Decimal(rng.randint(int(self.numbers.inclusion_min * 10),
                                            int(self.numbers.inclusion_max * 10))) / 10
            provider = rng.choices(range(len(cumulative)), cum_weights=cumulative)[0]
            draw = rng.random()
            trajectory = (Trajectory.IMPROVING if draw < IMPROVING_SHARE
                          else Trajectory.WORSENING if draw > 1 - WORSENING_SHARE
                          else Trajectory.FLAT)
            person = Person(
                index=index, personnummer=number, sex="M" if male else "F", birth_date=birth,
                postcode=postcode, vulnerable=in_vulnerable, height_cm=height_cm,
                weight_kg=weight_kg, waist_cm=waist_cm, research=rng.random() < RESEARCH_RATE,
                consent_day=consent_day, lab_day=lab_day, enroll_day=enroll,
                end_day=end_date(enroll, programme.programme_months),
                inclusion_hba1c=inclusion, provider=provider, trajectory=trajectory,
                **answers,
            )
            self._draw_trajectory(person)
            self._draw_fate(person)
            self.people.append(person)
        self._force_every_kind()
        for person in self.people:
            self._schedule(person)

    def _birth_date(self, on: date, ages: tuple[int, int]) -> date:
        """A birth date giving a completed age within ``ages`` (inclusive) on ``on``."""
        oldest = add_months(on, -12 * (ages[1] + 1)) + timedelta(days=1)
        youngest = add_months(on, -12 * ages[0])
        born = oldest + timedelta(days=self.rng.randrange((youngest - oldest).days + 1))
        assert ages[0] <= age_on(born, on) <= ages[1]
        return born

    def _findrisc_answers(self, *, sex: str, age: int, bmi: Decimal,
                          waist_cm: Decimal) -> dict[str, Any]:
        """Plausible answers that score at least the referral threshold."""
        rng = self.rng
        family = rng.choices(list(FamilyHistory), weights=(4, 3, 3))[0]
        answers: dict[str, Any] = dict(
            physically_active=rng.random() < 0.4, eats_vegetables_daily=rng.random() < 0.5,
            antihypertensive_medication=rng.random() < 0.25,
            high_glucose_history=rng.random() < 0.4, family_history=family,
        )
        risks: list[tuple[str, Any]] = [
            ("high_glucose_history", True), ("family_history", FamilyHistory.FIRST_DEGREE),
            ("physically_active", False), ("antihypertensive_medication", True),
            ("eats_vegetables_daily", False),
        ]
        rng.shuffle(risks)
        threshold = self.numbers.referral_score

        def score() -> int:
            return findrisc_score(FindriscAnswers(sex=sex, age=age, bmi=bmi, waist_cm=waist_cm,
                                                  **answers))

        while not earns_referral(score(), threshold):
            if not risks:
                raise SimulationError(f"No answers reach a FINDRISC score of {threshold}.")
            name, value = risks.pop()
            answers[name] = value
        return {**answers, "findrisc": score()}

    def _draw_trajectory(self, person: Person) -> None:
        rng = self.rng
        target = float(self.programme.outcome_below)
        h0 = float(person.inclusion_hba1c)
        if person.trajectory is Trajectory.IMPROVING:
            person.hba1c_change = rng.uniform(target - 6.0, target - 0.8) - h0
            person.weight_change = -rng.uniform(0.02, 0.10)
        elif person.trajectory is Trajectory.WORSENING:
            person.hba1c_change = rng.uniform(1.5, 6.5)
            person.weight_change = rng.uniform(0.0, 0.05)
        else:
            person.hba1c_change = rng.uniform(-1.5, 1.5)
            person.weight_change = rng.uniform(-0.02, 0.02)
        male = person.sex == "M"
        person.triglycerides = _clamp(rng.gauss(1.8, 0.5), 0.7, 4.0)
        person.hdl = _clamp(rng.gauss(1.15 if male else 1.4, 0.2), 0.7, 2.2)
        person.ldl = _clamp(rng.gauss(3.4, 0.6), 1.8, 5.5)

    def _due_days(self, person: Person) -> list[date]:
        """The due date of each follow-up set: the baseline's, then one per interval."""
        programme = self.programme
        return [item.due_on for item in followup.schedule(
            enrolled_on=person.enroll_day, interval_months=programme.followup_interval_months,
            programme_months=programme.programme_months,
            grace_days=programme.followup_grace_days)]

    def _draw_fate(self, person: Person, fate: Fate | None = None) -> None:
        rng = self.rng
        if fate is None:
            draw = rng.random()
            fate = Fate.STAYS
            for kind, rate in ((Fate.DROP_OUT, DROP_OUT_RATE), (Fate.DEATH, DEATH_RATE),
                               (Fate.WITHDRAWAL, WITHDRAWAL_RATE),
                               (Fate.MISSED_FOLLOWUP, MISSED_FOLLOWUP_RATE)):
                if draw < rate:
                    fate = kind
                    break
                draw -= rate
        person.fate = fate
        days = (person.end_day - person.enroll_day).days
        dues = self._due_days(person)
        person.fate_day = None
        person.missed_from = None
        if fate is Fate.MISSED_FOLLOWUP:
            person.missed_from = rng.randint(0, len(dues) - 2)
        elif fate is not Fate.STAYS:
            person.fate_day = person.enroll_day + timedelta(days=rng.randint(20, days - 10))
        # Switching is independent of the fate, but happens while the person is active.
        switch_now = rng.random() < SWITCH_RATE
        self._draw_switch(person, enabled=switch_now)

    def _draw_switch(self, person: Person, *, enabled: bool) -> None:
        rng = self.rng
        person.switch_day = person.switch_to = None
        if not enabled or len(self.providers) < 2:
            return
        last = switch_window_end(person.enroll_day, self.programme.switch_months) - timedelta(
            days=1)
        day = person.enroll_day + timedelta(days=rng.randint(30, (last - person.enroll_day).days))
        if person.fate_day is not None and day >= person.fate_day:
            return
        if person.missed_from is not None and day >= self._due_days(person)[person.missed_from]:
            return
        person.switch_to = rng.choice([i for i in range(len(self.providers))
                                       if i != person.provider])
        person.switch_day = day

    def _force_every_kind(self) -> None:
        """Small runs still show each kind of event at least once (from 10 people)."""
        if self.size < 10:
            return
        for fate in (Fate.DROP_OUT, Fate.DEATH, Fate.WITHDRAWAL, Fate.MISSED_FOLLOWUP):
            if any(p.fate is fate for p in self.people):
                continue
            spare = [p for p in self.people if p.fate is Fate.STAYS and p.switch_day is None]
            self._draw_fate(self.rng.choice(spare), fate)
        if not any(p.switch_day is not None for p in self.people):
            spare = [p for p in self.people if p.fate is Fate.STAYS]
            person = self.rng.choice(spare)
            while person.switch_day is None:
                self._draw_switch(person, enabled=True)

    def _schedule(self, person: Person) -> None:
        rng = self.rng
        dues = self._due_days(person)
        self.calendar[person.enroll_day].append((EventKind.ENROLL, person.index))
        previous_due = None
        for k, due in enumerate(dues):
            if k == 0:
                day = person.enroll_day + timedelta(days=rng.randint(0, 14))
            else:
                assert previous_due is not None
                day = due - timedelta(days=rng.randint(12, 28))
                day = max(day, previous_due + timedelta(days=1))
            previous_due = due
            if person.missed_from is not None and k >= person.missed_from:
                break
            if person.fate_day is not None and day >= person.fate_day:
                break
            person.set_days.append(day)
            self.calendar[day].append((EventKind.SET_TAKEN, person.index))
        if person.switch_day is not None:
            self.calendar[person.switch_day].append((EventKind.SWITCH, person.index))
        if person.fate is Fate.STAYS:
            # Completed on the last day (the daily job would do it the same day).
            self.calendar[person.end_day].append((EventKind.COMPLETE, person.index))
        if person.fate_day is not None:
            kind = {Fate.DROP_OUT: EventKind.DROP_OUT, Fate.DEATH: EventKind.DEATH,
                    Fate.WITHDRAWAL: EventKind.WITHDRAWAL}[person.fate]
            self.calendar[person.fate_day].append((kind, person.index))

    @property
    def default_until(self) -> date:
        """The end of the last individual period plus 60 days."""
        self.setup()
        return max(p.end_day for p in self.people) + timedelta(days=60)

    # --- Running ------------------------------------------------------------------------

    def run(self, until: date | None = None) -> SimulationSummary:
        try:
            self.setup()
            self.advance_to(until or self.default_until)
        finally:
            self.close()
        return self.summary()

    def advance_to(self, until: date, *, report_all: bool = True) -> None:
        """Lives through every day up to and including ``until``.

        Once a simulated week (and on ``until``) the values taken are reported and
        the periodic jobs run. With several workers each one lives through its own
        share of the people up to that day, and the jobs run once all have arrived.
        Providers report every few weeks; ``report_all`` makes them report whatever
        they hold on ``until`` too (leave it off to pause on an ordinary day).
        """
        self.setup()
        assert self.origin is not None
        first = self.origin if self.day is None else self.day + timedelta(days=1)
        if first > until:
            return
        ticks = [first + timedelta(days=n) for n in range((until - first).days + 1)]
        ticks = [d for d in ticks if self._is_tick(d) or d == until]
        if self.workers > 1:
            self._start_workers()
        for tick in ticks:
            final = report_all and tick == until
            if self._pool:
                self._dispatch(tick, final)
            else:
                self._live_until(tick, final)
            self._periodic_jobs(tick)
            self._stand_in_for_autovacuum(everything=self._providers_report(tick)
                                          or tick == until)
            before = self.day
            self.day = tick
            self._progress(before, tick)

    def _is_tick(self, day: date) -> bool:
        assert self.origin is not None
        return (day - self.origin).days % JOB_INTERVAL_DAYS == JOB_INTERVAL_DAYS - 1

    def _providers_report(self, day: date) -> bool:
        assert self.origin is not None
        weeks = (day - self.origin).days // JOB_INTERVAL_DAYS
        return weeks % self.provider_weeks == self.provider_weeks - 1

    def _live_until(self, tick: date, final: bool) -> None:
        """This process's share of the events up to ``tick``, then the week's reports."""
        day = self.origin if self.day is None else self.day + timedelta(days=1)
        assert day is not None
        while day <= tick:
            for kind, index in sorted(self.calendar.pop(day, ()), key=lambda e: e[0]):
                if index % self.workers == self.shard:
                    self._handle(day, kind, self.people[index])
            day += timedelta(days=1)
        self.day = tick
        self._flush(tick, providers=final or self._providers_report(tick))

    # --- Workers (PostgreSQL only) ---------------------------------------------------------

    def _start_workers(self) -> None:
        if self._pool:
            return
        if connection.vendor != "postgresql":
            raise SimulationError("Several workers need PostgreSQL.")
        if connection.in_atomic_block:
            raise SimulationError("Several workers cannot run inside a transaction.")
        context = multiprocessing.get_context("fork")
        connections.close_all()  # each process opens its own connection
        for shard in range(self.workers):
            parent, child = context.Pipe()
            process = context.Process(target=self._work, args=(shard, child), daemon=True)
            process.start()
            child.close()
            self._pool.append((process, parent))

    def _work(self, shard: int, pipe: Any) -> None:
        """A worker's loop: live up to each day the coordinator sends, then report back."""
        self.shard = shard
        self._pool = []
        try:
            while (message := pipe.recv()) is not None:
                tick, final = message
                counters, timings = Counter(self.counters), dict(self.timings)
                self._live_until(tick, final)
                pipe.send(("ok", dict(self.counters - counters),
                           {k: v - timings.get(k, 0.0) for k, v in self.timings.items()}))
        except BaseException:
            with contextlib.suppress(OSError):
                pipe.send(("error", traceback.format_exc(), {}))
        finally:
            connections.close_all()
            pipe.close()

    def _dispatch(self, tick: date, final: bool) -> None:
        for _process, pipe in self._pool:
            pipe.send((tick, final))
        failures = []
        for _process, pipe in self._pool:
            try:
                status, counters, timings = pipe.recv()
            except EOFError:
                failures.append("a worker stopped without a word")
                continue
            if status != "ok":
                failures.append(counters)
                continue
            self.counters.update(counters)
            for name, seconds in timings.items():
                self.timings[name] += seconds
        if failures:
            self.close()
            raise SimulationError("A worker failed:\n" + "\n".join(map(str, failures)))

    def close(self) -> None:
        """Stops the workers (if any)."""
        pool, self._pool = self._pool, []
        for process, pipe in pool:
            with contextlib.suppress(OSError):
                pipe.send(None)
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
            pipe.close()

    # --- Events ----------------------------------------------------------------------------

    def _handle(self, day: date, kind: EventKind, person: Person) -> None:
        started = time.monotonic()
        if kind is EventKind.ENROLL:
            self._enroll(person)
            self.counters["enrolled"] += 1
            self.timings["enroll"] += time.monotonic() - started
            return
        if kind is EventKind.SET_TAKEN:
            self.pending.setdefault(person.index, []).extend(self._set_values(person, day))
            return
        prepatient = self._prepatient(person)
        if kind in (EventKind.DROP_OUT, EventKind.DEATH, EventKind.WITHDRAWAL):
            # Whatever was measured since the last report is never sent: the person has left.
            self.pending.pop(person.index, None)
        with clock.travel_to(day), transaction.atomic():
            if kind is EventKind.SWITCH:
                assert person.switch_to is not None
                registry.listing_switch(prepatient=prepatient,
                                        provider=self.providers[person.switch_to])
                person.provider = person.switch_to
            elif kind is EventKind.DROP_OUT:
                registry.lifecycle_drop_out(prepatient=prepatient,
                                            note="Wanted to stop (simulated)")
            elif kind is EventKind.DEATH:
                registry.lifecycle_register_death(
                    prepatient=prepatient, on=day,
                    note="Notified by the population register (simulated)", actor=None)
            elif kind is EventKind.WITHDRAWAL:
                consent_withdraw(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
            elif kind is EventKind.COMPLETE:
                registry.lifecycle_complete(prepatient=prepatient)
        self.counters[kind.name.lower()] += 1
        self.timings["lifecycle"] += time.monotonic() - started

    def _prepatient(self, person: Person) -> Prepatient:
        assert person.prepatient_id is not None
        return Prepatient(pk=person.prepatient_id, programme=self.programme,
                          pseudonym=person.pseudonym)

    def _enroll(self, person: Person) -> None:
        """The whole path of one person, each step on its own day, in one transaction."""
        with transaction.atomic():
            with clock.travel_to(person.consent_day):
                prepatient = registry.prepatient_register(programme=self.programme)
                consent_grant(prepatient=prepatient, text=self.texts[ConsentKind.DATA_SHARING])
                if person.research:
                    consent_grant(prepatient=prepatient, text=self.texts[ConsentKind.RESEARCH])
                prepatient = registry.prepatient_set_identity(
                    prepatient=prepatient, personnummer=person.personnummer,
                    register=self.register)
                prepatient.programme = self.programme  # already loaded: spares a query
                code = registry.screening_submit(
                    prepatient=prepatient, height_cm=person.height_cm,
                    weight_kg=person.weight_kg, waist_cm=person.waist_cm,
                    physically_active=person.physically_active,
                    eats_vegetables_daily=person.eats_vegetables_daily,
                    antihypertensive_medication=person.antihypertensive_medication,
                    high_glucose_history=person.high_glucose_history,
                    family_history=person.family_history,
                ).referral_code
            if code is None:
                raise SimulationError(f"Person {person.index} got no referral code.")
            with clock.travel_to(person.lab_day):
                registry.inclusion_sample_record_lab(
                    code=code, value=person.inclusion_hba1c, taken_on=person.lab_day,
                    lab_reference=f"SIM-{self.seed}-{person.index}",
                )
            with clock.travel_to(person.enroll_day):
                prepatient = registry.prepatient_enroll(
                    prepatient=prepatient, provider=self.providers[person.provider])
        person.prepatient_id = prepatient.pk
        person.pseudonym = prepatient.pseudonym

    # --- Follow-up values ------------------------------------------------------------------

    def _set_values(self, person: Person, day: date) -> list[MeasurementInput]:
        """One complete follow-up set taken on ``day`` (height too at the baseline)."""
        k = person.set_days.index(day)
        rng = random.Random(f"{self.seed}:{person.index}:{k}")  # noqa: S311 - synthetic data
        t = (day - person.enroll_day).days / max(1, (person.end_day - person.enroll_day).days)
        target = float(self.programme.outcome_below)
        last = k == len(self._due_days(person)) - 1
        if person.trajectory is Trajectory.IMPROVING:
            progress = 1 - (1 - t) ** 2
            hba1c = float(person.inclusion_hba1c) + person.hba1c_change * progress
            hba1c += rng.gauss(0, 0.5)
            if last:
                hba1c = min(hba1c, target - 0.3)
        else:
            hba1c = float(person.inclusion_hba1c) + person.hba1c_change * t + rng.gauss(0, 0.5)
            if last:
                hba1c = max(hba1c, target)
        better = 1.0 if person.trajectory is Trajectory.IMPROVING else 0.0
        worse = 1.0 if person.trajectory is Trajectory.WORSENING else 0.0
        weight = float(person.weight_kg) * (1 + person.weight_change * t) + rng.gauss(0, 0.4)
        triglycerides = person.triglycerides * (1 - 0.25 * t * better + 0.15 * t * worse)
        triglycerides *= 1 + rng.gauss(0, 0.06)
        hdl = person.hdl + 0.15 * t * better + rng.gauss(0, 0.05)
        ldl = person.ldl - 0.4 * t * better + 0.2 * t * worse + rng.gauss(0, 0.12)
        total = ldl + hdl + triglycerides / 2.2 + rng.gauss(0, 0.1)
        findrisc = person.findrisc - round(3 * t * better) + round(2 * t * worse)
        values: list[tuple[str, str]] = [
            ("hba1c", _q(_clamp(hba1c, 25, 120), 1)),
            ("triglycerides", _q(_clamp(triglycerides, 0.3, 10), 2)),
            ("cholesterol_total", _q(_clamp(total, 2, 12), 2)),
            ("ldl", _q(_clamp(ldl, 0.5, 9), 2)),
            ("hdl", _q(_clamp(hdl, 0.4, 3.5), 2)),
            ("weight", _q(_clamp(weight, 35, 300), 1)),
            ("findrisc", str(int(_clamp(findrisc, 0, 26)))),
        ]
        if k == 0:
            values.append(("height", str(person.height_cm)))
        return [
            MeasurementInput(
                prepatient=person.pseudonym, type=code, value=value,
                unit=TYPES[code].canonical_unit, taken_on=day,
                source_reference=f"{person.pseudonym}/{k}/{code}",
            )
            for code, value in values
        ]

    def _flush(self, day: date, *, providers: bool) -> None:
        """Reports the values taken so far: blood values by the lab (every week), the
        rest by each person's current provider (every few weeks), in large batches."""
        lab: list[MeasurementInput] = []
        by_provider: dict[int, list[MeasurementInput]] = defaultdict(list)
        for index in sorted(self.pending):
            kept = []
            for item in self.pending[index]:
                if item.type in BLOOD_TYPES:
                    lab.append(item)
                elif providers:
                    by_provider[self.people[index].provider].append(item)
                else:
                    kept.append(item)
            if kept:
                self.pending[index] = kept
            else:
                del self.pending[index]
        if not lab and not by_provider:
            return
        started = time.monotonic()
        with clock.travel_to(day):
            self._record(lab, self.lab)
            for provider in sorted(by_provider):
                self._record(by_provider[provider], Reporter.for_provider(self.providers[provider]))
        self.timings["intake"] += time.monotonic() - started

    def _record(self, items: Sequence[MeasurementInput], reporter: Reporter) -> None:
        for start in range(0, len(items), BATCH_SIZE):
            chunk = items[start:start + BATCH_SIZE]
            result = measurements_record_batch(items=chunk, reporter=reporter,
                                               all_or_nothing=True)
            if not result.committed or result.stored != len(chunk):
                refused = [(chunk[r.index].type, chunk[r.index].value, r.errors)
                           for r in result.items if r.status != "stored"][:3]
                raise SimulationError(f"{reporter.reference} refused values: {refused}")
            self.counters["values"] += result.stored

    def _periodic_jobs(self, day: date) -> None:
        """The real periodic jobs, as Celery beat runs them (here once a simulated week)."""
        started = time.monotonic()
        with clock.travel_to(day):
            self.counters["excluded_missed"] += followups_exclude_missed(today=day)
            self.counters["completed_by_job"] += prepatients_complete_ended(today=day)
        self.timings["jobs"] += time.monotonic() - started

    def _stand_in_for_autovacuum(self, *, everything: bool) -> None:
        """VACUUM ANALYZE the tables the simulation churns, when the server's autovacuum
        is off (as on some development machines): without fresh statistics and
        visibility maps, PostgreSQL's plans degrade as the tables grow, which no
        production database would see. The prepatients every simulated week (the
        enrollment count scans them), all churned tables every few weeks."""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return
        if self._autovacuum is None:
            with connection.cursor() as cursor:
                cursor.execute("SHOW autovacuum")
                row = cursor.fetchone()
            self._autovacuum = bool(row) and str(row[0]).lower() == "on"
        if self._autovacuum:
            return
        started = time.monotonic()
        models = (Prepatient, FollowUpDue, Measurement, ReferralCode, InclusionSample, Screening,
                  Listing, LifecycleEvent, ConsentEvent, SafetyNotice) if everything else (
                  Prepatient,)
        tables = [model._meta.db_table for model in models]
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) " + ", ".join(
                connection.ops.quote_name(table) for table in tables))
        self.timings["vacuum"] += time.monotonic() - started

    def _progress(self, before: date | None, day: date) -> None:
        if self.out is None:
            return
        c = self.counters
        thousands = c["enrolled"] // 1000 > self._reported_thousands
        if not thousands and before is not None and (before.year, before.month) == (
                day.year, day.month):
            return
        self._reported_thousands = c["enrolled"] // 1000
        self.out(
            f"[{time.monotonic() - self.started:7.1f}s] {day}: enrolled {c['enrolled']}, "
            f"values {c['values']}, switched {c['switch']}, dropped out {c['drop_out']}, "
            f"died {c['death']}, withdrew {c['withdrawal']}, "
            f"excluded {c['excluded_missed']}, completed {c['complete'] + c['completed_by_job']}"
        )

    # --- The result ----------------------------------------------------------------------

    def summary(self) -> SimulationSummary:
        programme = self.programme
        prepatients = Prepatient.objects.filter(programme=programme)
        events = LifecycleEvent.objects.filter(prepatient__programme=programme)
        measurements = Measurement.objects.filter(prepatient__programme=programme)
        return SimulationSummary(
            prepatients=prepatients.count(),
            enrolled=prepatients.filter(enrolled_on__isnull=False).count(),
            states={row["state"]: row["n"] for row in
                    prepatients.order_by().values("state").annotate(n=Count("pk"))},
            providers=len(self.providers),
            listings_switched=Listing.objects.filter(
                prepatient__programme=programme, reason=ListingReason.SWITCH).count(),
            lifecycle={row["type"]: row["n"] for row in
                       events.order_by().values("type").annotate(n=Count("pk"))},
            missed_followup_exclusions=events.filter(reason="missed_followup").count(),
            measurements=measurements.count(),
            bmi_derived=measurements.filter(reporter_kind=ReporterKind.DERIVED).count(),
            safety_notices=SafetyNotice.objects.filter(prepatient__programme=programme).count(),
            values_reported=self.counters["values"],
            until=self.day or programme.start_date,
            seconds=time.monotonic() - self.started,
            timings=dict(self.timings),
        )


def simulate_programme(*, programme: Programme, prepatients: int, seed: int,
                       until: date | None = None, out: Callable[[str], None] | None = None,
                       workers: int = 1) -> SimulationSummary:
    """Makes a synthetic programme of ``prepatients`` people; see the module's docstring."""
    simulation = ProgrammeSimulation(programme=programme, prepatients=prepatients, seed=seed,
                                     out=out, workers=workers)
    return simulation.run(until)
