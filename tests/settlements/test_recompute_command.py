from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

PROGRAMME = {
    "code": "prediabetes-2026", "programme_months": 24, "switch_months": 18,
    "outcome_measure": "hba1c", "outcome_below": "42", "outcome_unit": "mmol/mol",
    "outcome_window_days": 30, "payment_per_success": "47000.00", "currency": "SEK",
    "floor_share": "0.10", "ceiling_share": "0.80", "min_attributed": 50,
}


def one_provider_programme(n: int, successes: int) -> dict[str, Any]:
    return {
        "format": "prevention-settlement-input/1", "as_of": "2028-06-30",
        "programme": PROGRAMME, "providers": [{"id": "P1", "name": "Provider One"}],
        "prepatients": [
            {"id": f"pp-{i:06d}", "enrolled_on": "2026-02-01", "baseline": True,
             "listings": [{"provider": "P1", "from": "2026-02-01"}], "events": [],
             "measurements": [{"type": "hba1c", "value": "40" if i < successes else "45",
                               "unit": "mmol/mol", "taken_on": "2028-02-03", "source": "lab"}]}
            for i in range(n)
        ],
    }


def recompute(tmp_path: Path, document: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(document))
    out = io.StringIO()
    call_command("settlement_recompute", str(path), stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("share,paid,total", [
    (30, 6_000, "282000000.00"), (50, 12_000, "564000000.00"),
    (80, 21_000, "987000000.00"), (100, 21_000, "987000000.00"),
])
def test_the_programme_table_is_reproduced_from_a_file(tmp_path: Path, share: int, paid: int,
                                                       total: str) -> None:
    result = recompute(tmp_path, one_provider_programme(30_000, 30_000 * share // 100))
    provider = result["providers"][0]
    assert provider["attributed"] == 30_000
    assert provider["successes"] == 30_000 * share // 100
    assert provider["paid_count"] == paid
    assert provider["amount"] == total == result["total_amount"]
    assert provider["final"] is True and provider["eligible"] is True


def test_the_result_follows_the_format(tmp_path: Path) -> None:
    document = one_provider_programme(2, 1)
    document["prepatients"][1]["events"] = [
        {"on": "2027-05-01", "type": "excluded", "reason": "missed_followup"}]
    path = tmp_path / "input.json"
    raw = json.dumps(document).encode()
    path.write_bytes(raw)
    out_path = tmp_path / "result.json"
    call_command("settlement_recompute", str(path), "--out", str(out_path))
    result = json.loads(out_path.read_text())
    assert result["format"] == "prevention-settlement-result/1"
    assert result["input_sha256"] == hashlib.sha256(raw).hexdigest()
    assert result["prepatients"] == [
        {"id": "pp-000000", "provider": "P1", "result": "success", "reason": "below_target",
         "deciding_sample": {"taken_on": "2028-02-03", "value": "40", "unit": "mmol/mol"}},
        {"id": "pp-000001", "provider": "P1", "result": "failure",
         "reason": "excluded:missed_followup", "deciding_sample": None},
    ]
    assert result["providers"][0] | {} == {
        "id": "P1", "attributed": 2, "successes": 1, "failures": 1, "pending": 0,
        "final": True, "eligible": False, "paid_count": 0, "amount": "0.00"}


def _broken(change) -> dict[str, Any]:
    document = copy.deepcopy(one_provider_programme(4, 2))
    change(document)
    return document


@pytest.mark.parametrize("change,message", [
    (lambda d: d["prepatients"][3]["listings"][0].update({"from": "2026-02-30"}),
     "prepatients[3].listings[0].from: not a date"),
    (lambda d: d["prepatients"][1]["measurements"][0].update({"value": 40}),
     "prepatients[1].measurements[0].value: not a decimal string"),
    (lambda d: d["prepatients"][0]["measurements"][0].update({"unit": "mg/dL"}),
     "prepatients[0].measurements[0].unit: not one of %, mmol/mol"),
    (lambda d: d["prepatients"][2]["events"].append({"on": "2027-01-01", "type": "excluded"}),
     "prepatients[2].events[0].reason: missing"),
    (lambda d: d["prepatients"][0]["listings"].append({"provider": "P9", "from": "2027-01-01"}),
     "prepatients[0].listings[1].provider: unknown provider 'P9'"),
    (lambda d: d["prepatients"][0]["listings"].append({"provider": "P1", "from": "2027-08-02"}),
     "prepatients[0].listings[1].from: starts after the switching window"),
    (lambda d: d.update({"format": "something-else"}), "format: not prevention-settlement"),
    (lambda d: d["programme"].pop("floor_share"), "programme.floor_share: missing"),
])
def test_invalid_input_exits_2_naming_the_offending_path(tmp_path: Path, capsys, change,
                                                         message: str) -> None:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(_broken(change)))
    with pytest.raises(SystemExit) as exit_:
        call_command("settlement_recompute", str(path))
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_listing_on_the_last_day_of_the_switching_window_is_accepted(tmp_path: Path) -> None:
    document = one_provider_programme(1, 1)
    document["providers"].append({"id": "P2", "name": "Two"})
    document["prepatients"][0]["listings"].append({"provider": "P2", "from": "2027-08-01"})
    assert recompute(tmp_path, document)["prepatients"][0]["provider"] == "P2"


def test_not_json_exits_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "input.json"
    path.write_text("{nope")
    with pytest.raises(SystemExit) as exit_:
        call_command("settlement_recompute", str(path))
    assert exit_.value.code == 2
    assert "not valid JSON" in capsys.readouterr().err
