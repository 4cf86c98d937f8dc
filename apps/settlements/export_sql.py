"""The auditor's file built by PostgreSQL: one statement, streamed with ``COPY``.

``input_lines`` writes the same bytes as ``interchange.input_lines`` over
``export.iter_prepatients`` (the SQLite path and the oracle of the tests), but
each prepatient's line is assembled by the database — its listings, events and
values aggregated per prepatient (``string_agg`` in the rules' input order) — and
streamed with ``COPY (…) TO STDOUT``, a megabyte at a time: no Python object per
value, memory flat whatever the size of the programme.

The lines are built as text, not with ``json_build_object``: PostgreSQL's JSON
functions space their output differently (``{"id" : …}``) and ``jsonb`` reorders
keys. Strings go through ``to_json`` (the same escapes as Python's encoder with
``ensure_ascii=False``); a value is written as reported without trailing zeros
(``trim_scale``, as ``interchange.plain``); dates in ISO form.

A reported unit is written in the spelling the programme accepts it in when it
matches one after ``strip()`` ignoring case (``casefold``), as
``export.unit_spellings`` does; the match is a regular expression built from
Python's own case folding, so the database folds exactly as Python does.
"""

from __future__ import annotations

import array
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from functools import cache
from typing import Any

from django.db import connection

from apps.measurements.models import SOURCE_OF
from apps.programs.models import ProgrammeVersion
from prevention_engine.baseline import baseline_sources
from prevention_engine.interchange import ProviderIn
from prevention_engine.interchange import input_lines as engine_lines
from prevention_engine.model import EVENT_TYPES, Rules

PIECE_BYTES = 1 << 20  # text handed on at a time
# For the statement: no JIT (compiling costs more than it saves on a stream read once),
# room for its sorts and aggregates in memory, dates written in ISO form, and index reads
# priced as the reads of cached pages they are (with the default 4, a small programme's
# values are found by reading every programme's: 2.5× the time at 30,000 of 330,000).
SETTINGS = {"jit": "off", "work_mem": "256MB", "DateStyle": "ISO",
            "random_page_cost": "1.1"}


def json_text(value: str) -> str:
    """A JSON string as the engine's encoder writes it."""
    return json.dumps(value, ensure_ascii=False)


# --- Units: Python's strip() and casefold() as a regular expression ---------------------


@cache
def _folding() -> tuple[str, dict[str, frozenset[str]]]:
    """Every character ``str.strip`` removes, and per case-folded text the characters
    that fold to it (computed once per process from Python's Unicode tables)."""
    codes = array.array("I", range(0xD800)) + array.array("I", range(0xE000, 0x110000))
    everything = codes.tobytes().decode(f"utf-32-{sys.byteorder[0]}e")  # no surrogates
    spaces = "".join(re.findall(r"\s", everything))  # \s is str.isspace
    folds: dict[str, set[str]] = {}
    for start in range(0, len(everything), 1024):
        block = everything[start:start + 1024]
        if block.casefold() == block:  # most blocks: nothing folds (checked at C speed)
            continue
        for char in block:
            folded = char.casefold()
            if folded != char:
                folds.setdefault(folded, set()).add(char)
    return spaces, {text: frozenset(chars) for text, chars in folds.items()}


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _members(chars: Iterable[str]) -> str:
    return "[" + "".join(_escaped(char) for char in sorted(chars)) + "]"


def unit_pattern(key: str) -> str:
    """A PostgreSQL regular expression matching exactly the texts ``t`` with
    ``t.strip().casefold() == key``."""
    spaces, folds = _folding()
    multi = [text for text in folds if len(text) > 1]

    @cache
    def rest(start: int) -> str:
        if start == len(key):
            return ""
        first = key[start]
        branches = [_members({first} | folds.get(first, frozenset())) + rest(start + 1)]
        for text in multi:
            if key.startswith(text, start):
                branches.append(_members(folds[text]) + rest(start + len(text)))
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    blank = _members(spaces) + "*"
    return f"^{blank}{rest(0)}{blank}$"


# --- The statement -------------------------------------------------------------------


class _Statement:
    """The SQL of one export and its parameters (every value sent as a parameter)."""

    def __init__(self, version: ProgrammeVersion, as_of: date, cutoff: datetime | None,
                 rules: Rules, spellings: dict[int, tuple[str, dict[str, str]]]) -> None:
        self.params: dict[str, Any] = {"version": version.pk, "as_of": as_of,
                                       "cutoff": cutoff}
        self.cutoff = cutoff
        self.rules = rules
        self.spellings = spellings

    def param(self, value: Any) -> str:
        name = f"x{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    def recorded(self, column: str) -> str:
        """The condition "recorded by the cutoff" (none without a cutoff: all known now)."""
        return "" if self.cutoff is None else f" AND {column} <= %(cutoff)s"

    @staticmethod
    def of_version(alias: str) -> str:
        """Rows of the version's prepatients enrolled by ``as_of`` (a join on the table,
        not on the statement's list of prepatients, so that each stream is planned on
        its own, in parallel where it pays)."""
        return (f"JOIN registry_prepatient pp ON pp.id = {alias}.prepatient_id "
                "AND pp.programme_version_id = %(version)s AND pp.enrolled_on <= %(as_of)s")

    def by_type(self, column: str, text: Callable[[str], str]) -> str:
        """``text(code)`` of the measure whose type id is in ``column``."""
        branches = " ".join(f"WHEN {pk} THEN {self.param(text(code))}"
                            for pk, (code, _units) in sorted(self.spellings.items()))
        return f"CASE {column} {branches} END" if branches else "NULL::text"

    def unit_json(self, type_column: str, unit_column: str, before: str = "",
                  after: str = "") -> str:
        """The reported unit in the programme's spelling (``export._sample``) as JSON,
        between ``before`` and ``after`` (whole pieces of text, joined once per branch)."""
        exact, folded = [], []
        for pk, (_code, units) in sorted(self.spellings.items()):
            for key, spelling in units.items():
                written = self.param(before + json_text(spelling) + after)
                exact.append(f"WHEN {type_column} = {pk} AND {unit_column} = "
                             f"{self.param(spelling)} THEN {written}")
                folded.append(f"WHEN {type_column} = {pk} AND {unit_column} ~ "
                              f"{self.param(unit_pattern(key))} THEN {written}")
        other = f"to_json({unit_column})::text"
        if before or after:
            other = f"{self.param(before)} || {other} || {self.param(after)}"
        return f"CASE {' '.join(exact + folded)} ELSE {other} END" if exact else other

    @staticmethod
    def kinds(sources: Iterable[str]) -> list[str]:
        wanted = set(sources)
        return sorted(kind.value for kind, source in SOURCE_OF.items() if source in wanted)

    def source_json(self, column: str, before: str = "", after: str = "") -> str:
        """The source of a value reported by ``column``'s kind of reporter, as JSON,
        between ``before`` and ``after``."""
        branches = " ".join(f"WHEN {self.param(kind.value)} THEN "
                            f"{self.param(before + json_text(source) + after)}"
                            for kind, source in SOURCE_OF.items())
        # An unknown reporter fails the statement (as the Python writer raises) rather
        # than silently dropping the value from the file.
        return (f"CASE {column} {branches} "
                f"ELSE ('not a reporter kind: ' || {column})::integer::text END")

    def baseline_condition(self) -> str | None:
        """Which samples may give a baseline value: per compared measure, its sources."""
        names = {code: pk for pk, (code, _units) in self.spellings.items()}
        terms = []
        for measure, sources in sorted(baseline_sources(self.rules).items()):
            kinds = ", ".join(self.param(kind) for kind in self.kinds(sources))
            if measure in names and kinds:  # (no reporter is a device)
                terms.append(f"(s.type_id = {names[measure]} AND s.reporter_kind IN ({kinds}))")
        return " OR ".join(terms) if terms else None

    def sql(self) -> str:
        type_ids = ", ".join(str(pk) for pk in sorted(self.spellings)) or "NULL"
        events = ", ".join(self.param(kind) for kind in EVENT_TYPES)
        compared = self.baseline_condition()
        # A value's JSON in five pieces, three of them whole texts chosen per row.
        value = "trim_scale(m.reported_value)::text"
        document = " || ".join((
            self.by_type("m.type_id", lambda code: f'{{"type": {json_text(code)}, "value": "'),
            value, self.unit_json("m.type_id", "m.reported_unit", '", "unit": ',
                                  ', "taken_on": "'),
            "m.taken_on::text", self.source_json("m.reporter_kind", '", "source": ', "}"),
        ))
        baseline_columns = ""
        if compared is not None:
            unit = self.unit_json("m.type_id", "m.reported_unit", '", "unit": ', "}")
            baseline_columns = f", {value} AS value, {unit} AS unit"
        sample = (f"""
    SELECT m.prepatient_id, m.id, m.type_id, m.taken_on, m.reporter_kind,
           {document} AS doc{baseline_columns}
    FROM measurements_measurement m {self.of_version('m')}
    WHERE m.type_id IN ({type_ids}) AND m.taken_on <= %(as_of)s
          {self.recorded('m.received_at')}
      AND NOT EXISTS (SELECT FROM measurements_measurement c
                      WHERE c.supersedes_id = m.id{self.recorded('c.received_at')})""")  # noqa: S608
        baseline_values = "''"
        values_cte = ""
        if compared is not None:
            baseline_values = "coalesce(bv.doc, '')"
            values_cte = f""",
bv AS (
    SELECT s.prepatient_id,
           string_agg({self.by_type('s.type_id', lambda code: json_text(code) + ': {"value": "')}
                      || s.value || s.unit, ', ' ORDER BY s.taken_on, s.id) AS doc
    FROM (SELECT DISTINCT ON (s.prepatient_id, s.type_id) s.*
          FROM s JOIN b ON b.prepatient_id = s.prepatient_id
          WHERE s.taken_on BETWEEN b.window_start AND b.window_end AND ({compared})
          ORDER BY s.prepatient_id, s.type_id, s.taken_on, s.id) s
    GROUP BY s.prepatient_id
)"""  # noqa: S608
        return f"""
WITH l AS (
    SELECT l.prepatient_id,
           string_agg('{{"provider": "P' || l.provider_id || '", "from": "' || l.valid_from
                      || '"}}', ', ' ORDER BY l.valid_from, l.id) AS doc
    FROM registry_listing l {self.of_version('l')}
    WHERE l.valid_from <= %(as_of)s{self.recorded('l.created_at')}
    GROUP BY l.prepatient_id
),
e AS (
    SELECT e.prepatient_id,
           string_agg('{{"on": "' || e."on" || '", "type": ' || to_json(e.type)::text
                      || CASE WHEN e.type = 'excluded' THEN ', "reason": '
                              || to_json(coalesce(nullif(e.reason, ''), 'unspecified'))::text
                         ELSE '' END || '}}', ', ' ORDER BY e."on", e.id) AS doc
    FROM registry_lifecycleevent e {self.of_version('e')}
    WHERE e.type IN ({events}) AND e."on" <= %(as_of)s{self.recorded('e.created_at')}
    GROUP BY e.prepatient_id
),
s AS ({sample}
),
ms AS (
    SELECT s.prepatient_id,
           string_agg(s.doc, ', ' ORDER BY s.taken_on, s.id) AS doc
    FROM s GROUP BY s.prepatient_id
),
b AS (
    SELECT f.prepatient_id, f.window_start, f.window_end
    FROM measurements_followupdue f {self.of_version('f')}
    WHERE f.index = 0 AND f.completed_at IS NOT NULL{self.recorded('f.completed_at')}
){values_cte}
SELECT '  {{"id": ' || to_json(p.pseudonym)::text || ', "enrolled_on": "' || p.enrolled_on
       || '", "baseline": '
       || CASE WHEN b.prepatient_id IS NULL THEN 'null'
               ELSE '{{"on": "' || p.enrolled_on || '", "values": {{' || {baseline_values}
                    || '}}}}' END
       || ', "listings": [' || coalesce(l.doc, '') || '], "events": [' || coalesce(e.doc, '')
       || '], "measurements": [' || coalesce(ms.doc, '') || ']}},'
FROM registry_prepatient p
LEFT JOIN b ON b.prepatient_id = p.id
{'LEFT JOIN bv ON bv.prepatient_id = p.id' if compared is not None else ''}
LEFT JOIN l ON l.prepatient_id = p.id
LEFT JOIN e ON e.prepatient_id = p.id
LEFT JOIN ms ON ms.prepatient_id = p.id
WHERE p.programme_version_id = %(version)s AND p.enrolled_on <= %(as_of)s
  AND EXISTS (SELECT FROM registry_listing r
              WHERE r.prepatient_id = p.id{self.recorded('r.created_at')})
ORDER BY p.id"""  # noqa: S608 (every value is a parameter)


def prepatients_statement(version: ProgrammeVersion, as_of: date, cutoff: datetime | None,
                          rules: Rules, spellings: dict[int, tuple[str, dict[str, str]]]
                          ) -> tuple[str, dict[str, Any]]:
    """The statement whose rows are the file's prepatient lines (``"  {…},"``), in id
    order, with its parameters."""
    statement = _Statement(version, as_of, cutoff, rules, spellings)
    return statement.sql(), statement.params


def _settings(cursor: Any, wanted: dict[str, str]) -> dict[str, str]:
    """Sets each setting for the transaction; returns the ones it had."""
    before = {}
    for name, value in wanted.items():
        cursor.execute("SELECT current_setting(%s), set_config(%s, %s, true)",
                       [name, name, value])
        before[name] = cursor.fetchone()[0]
    return before


def input_lines(version: ProgrammeVersion, as_of: date, cutoff: datetime | None, rules: Rules,
                providers: Iterable[ProviderIn],
                spellings: dict[int, tuple[str, dict[str, str]]]) -> Iterator[str]:
    """The auditor's file as ``interchange.input_lines`` writes it, the prepatients'
    lines built and streamed by PostgreSQL (inside the caller's ``consistent_read``)."""
    head, opening, closing, end = engine_lines(as_of, rules, providers, ())
    yield head
    statement, params = prepatients_statement(version, as_of, cutoff, rules, spellings)
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg 3
        before = _settings(cursor, SETTINGS)
        yield from _streamed(cursor, statement, params, opening, closing + end)
        # Restored once the stream is whole; a stream left midway (a client that stops
        # reading) ends with an error, and the caller's transaction or savepoint rolls
        # back, with the settings.
        _settings(cursor, before)


def _streamed(cursor: Any, statement: str, params: dict[str, Any], opening: str,
              closing: str) -> Iterator[str]:
    """The rows of ``COPY (statement) TO STDOUT`` as the file's text.

    Each row is one line ``"  {…},"``; text format doubles every backslash (the lines
    hold no other character that ``COPY`` escapes: JSON escapes control characters),
    and the last line's comma gives way to the closing bracket.
    """
    buffer = bytearray()
    rows = False
    with cursor.copy(f"COPY ({statement}) TO STDOUT", params) as copy:
        for row in copy:
            if not rows:
                rows = True
                buffer += b"\n"
            buffer += row
            if len(buffer) >= PIECE_BYTES:
                yield opening + _text(buffer[:-2])
                opening = ""
                del buffer[:-2]  # the last line's ",\n" opens the next piece
    if rows:
        yield opening + _text(buffer[:-2]) + closing
    else:
        yield opening + closing


def _text(data: bytes | bytearray) -> str:
    return bytes(data).replace(b"\\\\", b"\\").decode("utf-8")
