"""The settlement benchmark's scenario works and scaling keeps the figures coherent."""

from __future__ import annotations

import os
from datetime import date

import pytest
from django.db import connection

from apps.demo.simulation import simulate_programme
from apps.settlements.models import ProviderLine, SettlementRun
from benchmarks.settlement import run_settlement_case, scale_programme

pytestmark = pytest.mark.django_db


def test_the_settlement_benchmark_runs_and_scaling_multiplies_the_programme(programme) -> None:
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but the tests do not run on PostgreSQL")
        pytest.skip("the benchmark's database path and scaling need PostgreSQL")
    programme.min_attributed = 3
    programme.save()
    simulate_programme(programme=programme, prepatients=30, seed=3, out=lambda _l: None)
    as_of = date(2029, 3, 1)
    small = run_settlement_case(programme, as_of, out=lambda _l: None)
    assert small["recompute_agrees"] and small["lines"] == small["prepatients"] == 30
    before = {line.provider_id: line.attributed for line in ProviderLine.objects.filter(
        run=SettlementRun.objects.latest("pk"))}
    assert scale_programme(programme, 60, out=lambda _l: None) == 60
    large = run_settlement_case(programme, as_of, out=lambda _l: None)
    assert large["recompute_agrees"] and large["lines"] == 60
    after = {line.provider_id: line.attributed for line in ProviderLine.objects.filter(
        run=SettlementRun.objects.latest("pk"))}
    assert after == {provider: 2 * count for provider, count in before.items()}
