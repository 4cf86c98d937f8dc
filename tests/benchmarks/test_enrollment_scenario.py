"""The enrollment benchmark's scenario runs on generated programmes and leaves them as
they were."""

from __future__ import annotations

import os
import re

import pytest
from django.db import connection

from apps.registry.models import Prepatient, ReferralCode
from benchmarks import enrollment_scale
from benchmarks.settlement_scale import generate

pytestmark = pytest.mark.django_db


def test_the_enrollment_benchmark_times_both_sizes_and_rolls_back(programme) -> None:
    if connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but the tests do not run on PostgreSQL")
        pytest.skip("the generator writes with COPY, which needs PostgreSQL")
    sizes = [generate(code=f"bench-{index}-{size}", prepatients=size, seed=index,
                      out=lambda _l: None) for index, size in enumerate((20, 40))]
    before = Prepatient.objects.count()
    lines: list[str] = []
    report = enrollment_scale.run_scenario(sizes, out=lines.append)
    assert "20 enrolled (the stored count said 0)" in "\n".join(lines)  # written by COPY
    assert "Enrollment 40 / 20:" in report and "target ≤ 1.2×" in report
    same = re.search(r"queries per enrollment (\d+) and (\d+)", report)
    assert same is not None and same[1] == same[2]  # as many queries at either size
    assert Prepatient.objects.count() == before and not ReferralCode.objects.exists()
    for generated in sizes:
        generated.programme.refresh_from_db()
        assert (generated.programme.cap, generated.programme.enrolled_count) == (
            generated.prepatients, 0)
