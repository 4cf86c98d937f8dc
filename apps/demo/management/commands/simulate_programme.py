"""Generates a synthetic programme through the real services (see apps/demo/simulation.py).

    python manage.py simulate_programme --prepatients 30000 --seed 1
    python manage.py simulate_programme --prepatients 500 --seed 7 --until 2027-06-30
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from apps.demo.simulation import SimulationError, simulate_programme
from apps.programs.models import Programme


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--until {value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = ("Creates a synthetic programme (people, enrollments, 24 months of follow-up values "
            "and events) through the real services, moving the clock; deterministic per seed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--prepatients", type=int, required=True,
                            help="How many people to enroll (at most the programme's cap).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument("--programme", default="prediabetes-2026",
                            help="The programme's code (default prediabetes-2026).")
        parser.add_argument("--until", type=_day, default=None,
                            help="Simulate up to this day (default: the end of the last "
                                 "individual period + 60 days).")
        parser.add_argument("--workers", type=int, default=None,
                            help="Processes sharing the people (PostgreSQL only; default 2 on "
                                 "PostgreSQL, 1 on SQLite). The result is the same.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            programme = Programme.objects.get(code=options["programme"])
        except Programme.DoesNotExist:
            raise CommandError(f"No programme has the code {options['programme']!r}.") from None
        if options["prepatients"] < 1:
            raise CommandError("--prepatients must be at least 1.")
        workers = options["workers"]
        if workers is None:
            workers = 2 if connection.vendor == "postgresql" else 1
        if workers < 1:
            raise CommandError("--workers must be at least 1.")
        try:
            summary = simulate_programme(
                programme=programme, prepatients=options["prepatients"], seed=options["seed"],
                until=options["until"], out=lambda line: self.stdout.write(line),
                workers=workers,
            )
        except SimulationError as error:
            raise CommandError(str(error)) from error
        for line in summary.lines():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Synthetic programme created."))
