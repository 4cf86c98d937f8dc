"""The evaluation of a whole programme in one SQL statement (PostgreSQL).

It applies the same rules as ``apps.settlements.rules.evaluate_prepatient`` to
the same data that ``apps.settlements.export.settlement_input`` exports, and
writes one ``PrepatientLine`` per enrolled prepatient with ``INSERT … SELECT``:
window functions for exclusions cancelled by a reinstatement, ``DISTINCT ON``
for the earliest terminal event, ``LATERAL`` subqueries for attribution and the
deciding sample. Tests check it line by line against the rule engine.

Exclusions and reinstatements alternate in this database (a prepatient can be
excluded only while active and reinstated only while excluded), so "a
reinstatement cancels the latest exclusion" is "an exclusion whose next
exclusion-or-reinstatement event is a reinstatement".
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from apps.measurements.models import MeasurementType
from apps.programs.models import Programme

EVALUATE_SQL = """
WITH p AS (
    SELECT id, pseudonym, end_date
    FROM registry_prepatient
    WHERE programme_id = %(programme)s AND enrolled_on IS NOT NULL
      AND enrolled_on <= %(as_of)s
),
ev AS (
    SELECT e.id, e.prepatient_id, e.type, e."on", e.reason
    FROM registry_lifecycleevent e JOIN p ON p.id = e.prepatient_id
    WHERE e."on" <= %(as_of)s
),
excl AS (
    SELECT id, prepatient_id, type, "on", reason,
           LEAD(type) OVER (PARTITION BY prepatient_id ORDER BY "on", id) AS next_type
    FROM ev WHERE type IN ('excluded', 'reinstated')
),
terminal AS (
    SELECT DISTINCT ON (t.prepatient_id) t.prepatient_id, t.type, t."on", t.reason
    FROM (
        SELECT id, prepatient_id, type, "on", reason FROM ev
        WHERE type IN ('dropped_out', 'consent_withdrawn')
        UNION ALL
        SELECT id, prepatient_id, type, "on", reason FROM excl
        WHERE type = 'excluded' AND next_type IS DISTINCT FROM 'reinstated'
    ) t JOIN p ON p.id = t.prepatient_id
    WHERE t."on" <= p.end_date
    ORDER BY t.prepatient_id, t."on", t.id
),
deceased AS (
    SELECT DISTINCT ev.prepatient_id FROM ev JOIN p ON p.id = ev.prepatient_id
    WHERE ev.type = 'deceased' AND ev."on" <= p.end_date
),
baseline AS (
    SELECT f.prepatient_id FROM measurements_followupdue f JOIN p ON p.id = f.prepatient_id
    WHERE f.index = 0 AND f.completed_at IS NOT NULL
),
decided AS (
    SELECT
        p.id, p.pseudonym, p.end_date,
        (d.prepatient_id IS NOT NULL) AS is_deceased,
        (b.prepatient_id IS NOT NULL) AS has_baseline,
        t.type AS terminal_type, t."on" AS terminal_on, t.reason AS terminal_reason,
        s.id AS sample_id, s.taken_on AS sample_taken_on, s.value AS sample_value
    FROM p
    LEFT JOIN deceased d ON d.prepatient_id = p.id
    LEFT JOIN baseline b ON b.prepatient_id = p.id
    LEFT JOIN terminal t ON t.prepatient_id = p.id
    LEFT JOIN LATERAL (
        SELECT m.id, m.taken_on, m.value
        FROM measurements_measurement m
        WHERE m.prepatient_id = p.id AND m.type_id = %(outcome_type)s
          AND m.reporter_kind = 'lab' AND m.taken_on <= %(as_of)s
          AND m.taken_on BETWEEN p.end_date - %(window)s AND p.end_date + %(window)s
          AND NOT EXISTS (SELECT 1 FROM measurements_measurement c WHERE c.supersedes_id = m.id)
        ORDER BY abs(m.taken_on - p.end_date), m.taken_on DESC, m.id
        LIMIT 1
    ) s ON TRUE
),
judged AS (
    SELECT decided.*,
        CASE
            WHEN is_deceased OR NOT has_baseline THEN 'excluded'
            WHEN terminal_type IS NOT NULL THEN 'failure'
            WHEN %(as_of)s < end_date + %(window)s THEN 'pending'
            WHEN sample_id IS NULL THEN 'failure'
            WHEN sample_value >= %(below)s THEN 'failure'
            ELSE 'success'
        END AS result,
        CASE
            WHEN is_deceased THEN 'deceased'
            WHEN NOT has_baseline THEN 'no_baseline'
            WHEN terminal_type = 'excluded' THEN 'excluded:' || terminal_reason
            WHEN terminal_type IS NOT NULL THEN terminal_type
            WHEN %(as_of)s < end_date + %(window)s THEN 'not_yet_due'
            WHEN sample_id IS NULL THEN 'no_outcome_sample'
            WHEN sample_value >= %(below)s THEN 'above_target'
            ELSE 'below_target'
        END AS reason,
        CASE
            WHEN is_deceased OR NOT has_baseline THEN NULL
            WHEN terminal_type IS NOT NULL THEN terminal_on
            WHEN %(as_of)s < end_date + %(window)s THEN %(as_of)s
            ELSE end_date
        END AS attributed_on
    FROM decided
)
INSERT INTO settlements_prepatientline
    (run_id, prepatient_id, pseudonym, provider_id, result, reason, end_date,
     deciding_measurement_id, deciding_taken_on, deciding_value, deciding_unit)
SELECT
    %(run)s, j.id, j.pseudonym, l.provider_id, j.result, j.reason, j.end_date,
    CASE WHEN j.reason IN ('below_target', 'above_target') THEN j.sample_id END,
    CASE WHEN j.reason IN ('below_target', 'above_target') THEN j.sample_taken_on END,
    CASE WHEN j.reason IN ('below_target', 'above_target') THEN j.sample_value END,
    CASE WHEN j.reason IN ('below_target', 'above_target') THEN %(unit)s ELSE '' END
FROM judged j
LEFT JOIN LATERAL (
    SELECT li.provider_id FROM registry_listing li
    WHERE li.prepatient_id = j.id AND li.valid_from <= j.attributed_on
      AND li.valid_from <= %(as_of)s
    ORDER BY li.valid_from DESC, li.id DESC
    LIMIT 1
) l ON j.attributed_on IS NOT NULL
"""


def evaluate_in_sql(*, run_id: int, programme: Programme, as_of: date) -> int:
    """Inserts the run's prepatient lines; returns how many."""
    outcome = MeasurementType.objects.get(code=programme.outcome_measure)
    with connection.cursor() as cursor:
        cursor.execute(EVALUATE_SQL, {
            "programme": programme.pk, "as_of": as_of, "run": run_id,
            "outcome_type": outcome.pk, "window": programme.outcome_window_days,
            "below": programme.outcome_below, "unit": outcome.canonical_unit,
        })
        return cursor.rowcount
