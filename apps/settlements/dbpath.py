"""The evaluation of a whole programme in one SQL statement (PostgreSQL).

``settlement_sql(rules, …)`` writes, from a programme's rules (the rule engine's
``Rules``: outcome criteria, disqualifiers, conversions, windows), one
``INSERT … SELECT`` that applies ``prevention_engine.evaluation.evaluate`` to the
same data that ``apps.settlements.export`` exports, and stores one
``PrepatientLine`` per prepatient with the same result, reason, attribution and
evidence. A test generates random histories and compares the two line by line.

How each rule reads in SQL:

- **End date**: ``enrolled_on + N months`` (PostgreSQL clamps to the month's end,
  as ``add_months`` does).
- **Terminal event**: among the events on or before the end, a reinstatement
  cancels the latest exclusion not yet cancelled. With ``S`` the running count of
  exclusions minus reinstatements (ordered by day, then id), the depth of the
  stack of standing exclusions is ``S − min(0, min S so far)``; an exclusion is
  cancelled exactly when the depth later falls below its own. The earliest of the
  remaining exclusions, withdrawals and dropping-outs (``DISTINCT ON``) decides.
- **Samples**: current values (not corrected by the cutoff) of the measures the
  rules name, recorded by the run's cutoff, each converted with the programme's
  conversions and rounded half-even to 4 places (``settlement_round4``).
- **Criteria**: ``closest`` is a ``DISTINCT ON`` ordered by distance to the end,
  then the later day, then the later id; ``mean`` an ``avg`` rounded half-even.
- **Disqualifiers**: the earliest qualifying sample from enrollment to the end of
  the outcome window (``DISTINCT ON``).
- **Attribution**: each listing lasts from its start to the next one's (``lead``); the
  line takes the listing whose span holds the day that decides (a hash join). Of two
  listings starting on one day the later id wins, as the engine's "the later given".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from apps.measurements.models import SOURCE_OF, MeasurementType
from apps.settlements.models import SettlementRun
from apps.settlements.rules import run_version, settlement_rules
from prevention_engine.baseline import baseline_sources
from prevention_engine.interchange import plain
from prevention_engine.model import EVENT_TYPES, Criterion, Disqualifier, Rules

OPERATOR_SQL = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _literal(text: str) -> str:
    """A SQL string literal for a value of the programme's own rules (never user input
    sent over the wire: codes, units and reasons that the programme validates)."""
    # Doubled % because the statement is sent with %(name)s parameters.
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _number(value: Decimal) -> str:
    return f"{plain(value)}::numeric"


class _Types:
    """Measurement type ids, and the SQL for units and converted values.

    Each (measure, unit) a rule compares in gets one column of the samples, ``v<k>``:
    the value in that unit, as reported or converted and rounded, computed once per
    sample however many rules read it.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.kinds = {kind.code: kind for kind in
                      MeasurementType.objects.filter(code__in=rules.measures)
                      .prefetch_related("units")}
        self.targets = list(dict.fromkeys((rule.measure, rule.unit)
                                          for rule in rules.outcome_rules))

    def id(self, measure: str) -> int:
        return self.kinds[measure].pk

    def column(self, measure: str, unit: str) -> str:
        return f"v{self.targets.index((measure, unit))}"

    def unit_sql(self, column: str = "m.reported_unit") -> str:
        """The reported unit in the spelling the programme's conversions use; a unit
        already spelled so (nearly all) is taken as it is."""
        spelled: set[str] = set()
        branches: list[str] = []
        for kind in self.kinds.values():
            spellings = {kind.canonical_unit.strip().casefold(): kind.canonical_unit}
            for accepted in kind.units.all():
                spellings.setdefault(accepted.unit.strip().casefold(), accepted.unit)
            spelled.update(spellings.values())
            for folded, spelling in sorted(spellings.items()):
                branches.append(f"WHEN m.type_id = {kind.pk} AND lower(btrim({column})) = "
                                f"{_literal(folded)} THEN {_literal(spelling)}")
        if not branches:
            return column
        exact = ", ".join(_literal(unit) for unit in sorted(spelled))
        return f"CASE WHEN {column} IN ({exact}) THEN {column} {' '.join(branches)} " \
               f"ELSE {column} END"

    def converted_sql(self, measure: str, to_unit: str, value: str, unit: str) -> str:
        """``value`` in ``to_unit``: as reported in that unit, else converted and rounded."""
        branches = [f"WHEN {_literal(to_unit)} THEN {value}"]
        for conversion in self.rules.conversions:
            if conversion.measure == measure and conversion.to_unit == to_unit:
                computed = (f"({value} + {_number(conversion.offset)}) * "
                            f"{_number(conversion.factor)}")
                if self.rules.rounding:
                    computed = f"settlement_round4({computed})"
                branches.append(f"WHEN {_literal(conversion.from_unit)} THEN {computed}")
        return f"(CASE {unit} {' '.join(branches)} END)"

    def value_columns(self) -> str:
        return ", ".join(
            f"CASE WHEN m.type_id = {self.id(measure)} THEN "
            f"{self.converted_sql(measure, unit, 'm.value', 'm.unit')} END "
            f"AS {self.column(measure, unit)}"
            for measure, unit in self.targets)


def _sources(sources: Iterable[str]) -> str:
    return ", ".join(_literal(source) for source in sorted(sources))


def _text(value: str) -> str:
    """A value as reported, as the file writes it (no trailing zeros)."""
    return f"trim_scale({value})::text"


def _sample_json(alias: str) -> str:
    return (f"jsonb_build_object('taken_on', to_char({alias}.taken_on, 'YYYY-MM-DD'), "
            f"'value', {_text(alias + '.value')}, 'unit', {alias}.unit, "
            f"'measurement', {alias}.id)")


def _quantity_text(alias: str, unit: str, quantity: str) -> str:
    """As reported when the sample is in the compared unit, else with 4 decimals."""
    return (f"CASE WHEN {alias}.unit = {_literal(unit)} THEN {_text(alias + '.value')} "
            f"ELSE ({quantity})::text END")


def _criterion_ctes(index: int, criterion: Criterion, types: _Types) -> list[str]:
    """The CTEs of one criterion: its samples' aggregate, then compared and judged."""
    name = f"c{index}"
    value = f"s.{types.column(criterion.measure, criterion.unit)}"
    where = (f"s.type_id = {types.id(criterion.measure)} "
             f"AND s.source IN ({_sources(criterion.sources)}) "
             f"AND s.taken_on BETWEEN s.end_date - %(window)s AND s.end_date + %(window)s")
    if criterion.aggregate == "closest":
        aggregate = f"""
{name}_agg AS (
    SELECT DISTINCT ON (s.prepatient_id) s.prepatient_id, s.id, s.taken_on, s.value, s.unit,
           {value} AS q
    FROM s
    WHERE {where}
    ORDER BY s.prepatient_id, abs(s.taken_on - s.end_date), s.taken_on DESC, s.id DESC
)"""
        samples = f"jsonb_build_array({_sample_json('a')})"
        value_text = _quantity_text("a", criterion.unit, "a.q")
    else:
        aggregate = f"""
{name}_agg AS (
    SELECT s.prepatient_id, settlement_round4(avg({value})) AS q,
           jsonb_agg({_sample_json('s')} ORDER BY s.taken_on, s.id) AS samples
    FROM s
    WHERE {where}
    GROUP BY s.prepatient_id
)"""
        samples = "a.samples"
        value_text = "a.q::text"
    if criterion.compare == "value":
        quantity, text, baseline_text, join = "a.q", value_text, "NULL::text", ""
    else:
        bv = f"bv_{types.id(criterion.measure)}"
        baseline = f"bv.{types.column(criterion.measure, criterion.unit)}"
        baseline_text = _quantity_text("bv", criterion.unit, baseline)
        if criterion.compare == "change":
            quantity = f"settlement_round4(a.q - {baseline})"
        else:
            quantity = f"settlement_round4((a.q - {baseline}) * 100 / {baseline})"
        text = f"({quantity})::text"
        join = f"LEFT JOIN {bv} bv ON bv.prepatient_id = p.id"
    met = (f"CASE WHEN a.prepatient_id IS NOT NULL THEN {quantity} "
           f"{OPERATOR_SQL[criterion.op]} {_number(criterion.threshold)} ELSE FALSE END")
    judged = f"""
{name} AS (
    SELECT p.id AS prepatient_id, a.prepatient_id IS NOT NULL AS sampled, {met} AS met,
           jsonb_build_object(
               'rule', 'criterion', 'measure', {_literal(criterion.measure)},
               'unit', {_literal(criterion.unit)}, 'op', {_literal(criterion.op)},
               'threshold', {_literal(plain(criterion.threshold))},
               'aggregate', {_literal(criterion.aggregate)},
               'compare', {_literal(criterion.compare)},
               'quantity', CASE WHEN a.prepatient_id IS NOT NULL THEN {text} END,
               'baseline', {baseline_text},
               'samples', CASE WHEN a.prepatient_id IS NOT NULL THEN {samples}
                               ELSE '[]'::jsonb END,
               'met', {met}
           ) AS evidence
    FROM p LEFT JOIN {name}_agg a ON a.prepatient_id = p.id
    {join}
)"""
    return [aggregate, judged]


def _baseline_ctes(rules: Rules, types: _Types) -> list[str]:
    """Per measure compared with the baseline: its earliest sample in the baseline window."""
    ctes = []
    for measure, sources in sorted(baseline_sources(rules).items()):
        columns = ", ".join(f"s.{types.column(m, u)}" for m, u in types.targets if m == measure)
        ctes.append(f"""
bv_{types.id(measure)} AS (
    SELECT DISTINCT ON (s.prepatient_id) s.prepatient_id, s.value, s.unit, {columns}
    FROM s JOIN b ON b.prepatient_id = s.prepatient_id
    WHERE s.type_id = {types.id(measure)} AND s.source IN ({_sources(sources)})
      AND s.taken_on BETWEEN b.window_start AND b.window_end
    ORDER BY s.prepatient_id, s.taken_on, s.id
)""")
    return ctes


def _disqualifier_cte(index: int, disqualifier: Disqualifier, types: _Types) -> str:
    value = f"s.{types.column(disqualifier.measure, disqualifier.unit)}"
    return f"""
d{index} AS (
    SELECT a.prepatient_id,
           jsonb_build_array(jsonb_build_object(
               'rule', 'disqualifier', 'measure', {_literal(disqualifier.measure)},
               'unit', {_literal(disqualifier.unit)}, 'op', {_literal(disqualifier.op)},
               'threshold', {_literal(plain(disqualifier.threshold))},
               'reason', {_literal(disqualifier.reason)},
               'quantity', {_quantity_text("a", disqualifier.unit, "a.q")},
               'baseline', NULL, 'met', TRUE,
               'samples', jsonb_build_array({_sample_json('a')}))) AS evidence
    FROM (
        SELECT DISTINCT ON (s.prepatient_id) s.prepatient_id, s.id, s.taken_on, s.value,
               s.unit, {value} AS q
        FROM s
        WHERE s.type_id = {types.id(disqualifier.measure)}
          AND s.source IN ({_sources(disqualifier.sources)})
          AND s.taken_on BETWEEN s.enrolled_on AND s.end_date + %(window)s
          AND {value} {OPERATOR_SQL[disqualifier.op]} {_number(disqualifier.threshold)}
        ORDER BY s.prepatient_id, s.taken_on, s.id
    ) a
)"""


def _source_sql() -> str:
    branches = " ".join(f"WHEN {_literal(kind.value)} THEN {_literal(source)}"
                        for kind, source in SOURCE_OF.items())
    return f"CASE m.reporter_kind {branches} END"


def settlement_sql(rules: Rules) -> str:
    """The statement for a programme version's rules; parameters: version, as_of, cutoff, run,
    window (days), months."""
    types = _Types(rules)
    measures = ", ".join(str(types.id(m)) for m in sorted(rules.measures))
    criteria = list(enumerate(rules.criteria))
    disqualifiers = list(enumerate(rules.disqualifiers))
    baseline_measures = sorted(baseline_sources(rules))
    ctes = ["""
p AS MATERIALIZED (
    SELECT pp.id, pp.pseudonym, pp.enrolled_on,
           (pp.enrolled_on + make_interval(months => %(months)s))::date AS end_date
    FROM registry_prepatient pp
    WHERE pp.programme_version_id = %(version)s AND pp.enrolled_on IS NOT NULL
      AND pp.enrolled_on <= %(as_of)s
      AND EXISTS (SELECT 1 FROM registry_listing l
                  WHERE l.prepatient_id = pp.id AND l.created_at <= %(cutoff)s)
)""", f"""
ev AS MATERIALIZED (
    SELECT e.id, e.prepatient_id, e.type, e."on",
           CASE WHEN e.reason = '' THEN 'unspecified' ELSE e.reason END AS reason
    FROM registry_lifecycleevent e JOIN p ON p.id = e.prepatient_id
    WHERE e.type IN ({_sources(EVENT_TYPES)}) AND e."on" <= %(as_of)s
      AND e.created_at <= %(cutoff)s AND e."on" <= p.end_date
)""", """
running AS (
    SELECT id, prepatient_id, type, "on", reason,
           SUM(CASE WHEN type = 'excluded' THEN 1 ELSE -1 END)
               OVER (PARTITION BY prepatient_id ORDER BY "on", id ROWS UNBOUNDED PRECEDING) AS total
    FROM ev WHERE type IN ('excluded', 'reinstated')
)""", """
depth AS (
    SELECT id, prepatient_id, type, "on", reason,
           total - LEAST(0, MIN(total) OVER (PARTITION BY prepatient_id ORDER BY "on", id
                                             ROWS UNBOUNDED PRECEDING)) AS depth
    FROM running
)""", """
standing AS (
    SELECT id, prepatient_id, type, "on", reason FROM (
        SELECT id, prepatient_id, type, "on", reason, depth,
               MIN(depth) OVER (PARTITION BY prepatient_id ORDER BY "on", id
                                ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later
        FROM depth
    ) x WHERE type = 'excluded' AND (later IS NULL OR later >= depth)
)""", """
terminal AS (
    SELECT DISTINCT ON (prepatient_id) prepatient_id, type, "on", reason
    FROM (SELECT id, prepatient_id, type, "on", reason FROM ev
          WHERE type IN ('dropped_out', 'consent_withdrawn')
          UNION ALL SELECT id, prepatient_id, type, "on", reason FROM standing) t
    ORDER BY prepatient_id, "on", id
)""", """
deceased AS (
    SELECT prepatient_id, MIN("on") AS "on" FROM ev WHERE type = 'deceased'
    GROUP BY prepatient_id
)""", """
b AS (
    SELECT f.prepatient_id, f.window_start, f.window_end
    FROM measurements_followupdue f JOIN p ON p.id = f.prepatient_id
    WHERE f.index = 0 AND f.completed_at <= %(cutoff)s
)""", f"""
s AS MATERIALIZED (
    SELECT m.id, m.prepatient_id, m.type_id, m.taken_on, m.value, m.unit, m.source,
           m.enrolled_on, m.end_date, {types.value_columns()}
    FROM (
        SELECT m.id, m.prepatient_id, m.type_id, m.taken_on, m.reported_value AS value,
               {types.unit_sql()} AS unit, {_source_sql()} AS source, p.enrolled_on,
               p.end_date
        FROM measurements_measurement m JOIN p ON p.id = m.prepatient_id
        WHERE m.type_id IN ({measures}) AND m.taken_on <= %(as_of)s
          AND m.received_at <= %(cutoff)s
          AND m.id NOT IN (SELECT c.supersedes_id FROM measurements_measurement c
                           WHERE c.supersedes_id IS NOT NULL
                             AND c.received_at <= %(cutoff)s)
    ) m
)"""]
    ctes += _baseline_ctes(rules, types)
    for index, disqualifier in disqualifiers:
        ctes.append(_disqualifier_cte(index, disqualifier, types))
    for index, criterion in criteria:
        ctes += _criterion_ctes(index, criterion, types)

    no_baseline = " OR ".join(
        ["b.prepatient_id IS NULL"]
        + [f"bv_{types.id(m)}.prepatient_id IS NULL" for m in baseline_measures])
    result, reason, evidence = [], [], []
    for index, disqualifier in disqualifiers:
        result.append(f"WHEN d{index}.prepatient_id IS NOT NULL THEN 'failure'")
        reason.append(f"WHEN d{index}.prepatient_id IS NOT NULL "
                      f"THEN {_literal('disqualified:' + disqualifier.reason)}")
        evidence.append(f"WHEN d{index}.prepatient_id IS NOT NULL THEN d{index}.evidence")
    for index, criterion in criteria:
        result.append(f"WHEN NOT c{index}.met THEN 'failure'")
        reason.append(f"WHEN NOT c{index}.sampled "
                      f"THEN {_literal('no_outcome_sample:' + criterion.measure)} "
                      f"WHEN NOT c{index}.met "
                      f"THEN {_literal('target_not_met:' + criterion.measure)}")
    all_criteria = ", ".join(f"c{index}.evidence" for index, _c in criteria)
    joins = "\n    ".join(
        [f"LEFT JOIN bv_{types.id(m)} ON bv_{types.id(m)}.prepatient_id = p.id"
         for m in baseline_measures]
        + [f"LEFT JOIN d{i} ON d{i}.prepatient_id = p.id" for i, _d in disqualifiers]
        + [f"JOIN c{i} ON c{i}.prepatient_id = p.id" for i, _c in criteria])
    ctes.append(f"""
judged AS (
    SELECT p.id, p.pseudonym, p.end_date,
        CASE WHEN deceased.prepatient_id IS NOT NULL THEN 'excluded'
             WHEN {no_baseline} THEN 'excluded'
             WHEN terminal.prepatient_id IS NOT NULL THEN 'failure'
             WHEN %(as_of)s < p.end_date + %(window)s THEN 'pending'
             {' '.join(result)}
             ELSE 'success' END AS result,
        CASE WHEN deceased.prepatient_id IS NOT NULL THEN 'deceased'
             WHEN {no_baseline} THEN 'no_baseline'
             WHEN terminal.type = 'excluded' THEN 'excluded:' || terminal.reason
             WHEN terminal.prepatient_id IS NOT NULL THEN terminal.type
             WHEN %(as_of)s < p.end_date + %(window)s THEN 'not_yet_due'
             {' '.join(reason)}
             ELSE 'target_met' END AS reason,
        CASE WHEN deceased.prepatient_id IS NOT NULL OR {no_baseline} THEN NULL
             WHEN terminal.prepatient_id IS NOT NULL THEN terminal."on"
             WHEN %(as_of)s < p.end_date + %(window)s THEN %(as_of)s
             ELSE p.end_date END AS attributed_on,
        CASE WHEN deceased.prepatient_id IS NOT NULL THEN deceased."on"
             WHEN {no_baseline} THEN NULL
             ELSE terminal."on" END AS decided_on,
        CASE WHEN deceased.prepatient_id IS NOT NULL OR {no_baseline}
                  OR terminal.prepatient_id IS NOT NULL
                  OR %(as_of)s < p.end_date + %(window)s THEN '[]'::jsonb
             {' '.join(evidence)}
             ELSE jsonb_build_array({all_criteria}) END AS evidence
    FROM p
    LEFT JOIN deceased ON deceased.prepatient_id = p.id
    LEFT JOIN b ON b.prepatient_id = p.id
    LEFT JOIN terminal ON terminal.prepatient_id = p.id
    {joins}
)""")
    ctes.append("""
listed AS (
    SELECT li.prepatient_id, li.provider_id, li.valid_from,
           lead(li.valid_from) OVER (PARTITION BY li.prepatient_id
                                     ORDER BY li.valid_from, li.id) AS valid_to
    FROM registry_listing li JOIN p ON p.id = li.prepatient_id
    WHERE li.valid_from <= %(as_of)s AND li.created_at <= %(cutoff)s
)""")
    ctes.append("""
written AS (
    INSERT INTO settlements_prepatientline
        (run_id, prepatient_id, pseudonym, provider_id, result, reason, end_date, decided_on,
         evidence)
    SELECT %(run)s, j.id, j.pseudonym, l.provider_id, j.result, j.reason, j.end_date,
           j.decided_on, j.evidence
    FROM judged j
    LEFT JOIN listed l
      ON l.prepatient_id = j.id AND l.valid_from <= j.attributed_on
     AND (l.valid_to IS NULL OR l.valid_to > j.attributed_on)
    RETURNING provider_id, result
)""")
    return "WITH" + ",".join(ctes) + """
SELECT provider_id, count(*) FILTER (WHERE result = 'success'),
       count(*) FILTER (WHERE result = 'failure'), count(*) FILTER (WHERE result = 'pending'),
       count(*)
FROM written GROUP BY provider_id
"""


def evaluation_parameters(run: SettlementRun, rules: Rules) -> dict[str, Any]:
    return {"version": run_version(run).pk, "as_of": run.as_of, "cutoff": run.data_cutoff,
            "run": run.pk, "window": rules.window_days, "months": rules.programme_months}


@dataclass(frozen=True)
class Written:
    """What the statement wrote: the number of lines and, per attributed provider id,
    its successes, failures and pending prepatients."""

    lines: int
    counts: dict[int, tuple[int, int, int]]


def evaluate_in_sql(*, run: SettlementRun) -> Written:
    """Inserts the run's prepatient lines in one statement, which also counts them."""
    rules = settlement_rules(run_version(run))
    with connection.cursor() as cursor:
        # One big statement read whole: no JIT compilation, sorts and hashes in memory,
        # and hash joins only: the planner picks nested loops for CTEs it thinks are
        # tiny, and merge joins that spill the 3,000,000 samples of a national run to
        # disk to keep them in order.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        cursor.execute(settlement_sql(rules), evaluation_parameters(run, rules))
        rows = cursor.fetchall()
    return Written(lines=sum(row[4] for row in rows),
                   counts={row[0]: (row[1], row[2], row[3]) for row in rows
                           if row[0] is not None})
