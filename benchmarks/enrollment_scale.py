"""One enrollment at 30,000 and at 300,000 prepatients: its time does not grow with
the programme.

``benchmarks/run.py --scenario enrollment`` runs this on the generated programmes
(see ``benchmarks/README.md``), in one transaction rolled back at the end (the
generated data stays as it was for the other scenarios):

1. Each programme's enrolled count is recounted from its prepatients
   (``enrolled_count_recount``: the generator writes them with ``COPY``, around the
   services), and every generated person is given what their path through the
   services would have left: a used referral code and the laboratory's inclusion
   sample against it (``INSERT … SELECT``). So the referral codes, the samples and
   the prepatients are all of the programme's size.
2. The cap, equal to the size, is raised for the extra people by publishing a new
   version of the programme (drafted and published by two accounts): the normal
   way to change the cap.
3. ``WARM_UP + PEOPLE`` people per programme are made ready through the real
   services: an account, consent to the current text, identity (a population
   register file), the screening form answered for a referral code.
4. The laboratory's result against each code (``inclusion_sample_receive_lab``: the
   referral lookup), then ``prepatient_enroll`` with a provider that offers the
   programme, are timed alone, one size after the other in turn so that the shared
   machine's noise falls on both alike. The warm-ups are not counted; the last
   warm-up's queries are.

Printed: the median enrollment at each size, the ratio 300,000 / 30,000 beside its
target (≤ 1.2), the queries per enrollment, the laboratory step likewise, and for
reference the ``COUNT(*)`` of the enrolled that each enrollment used to run under
the programme's lock.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

PEOPLE = 20
WARM_UP = 2
TARGET = 1.2
DAY = date(2026, 10, 1)  # recruitment open to all: after the priority phase, before the end
BORN = date(1968, 3, 14)


@dataclass
class SizeResult:
    prepatients: int
    enrolled_before: int
    recounted_from: int
    cap: int
    enroll: list[float]
    enroll_queries: int
    lab: list[float]
    lab_queries: int
    count_seconds: float

    @property
    def enroll_median(self) -> float:
        return statistics.median(self.enroll)

    @property
    def lab_median(self) -> float:
        return statistics.median(self.lab)


def _personnummer(serial: int) -> str:
    from apps.core.luhn import luhn_check_digit

    three = 100 + serial * 2  # even: a woman's number
    ten = f"{BORN:%y%m%d}{three:03d}"
    return f"{BORN:%Y%m%d}{three:03d}{luhn_check_digit(ten)}"


def _fill_referrals(programme: Any) -> None:
    """A used referral code and its laboratory sample for every generated person."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO registry_referralcode
                (prepatient_id, code_hash, hint, issued_at, expires_at, used_at)
            SELECT p.id, encode(sha256(('bench-referral-' || p.id)::bytea), 'hex'),
                   right(p.pseudonym, 4), p.created_at - interval '30 days',
                   p.created_at + interval '60 days', p.created_at - interval '20 days'
            FROM registry_prepatient p
            WHERE p.programme_id = %(programme)s AND p.enrolled_on IS NOT NULL""",
                       {"programme": programme.pk})
        cursor.execute("""
            INSERT INTO registry_inclusionsample
                (prepatient_id, measure, value, taken_on, received_at, source, referral_id,
                 lab_reference, verification_note)
            SELECT r.prepatient_id, 'hba1c', 44, p.enrolled_on - 7, r.used_at, 'lab', r.id,
                   'BENCH-' || r.id, ''
            FROM registry_referralcode r JOIN registry_prepatient p ON p.id = r.prepatient_id
            WHERE p.programme_id = %(programme)s""", {"programme": programme.pk})
        cursor.execute("ANALYZE registry_referralcode")
        cursor.execute("ANALYZE registry_inclusionsample")


def _raise_cap(programme: Any, cap: int) -> None:
    """A new version with the higher cap, drafted and published by two accounts."""
    from django.contrib.auth import get_user_model

    from apps.programs.selectors import programme_version_current
    from apps.programs.services import programme_version_draft, programme_version_publish

    users = get_user_model().objects
    author, _ = users.get_or_create(username="benchmark")
    reviewer, _ = users.get_or_create(username="benchmark-reviewer")
    current = programme_version_current(programme)
    assert current is not None, "the generated programme has a published version"
    draft = programme_version_draft(programme=programme, author=author,
                                    definition={**current.definition, "cap": cap})
    programme_version_publish(version=draft, publisher=reviewer)
    programme.refresh_from_db()


def _ready(programme: Any, count: int, register_path: Path) -> list[tuple[Any, str]]:
    """``count`` people registered, consented and identified, each with the referral
    code their screening earned (not redeemed yet)."""
    from django.contrib.auth import get_user_model

    from apps.consent.models import ConsentKind
    from apps.consent.selectors import consent_text_current
    from apps.consent.services import consent_grant, consent_text_publish
    from apps.registry.population import FilePopulationRegister
    from apps.registry.services import (
        prepatient_register,
        prepatient_set_identity,
        screening_submit,
    )
    from prevention_engine.findrisc import FamilyHistory

    numbers = [_personnummer(serial) for serial in range(count)]
    register_path.write_text("personnummer,postcode\n"
                             + "".join(f"{number},16355\n" for number in numbers))
    register = FilePopulationRegister(register_path)
    text = consent_text_current(programme=programme, kind=ConsentKind.DATA_SHARING)
    if text is None:
        text = consent_text_publish(programme=programme, kind=ConsentKind.DATA_SHARING,
                                    title_sv="Samtycke", title_en="Consent",
                                    body_sv="Text", body_en="Text")
    people = []
    for serial, number in enumerate(numbers):
        user = get_user_model().objects.create(username=f"bench-enroll-{programme.pk}-{serial}")
        prepatient = prepatient_register(programme=programme, user=user)
        consent_grant(prepatient=prepatient, text=text)
        prepatient = prepatient_set_identity(prepatient=prepatient, personnummer=number,
                                             register=register)
        screened = screening_submit(
            prepatient=prepatient, height_cm=Decimal("168"), weight_kg=Decimal("92"),
            waist_cm=Decimal("104"), physically_active=False, eats_vegetables_daily=False,
            antihypertensive_medication=True, high_glucose_history=True,
            family_history=FamilyHistory.FIRST_DEGREE)
        assert screened.referral_code is not None, "the screening earns a referral"
        people.append((prepatient, screened.referral_code))
    return people


def _count_seconds(programme: Any) -> float:
    """What the cap used to cost each enrollment: the enrolled counted (median of 5)."""
    from django.db import connection

    runs = []
    with connection.cursor() as cursor:
        for _ in range(5):
            started = time.perf_counter()
            cursor.execute("SELECT COUNT(*) FROM registry_prepatient WHERE programme_id = %s "
                           "AND enrolled_on IS NOT NULL", [programme.pk])
            cursor.fetchone()
            runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def _timed(rounds: list[list[Callable[[], Any]]]) -> tuple[list[list[float]], list[int]]:
    """Each round runs one step per size, in turn (so the machine's noise falls on
    every size alike): the seconds of each size's steps after the warm-ups, and the
    queries of each size's last warm-up (counted apart, so the timed ones run as in
    production)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sizes = len(rounds[0])
    runs: list[list[float]] = [[] for _ in range(sizes)]
    queries = [0] * sizes
    for index, steps in enumerate(rounds):
        for size, step in enumerate(steps):
            counted = index == WARM_UP - 1
            with CaptureQueriesContext(connection) if counted else nullcontext() as capture:
                started = time.perf_counter()
                step()
                seconds = time.perf_counter() - started
            if capture is not None:
                queries[size] = len(capture.captured_queries)
            if index >= WARM_UP:
                runs[size].append(seconds)
    return runs, queries


@dataclass
class _Prepared:
    generated: Any
    programme: Any
    stored: int
    enrolled: int
    provider: Any
    people: list[tuple[Any, str]]


def _prepare(generated: Any, folder: Path, out: Callable[[str], None]) -> _Prepared:
    from apps.programs.models import Programme
    from apps.providers.models import AuthorizationStatus, Provider
    from apps.registry.services import enrolled_count_recount

    programme = Programme.objects.get(pk=generated.programme.pk)
    stored = programme.enrolled_count
    enrolled = enrolled_count_recount(programme=programme)
    _fill_referrals(programme)
    _raise_cap(programme, enrolled + WARM_UP + PEOPLE)
    out(f"  {generated.prepatients:,}: {enrolled:,} enrolled (the stored count said "
        f"{stored:,}), cap raised to {programme.cap:,} by version "
        f"{programme.versions.count()}")
    people = _ready(programme, WARM_UP + PEOPLE, folder / f"register-{programme.pk}.csv")
    provider = (Provider.objects.filter(
        offers__programme=programme, authorization_status=AuthorizationStatus.AUTHORIZED)
        .order_by("pk").last())
    assert provider is not None
    return _Prepared(generated, programme, stored, enrolled, provider, people)


def run_scenario(programmes: list[Any], *, out: Callable[[str], None] = print) -> str:
    """The enrollment scenario over every generated size, in one transaction rolled
    back at the end: its report."""
    from django.db import transaction

    from apps.core import clock
    from apps.registry.services import inclusion_sample_receive_lab, prepatient_enroll

    def lab_step(person: tuple[Any, str]) -> Callable[[], Any]:
        return lambda: inclusion_sample_receive_lab(
            code=person[1], value="44", unit="mmol/mol", taken_on=DAY - timedelta(days=3),
            lab_reference=f"BENCH-NEW-{person[0].pk}")

    def enroll_step(person: tuple[Any, str], provider: Any) -> Callable[[], Any]:
        return lambda: prepatient_enroll(prepatient=person[0], provider=provider)

    out("Preparing each programme (its count, referral codes, a higher cap, "
        f"{WARM_UP + PEOPLE} people ready to enroll)")
    with transaction.atomic(), tempfile.TemporaryDirectory() as folder, \
            clock.travel_to(DAY):
        prepared = [_prepare(generated, Path(folder), out) for generated in programmes]
        rounds = range(WARM_UP + PEOPLE)
        out("Timing the laboratory results, then the enrollments, one size after the other")
        lab, lab_queries = _timed([[lab_step(p.people[i]) for p in prepared] for i in rounds])
        enroll, enroll_queries = _timed([[enroll_step(p.people[i], p.provider)
                                          for p in prepared] for i in rounds])
        results = []
        for index, p in enumerate(prepared):
            p.programme.refresh_from_db()
            real = p.programme.prepatients.filter(enrolled_on__isnull=False).count()
            assert p.programme.enrolled_count == real == p.enrolled + WARM_UP + PEOPLE, (
                p.programme.enrolled_count, real)
            results.append(SizeResult(
                prepatients=p.generated.prepatients, enrolled_before=p.enrolled,
                recounted_from=p.stored, cap=p.programme.cap, enroll=enroll[index],
                enroll_queries=enroll_queries[index], lab=lab[index],
                lab_queries=lab_queries[index], count_seconds=_count_seconds(p.programme)))
        transaction.set_rollback(True)  # the generated data stays as it was
    return report(results)


def _ms(runs: list[float]) -> str:
    return ", ".join(f"{seconds * 1000:.1f}" for seconds in runs)


def report(results: list[SizeResult]) -> str:
    lines = [f"Enrollment at scale (median of {PEOPLE} enrollments each, after {WARM_UP} "
             f"warm-ups; target: the largest ≤ {TARGET}× the smallest)"]
    for r in results:
        lines += [
            f"{r.prepatients:,} prepatients ({r.enrolled_before:,} enrolled; cap raised to "
            f"{r.cap:,})",
            f"  prepatient_enroll                          {r.enroll_median * 1000:8.1f} ms   "
            f"{r.enroll_queries} queries   fastest {min(r.enroll) * 1000:.1f} ms   "
            f"runs {_ms(r.enroll)}",
            f"  laboratory result (referral lookup)        {r.lab_median * 1000:8.1f} ms   "
            f"{r.lab_queries} queries",
            f"  for reference: COUNT(*) of the enrolled    {r.count_seconds * 1000:8.1f} ms   "
            "(what each enrollment ran before the count column)",
        ]
    if len(results) > 1:
        small, large = results[0], results[-1]
        ratio = large.enroll_median / small.enroll_median
        lab_ratio = large.lab_median / small.lab_median
        verdict = "met" if ratio <= TARGET else "not met"
        lines += [
            f"Enrollment {large.prepatients:,} / {small.prepatients:,}: "
            f"{large.enroll_median * 1000:.1f} ms / {small.enroll_median * 1000:.1f} ms = "
            f"{ratio:.2f}×   target ≤ {TARGET}×: {verdict}   (fastest: "
            f"{min(large.enroll) / min(small.enroll):.2f}×)",
            f"Laboratory result {large.prepatients:,} / {small.prepatients:,}: "
            f"{lab_ratio:.2f}×; queries per enrollment {small.enroll_queries} and "
            f"{large.enroll_queries}",
        ]
    return "\n".join(lines)
