"""Recomputing from a file: ``python -m prevention_engine recompute`` and
``manage.py settlement_recompute``, versions 2 and 1 of the format."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

PROGRAMME_V2 = {
    "code": "prediabetes-2026", "programme_months": 24, "switch_months": 18,
    "outcome": {
        "window_days": 30,
        "criteria": [{"measure": "hba1c", "unit": "mmol/mol", "sources": ["lab"],
                      "aggregate": "closest", "compare": "value", "op": "lt",
                      "threshold": "42"}],
        "disqualifiers": [{"measure": "hba1c", "unit": "mmol/mol", "sources": ["lab"],
                           "op": "ge", "threshold": "48", "reason": "developed_diabetes"}],
    },
    "conversions": [{"measure": "hba1c", "from": "%", "to": "mmol/mol", "offset": "-2.15",
                     "factor": "10.929"}],
    "payment": {"per_success": "47000.00", "currency": "SEK", "floor_share": "0.10",
                "ceiling_share": "0.80", "min_attributed": 50},
}
PROGRAMME_V1 = {
    "code": "prediabetes-2026", "programme_months": 24, "switch_months": 18,
    "outcome_measure": "hba1c", "outcome_below": "42", "outcome_unit": "mmol/mol",
    "outcome_window_days": 30, "payment_per_success": "47000.00", "currency": "SEK",
    "floor_share": "0.10", "ceiling_share": "0.80", "min_attributed": 50,
}


def one_provider_programme(n: int, successes: int, version: int = 2) -> dict[str, Any]:
    def baseline() -> Any:
        return {"on": "2026-02-01", "values": {}} if version == 2 else True

    return {
        "format": f"prevention-settlement-input/{version}", "as_of": "2028-06-30",
        "programme": PROGRAMME_V2 if version == 2 else PROGRAMME_V1,
        "providers": [{"id": "P1", "name": "Provider One"}],
        "prepatients": [
            {"id": f"pp-{i:06d}", "enrolled_on": "2026-02-01", "baseline": baseline(),
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


@pytest.mark.parametrize("version", [2, 1])
@pytest.mark.parametrize("share,paid,total", [
    (30, 6_000, "282000000.00"), (50, 12_000, "564000000.00"),
    (80, 21_000, "987000000.00"), (100, 21_000, "987000000.00"),
])
def test_the_programme_table_is_reproduced_from_a_file(tmp_path: Path, share: int, paid: int,
                                                       total: str, version: int) -> None:
    result = recompute(tmp_path, one_provider_programme(30_000, 30_000 * share // 100, version))
    provider = result["providers"][0]
    assert result["format"] == f"prevention-settlement-result/{version}"
    assert provider["attributed"] == 30_000
    assert provider["successes"] == 30_000 * share // 100
    assert provider["paid_count"] == paid
    assert provider["amount"] == total == result["total_amount"]
    assert provider["final"] is True and provider["eligible"] is True


def test_the_version_2_result_follows_the_format(tmp_path: Path) -> None:
    document = one_provider_programme(3, 1)
    document["prepatients"][1]["events"] = [
        {"on": "2027-05-01", "type": "excluded", "reason": "missed_followup"}]
    document["prepatients"][2]["measurements"].insert(0, {
        "type": "hba1c", "value": "6.6", "unit": "%", "taken_on": "2027-02-01",
        "source": "lab"})
    path = tmp_path / "input.json"
    raw = json.dumps(document).encode()
    path.write_bytes(raw)
    out_path = tmp_path / "result.json"
    call_command("settlement_recompute", str(path), "--out", str(out_path))
    result = json.loads(out_path.read_text())
    assert result["format"] == "prevention-settlement-result/2"
    assert result["input_sha256"] == hashlib.sha256(raw).hexdigest()
    assert result["as_of"] == "2028-06-30" and result["programme"] == "prediabetes-2026"
    success, excluded, diabetic = result["prepatients"]
    assert (success["provider"], success["result"], success["reason"]) == (
        "P1", "success", "target_met")
    assert {key: success["evidence"][0][key] for key in
            ("measure", "quantity", "unit", "samples", "baseline", "met")} == {
        "measure": "hba1c", "quantity": "40", "unit": "mmol/mol", "baseline": None,
        "met": True, "samples": [{"taken_on": "2028-02-03", "value": "40", "unit": "mmol/mol"}]}
    assert (excluded["result"], excluded["reason"], excluded["evidence"]) == (
        "failure", "excluded:missed_followup", [])
    assert (diabetic["result"], diabetic["reason"]) == (
        "failure", "disqualified:developed_diabetes")
    # (6.6 − 2.15) × 10.929 = 48.63405 → 48.6340 (half-even), at or above 48
    assert diabetic["evidence"][0]["quantity"] == "48.6340"
    assert diabetic["evidence"][0]["samples"] == [
        {"taken_on": "2027-02-01", "value": "6.6", "unit": "%"}]
    assert result["providers"] == [{
        "id": "P1", "attributed": 3, "successes": 1, "failures": 2, "pending": 0,
        "final": True, "eligible": False, "paid_count": 0, "amount": "0.00"}]
    assert result["total_amount"] == "0.00"


def test_a_version_1_file_is_recomputed_with_the_version_1_rules(tmp_path: Path) -> None:
    document = one_provider_programme(2, 1, version=1)
    # Version 1 has no disqualifier: a diabetic value during the programme does not count.
    document["prepatients"][0]["measurements"].insert(0, {
        "type": "hba1c", "value": "50", "unit": "mmol/mol", "taken_on": "2027-02-01",
        "source": "lab"})
    # … and compares a converted value unrounded: (5.99 − 2.15) × 10.929 = 41.96736.
    document["prepatients"][1]["measurements"][0].update({"value": "5.99", "unit": "%"})
    result = recompute(tmp_path, document)
    assert result["format"] == "prevention-settlement-result/1"
    assert result["prepatients"] == [
        {"id": "pp-000000", "provider": "P1", "result": "success", "reason": "below_target",
         "deciding_sample": {"taken_on": "2028-02-03", "value": "40", "unit": "mmol/mol"}},
        {"id": "pp-000001", "provider": "P1", "result": "success", "reason": "below_target",
         "deciding_sample": {"taken_on": "2028-02-03", "value": "5.99", "unit": "%"}},
    ]


def test_a_late_switch_is_valid_after_the_previous_provider_lost_its_authorization(
    tmp_path: Path,
) -> None:
    document = one_provider_programme(1, 1)
    document["providers"].append({"id": "P2", "name": "Two"})
    document["providers"][0]["authorization_ended_on"] = "2027-09-01"
    document["prepatients"][0]["listings"].append({"provider": "P2", "from": "2027-09-20"})
    assert recompute(tmp_path, document)["prepatients"][0]["provider"] == "P2"


def _broken(change, version: int = 2) -> dict[str, Any]:
    document = copy.deepcopy(one_provider_programme(4, 2, version))
    change(document)
    return document


def _outcome(document: dict[str, Any]) -> dict[str, Any]:
    return document["programme"]["outcome"]


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
    (lambda d: d["programme"]["payment"].pop("floor_share"),
     "programme.payment.floor_share: missing"),
    (lambda d: _outcome(d).update({"criteria": []}), "programme.outcome.criteria: empty"),
    (lambda d: _outcome(d)["criteria"][0].update({"op": "eq"}),
     "programme.outcome.criteria[0].op: not one of ge, gt, le, lt"),
    (lambda d: _outcome(d)["disqualifiers"][0].update({"threshold": 48}),
     "programme.outcome.disqualifiers[0].threshold: not a decimal string"),
    (lambda d: d["prepatients"][0]["measurements"][0].update({"source": "fax"}),
     "prepatients[0].measurements[0].source: not one of device, lab, provider, self"),
    (lambda d: d["prepatients"][0].update({"baseline": {"on": "2026-02-01", "values": {
        "hba1c": {"value": "44", "unit": "mg"}}}}),
     "prepatients[0].baseline.values.hba1c.unit: not one of %, mmol/mol"),
])
def test_invalid_input_exits_2_naming_the_offending_path(tmp_path: Path, capsys, change,
                                                         message: str) -> None:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(_broken(change)))
    with pytest.raises(SystemExit) as exit_:
        call_command("settlement_recompute", str(path))
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_zero_baseline_compared_by_percent_change_is_invalid(tmp_path: Path, capsys) -> None:
    def change(document: dict[str, Any]) -> None:
        _outcome(document)["criteria"][0]["compare"] = "percent_change"
        document["prepatients"][2]["baseline"]["values"] = {
            "hba1c": {"value": "0", "unit": "mmol/mol"}}

    path = tmp_path / "input.json"
    path.write_text(json.dumps(_broken(change)))
    with pytest.raises(SystemExit) as exit_:
        call_command("settlement_recompute", str(path))
    assert exit_.value.code == 2
    assert "prepatients[2].baseline.values.hba1c.value: zero" in capsys.readouterr().err


def test_every_late_listing_is_rejected_in_version_1(tmp_path: Path, capsys) -> None:
    def change(document: dict[str, Any]) -> None:
        document["providers"].append({"id": "P2", "name": "Two",
                                      "authorization_ended_on": "2027-01-01"})
        document["prepatients"][0]["listings"].append({"provider": "P2", "from": "2027-08-02"})

    path = tmp_path / "input.json"
    path.write_text(json.dumps(_broken(change, version=1)))
    with pytest.raises(SystemExit):
        call_command("settlement_recompute", str(path))
    assert "prepatients[0].listings[1].from: starts after" in capsys.readouterr().err


def test_not_json_exits_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "input.json"
    path.write_text("{nope")
    with pytest.raises(SystemExit) as exit_:
        call_command("settlement_recompute", str(path))
    assert exit_.value.code == 2
    assert "not valid JSON" in capsys.readouterr().err


# --- Standing alone -------------------------------------------------------------------------


def _bare_environment() -> dict[str, str]:
    """No DEBUG, no secrets, no database, no settings module: nothing of the platform's."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def test_manage_py_recomputes_with_no_debug_no_secrets_and_no_database(tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(one_provider_programme(60, 30)))
    env = {**_bare_environment(), "DJANGO_SETTINGS_MODULE": "prevention.settings.base",
           "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "manage.py", "settlement_recompute", str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_amount"] == "1128000.00"  # (30 − ceil(6)) × 47,000


def _copy_engine(folder: Path) -> Path:
    shutil.copytree(ROOT / "prevention_engine", folder / "prevention_engine",
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    return folder


def test_the_engine_runs_in_a_fresh_virtual_environment_with_no_packages(tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False, symlinks=True)
    python = environment / "bin" / "python"
    assert subprocess.run([python, "-c", "import django"], capture_output=True).returncode != 0
    work = _copy_engine(tmp_path / "auditor")
    path = work / "input.json"
    path.write_text(json.dumps(one_provider_programme(60, 30)))
    done = subprocess.run([python, "-m", "prevention_engine", "recompute", "input.json",
                           "--out", "result.json"], cwd=work, env=_bare_environment(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads((work / "result.json").read_text())
    assert result["total_amount"] == "1128000.00"
    every_module = subprocess.run(
        [python, "-S", "-c", "import importlib, pkgutil, prevention_engine\n"
         "for module in pkgutil.iter_modules(prevention_engine.__path__):\n"
         "    if module.name != '__main__':\n"
         "        importlib.import_module('prevention_engine.' + module.name)\n"
         "print(sorted(m.name for m in pkgutil.iter_modules(prevention_engine.__path__)))"],
        cwd=work, env=_bare_environment(), capture_output=True, text=True, timeout=60)
    assert every_module.returncode == 0, every_module.stderr  # the standard library only
    assert "interchange" in every_module.stdout and "followup" in every_module.stdout
    bad = subprocess.run([python, "-m", "prevention_engine", "recompute", "-"],
                         input='{"format": "prevention-settlement-input/2"}', cwd=work,
                         env=_bare_environment(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "invalid input: as_of: missing" in bad.stderr


def test_pip_installs_the_engine_alone_and_it_recomputes(tmp_path: Path) -> None:
    source = _copy_engine(tmp_path / "source") / "prevention_engine"
    target = tmp_path / "installed"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    assert (target / "prevention_engine" / "interchange.py").exists()
    assert (target / "bin" / "prevention-engine").exists()
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False, symlinks=True)
    path = tmp_path / "input.json"
    path.write_text(json.dumps(one_provider_programme(60, 30)))
    done = subprocess.run([environment / "bin" / "python", "-m", "prevention_engine",
                           "recompute", str(path)], cwd=tmp_path,
                          env={**_bare_environment(), "PYTHONPATH": str(target)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_amount"] == "1128000.00"


# --- The streamed reading of the command line ------------------------------------------------


def _case_inputs() -> list[Any]:
    from tests.engine.test_independent_reading import ALL_CASES, _input_bytes

    return [pytest.param(_input_bytes(case), id=name) for name, case in ALL_CASES]


@pytest.mark.parametrize("raw", _case_inputs())
def test_the_streamed_reading_gives_the_same_result_or_the_same_error(raw: bytes) -> None:
    """The command line evaluates each prepatient as it reads it; the result, or the first
    error, is what reading the whole file first gives."""
    from prevention_engine.interchange import (
        InvalidSettlementInput,
        loads,
        recompute_file_content,
        result_document,
    )
    from prevention_engine.interchange import recompute as recompute_input

    try:
        expected = result_document(recompute_input(loads(raw)), raw)
    except InvalidSettlementInput as error:
        with pytest.raises(InvalidSettlementInput) as streamed:
            recompute_file_content(raw)
        assert str(streamed.value) == str(error)
    else:
        assert result_document(recompute_file_content(raw), raw) == expected


@pytest.mark.parametrize("change,message", [
    (lambda m: m.update({"unit": "mg/dL"}), "measurements[1].unit: not one of %, mmol/mol"),
    (lambda m: m.update({"unit": ""}), "measurements[1].unit: not a non-empty string"),
    (lambda m: m.update({"unit": ["mmol/mol"]}), "measurements[1].unit: not a non-empty string"),
    (lambda m: m.update({"source": "fax"}), "measurements[1].source: not one of"),
    (lambda m: m.update({"source": None}), "measurements[1].source: not a non-empty string"),
    (lambda m: m.update({"value": 40}), "measurements[1].value: not a decimal string"),
    (lambda m: m.update({"value": "4O"}), "measurements[1].value: not a decimal string"),
    (lambda m: m.update({"taken_on": "2028-02-30"}), "measurements[1].taken_on: not a date"),
    (lambda m: m.pop("taken_on"), "measurements[1].taken_on: missing"),
    (lambda m: m.update({"type": ""}), "measurements[1].type: not a non-empty string"),
])
def test_a_bad_sample_among_values_seen_before_is_named(tmp_path: Path, capsys, change,
                                                         message: str) -> None:
    """Values, dates and names seen in earlier prepatients are read from caches; a sample
    that differs in one field from what was seen is still checked and named."""
    document = one_provider_programme(6, 3)
    for person in document["prepatients"]:
        person["measurements"].append(dict(person["measurements"][0], taken_on="2027-02-03"))
    change(document["prepatients"][5]["measurements"][1])
    path = tmp_path / "input.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SystemExit) as exit_:
        call_command("settlement_recompute", str(path))
    assert exit_.value.code == 2
    assert f"prepatients[5].{message}" in capsys.readouterr().err


def test_a_measure_no_rule_names_is_read_in_any_unit_among_cached_values(tmp_path: Path) -> None:
    document = one_provider_programme(4, 4)
    for person in document["prepatients"]:
        person["measurements"].append({"type": "weight", "value": "40", "unit": "kg",
                                       "taken_on": "2028-02-03", "source": "provider"})
    result = recompute(tmp_path, document)
    assert [p["result"] for p in result["prepatients"]] == ["success"] * 4
