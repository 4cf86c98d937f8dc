"""Recomputes a settlement from an interchange file alone (SETTLEMENT_FORMAT.md).

The same code as ``python -m prevention_engine recompute``. ``manage.py`` runs
this command with ``prevention.settings.auditor``: no database, no secrets, no
``DEBUG`` needed.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from prevention_engine.cli import run_recompute


class Command(BaseCommand):
    help = ("Computes a settlement result (prevention-settlement-result/2, or /1 for a "
            "version 1 input) from an input file (prevention-settlement-input/2 or /1). "
            "Exit 2 names the offending path of an invalid input.")
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", help="the input JSON file, or - for standard input")
        parser.add_argument("--out", help="write the result here instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        status = run_recompute(options["input"], options.get("out"), self.stdout, self.stderr)
        if status:
            sys.exit(status)
