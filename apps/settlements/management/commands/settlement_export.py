"""Writes the auditor's input file (prevention-settlement-input/2) from the database."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.programs.models import ProgrammeVersion
from apps.programs.selectors import (
    programme_by_code,
    programme_version_current,
    programme_version_published,
)
from apps.settlements.export import write_input
from apps.settlements.models import SettlementRun
from apps.settlements.rules import run_version


class Command(BaseCommand):
    help = ("Exports a settlement's input in the auditor's format (pseudonymous IDs only): "
            "for a run (--run) or for a programme as of a date (--programme, --as-of). "
            "settlement_recompute computes the result from the file alone.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, help="a settlement run's number")
        parser.add_argument("--programme", help="a programme's code (with --as-of)")
        parser.add_argument("--as-of", help="the date, YYYY-MM-DD (with --programme)")
        parser.add_argument("--programme-version", type=int, dest="programme_version",
                            help="the programme version whose enrollments are settled "
                                 "(with --programme; by default the current one)")
        parser.add_argument("--out", help="write the file here instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        version, as_of, cutoff = self._what(options)
        if options["out"]:
            with Path(options["out"]).open("w", encoding="utf-8") as out:
                write_input(version, as_of, cutoff, out)
        else:
            write_input(version, as_of, cutoff, sys.stdout)

    def _what(self, options: dict[str, Any]) -> tuple[ProgrammeVersion, date, datetime | None]:
        if options["run"] is not None:
            if options["programme"] or options["as_of"]:
                raise CommandError("Give either --run or --programme with --as-of.")
            run = (SettlementRun.objects.select_related("programme")
                   .filter(pk=options["run"]).first())
            if run is None:
                raise CommandError(f"--run: no settlement run {options['run']}.")
            if run.format_version != 2:
                raise CommandError(f"--run: run {run.pk} was computed with the settlement "
                                   f"format version {run.format_version}; only runs of "
                                   "version 2 are exported.")
            return run_version(run), run.as_of, run.data_cutoff
        if not options["programme"] or not options["as_of"]:
            raise CommandError("Give --run, or --programme with --as-of.")
        programme = programme_by_code(options["programme"])
        if programme is None:
            raise CommandError(f"--programme: no programme {options['programme']!r}.")
        try:
            as_of = date.fromisoformat(options["as_of"])
        except ValueError:
            raise CommandError("--as-of: not a date (YYYY-MM-DD).") from None
        number = options["programme_version"]
        version = (programme_version_current(programme) if number is None
                   else programme_version_published(programme, number))
        if version is None:
            raise CommandError(f"--programme-version: {programme.code} has no published "
                               f"version {number or ''}".rstrip() + ".")
        return version, as_of, None
