"""The dry run of a definition: a synthetic cohort screened and included by the
definition's own checks, settled by the settlement rules on a programme that fills
its cap, against the budget."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from prevention_engine.definition import DefinitionError
from prevention_engine.dryrun import dry_run

PROGRAMMES = Path(__file__).resolve().parents[2] / "data" / "programmes"
SCORES = {"findrisc": (0, 26), "ucla3": (3, 9), "fall_history": (0, 1), "short_fes_i": (7, 28)}
RANGES = {"waist": (Decimal(40), Decimal(250)), "weight": (Decimal(30), Decimal(350))}


def shipped(code: str) -> dict:
    return json.loads((PROGRAMMES / f"{code}.json").read_text("utf-8"))


@pytest.mark.parametrize("code", ["prediabetes-2026", "obesity-2027", "activity-2027",
                                  "loneliness-2027", "falls-2027"])
def test_every_candidate_is_included_or_has_a_reason_and_the_figures_repeat(code: str) -> None:
    run = dry_run(shipped(code), score_ranges=SCORES, value_ranges=RANGES)
    assert run.included + sum(run.reasons.values()) == run.candidates
    assert 0 < run.included < run.candidates  # each definition takes some and not others
    assert run.enrolled == shipped(code)["cap"]
    assert run.total == sum(provider.amount for provider in run.providers)
    assert dry_run(shipped(code), score_ranges=SCORES, value_ranges=RANGES) == run


def test_everyone_reaching_the_outcome_pays_the_spec_s_maximum_within_the_budget() -> None:
    """SPEC §3: at most 80 % less the unpaid 10 % of 30,000 are paid, 47,000 each."""
    run = dry_run(shipped("prediabetes-2026"), score_ranges=SCORES,
                  success_share=Decimal("1"))
    assert run.successes == 30_000
    assert sum(provider.paid_count for provider in run.providers) == 21_000
    assert run.total == Decimal("987000000.00") and run.within_budget


def test_nobody_reaching_the_outcome_pays_nothing() -> None:
    run = dry_run(shipped("obesity-2027"), score_ranges=SCORES, value_ranges=RANGES,
                  success_share=Decimal("0"))
    assert (run.successes, run.total) == (0, Decimal("0.00"))


def test_a_budget_too_small_for_the_payment_rule_is_shown_as_such() -> None:
    definition = {**shipped("loneliness-2027"), "budget": "1000.00"}
    run = dry_run(definition, score_ranges=SCORES)
    assert run.total > run.budget and not run.within_budget


def test_a_definition_that_cannot_be_evaluated_is_refused_naming_the_place() -> None:
    definition = shipped("obesity-2027")
    definition["outcome"]["criteria"][0]["op"] = "below"
    with pytest.raises(DefinitionError) as refused:
        dry_run(definition, score_ranges=SCORES)
    assert refused.value.path == "outcome.criteria[0].op"
