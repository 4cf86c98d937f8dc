"""Recomputes a settlement from an interchange file alone (no database rows)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from apps.settlements.interchange import (
    InvalidSettlementInput,
    parse_input,
    recompute,
    result_document,
)


class Command(BaseCommand):
    help = ("Computes a settlement result (prevention-settlement-result/1) from an input file "
            "(prevention-settlement-input/1). Exit 2 names the offending path.")
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", help="the input JSON file")
        parser.add_argument("--out", help="write the result here instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["input"])
        try:
            raw = path.read_bytes()
        except OSError as error:
            self._invalid(f"{path}: cannot be read ({error.strerror})")
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            self._invalid(f"$: not valid JSON ({error})")
        try:
            data = parse_input(document)
        except InvalidSettlementInput as error:
            self._invalid(str(error))
        text = json.dumps(result_document(recompute(data), raw), indent=2, ensure_ascii=False)
        if options.get("out"):
            Path(options["out"]).write_text(text + "\n", encoding="utf-8")
        else:
            self.stdout.write(text)

    def _invalid(self, message: str) -> NoReturn:
        self.stderr.write(f"invalid input: {message}")
        sys.exit(2)
