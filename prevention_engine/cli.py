"""``python -m prevention_engine recompute INPUT.json [--out R.json]``.

Recomputes a settlement from an interchange file with nothing but the
standard library: no database, no platform, no secrets. Exit status 0 on
success, 2 with a message naming the offending path when the input is
invalid (``prepatients[3].listings[0].from: not a date``).
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from prevention_engine.interchange import (
    InvalidSettlementInput,
    recompute_file_content,
    result_lines,
)

INVALID = 2


class Writer(Protocol):
    def write(self, text: str, /) -> Any: ...


class InputError(Exception):
    """The input cannot be recomputed; the message names why."""


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The documents read and written are trees of millions of small objects with no
    cycles: the cycle collector would walk them again and again for nothing (it more
    than doubled the time of reading a national file)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def recompute_file(source: str, out: Writer) -> None:
    """Reads ``source`` (a path, or ``-`` for standard input), writes the result to ``out``."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        raise InputError(f"{source}: cannot be read ({error.strerror})") from None
    with _without_cycle_collection():
        try:
            result = recompute_file_content(raw)
        except InvalidSettlementInput as error:
            raise InputError(str(error)) from None
        for piece in result_lines(result, raw):
            out.write(piece)


def run_recompute(source: str, out_path: str | None, stdout: Writer, stderr: Writer) -> int:
    """The command's whole behaviour, shared by ``manage.py settlement_recompute``."""
    try:
        if out_path:
            target = Path(out_path)
            partial = target.with_name(target.name + ".partial")
            with partial.open("w", encoding="utf-8") as out:
                recompute_file(source, out)
            partial.replace(target)  # never a half-written result under the real name
        else:
            recompute_file(source, stdout)
    except InputError as error:
        stderr.write(f"invalid input: {error}\n")
        return INVALID
    except BrokenPipeError:  # the reader stopped reading (| head): not an error of ours
        return 0
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m prevention_engine",
        description="The rules that decide outcome payments, run from an interchange file.")
    commands = parser.add_subparsers(dest="command", required=True)
    recompute_parser = commands.add_parser(
        "recompute", help="compute a settlement result from an input file",
        description="Computes prevention-settlement-result/2 (or /1 for a version 1 input) "
                    "from prevention-settlement-input/2 (or /1). Exit 2 names the "
                    "offending path of an invalid input.")
    recompute_parser.add_argument("input", help="the input JSON file, or - for standard input")
    recompute_parser.add_argument("--out", help="write the result here instead of stdout")
    args = parser.parse_args(argv)
    return run_recompute(args.input, args.out, sys.stdout, sys.stderr)
