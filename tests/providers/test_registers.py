from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from apps.providers.models import CheckResult
from apps.providers.registers import (
    AuthorizationRegistry,
    FileAuthorizationRegistry,
    Party,
    get_authorization_registry,
)
from tests.providers.conftest import clean_record, write_registers

CLEAN = "5566770011"
INDEBTED = "5566770045"
ABSENT = "5566770060"
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry(tmp_path: Path) -> FileAuthorizationRegistry:
    rows = clean_record(CLEAN)
    rows["f_tax.csv"].append(f"{INDEBTED},no")
    rows["tax_debts.csv"].append(f"{INDEBTED},48200")
    rows["annual_reports.csv"] += [f"{INDEBTED},2023,yes", f"{INDEBTED},2024,no"]
    rows["convictions.csv"] += [
        f"{INDEBTED},,,yes,Bidragsbrott 2024",
        ",Anna  Demosdotter,1975,yes,Grovt bidragsbrott",
        ",Erik Exempelsson,1968,no,",
    ]
    rows["flagged_suppliers.csv"].append(f"{INDEBTED},yes,Excluded 2025")
    return FileAuthorizationRegistry(write_registers(tmp_path / "reg", rows))


def test_the_file_registry_implements_the_protocol(registry) -> None:
    assert isinstance(registry, AuthorizationRegistry)


def test_a_company_in_good_standing_passes_every_check(registry) -> None:
    outcomes = [registry.f_tax(CLEAN), registry.tax_debts(CLEAN), registry.annual_report(CLEAN),
                registry.convictions(Party("provider", "Hälsa AB", CLEAN)),
                registry.flagged_supplier(CLEAN)]
    assert [o.result for o in outcomes] == [CheckResult.PASS] * 5
    assert "2025" in outcomes[2].detail
    assert outcomes[0].source == "Skatteverket, F-skatt (file f_tax.csv)"


def test_grounds_for_exclusion_fail_with_the_registers_detail(registry) -> None:
    assert registry.f_tax(INDEBTED).result == CheckResult.FAIL
    debts = registry.tax_debts(INDEBTED)
    assert (debts.result, "48200" in debts.detail) == (CheckResult.FAIL, True)
    report = registry.annual_report(INDEBTED)  # the latest year (2024) counts
    assert (report.result, "2024" in report.detail) == (CheckResult.FAIL, True)
    conviction = registry.convictions(Party("subcontractor", "X AB", INDEBTED))
    assert conviction.result == CheckResult.FAIL and "Bidragsbrott 2024" in conviction.detail
    flag = registry.flagged_supplier(INDEBTED)
    assert flag.result == CheckResult.FAIL and "Excluded 2025" in flag.detail


def test_people_are_found_by_name_and_birth_year_never_by_personnummer(registry) -> None:
    assert registry.convictions(Party("owner", "anna demosdotter", "", 1975)).result == "fail"
    assert registry.convictions(Party("owner", "Erik Exempelsson", "", 1968)).result == "pass"
    assert registry.convictions(Party("owner", "Erik Exempelsson", "", 1969)).result == (
        "not_found")
    no_year = registry.convictions(Party("owner", "Erik Exempelsson"))
    assert no_year.result == "not_found" and "birth year" in no_year.detail


def test_an_organisation_absent_from_a_register_is_not_found(registry) -> None:
    for outcome in (registry.f_tax(ABSENT), registry.tax_debts(ABSENT),
                    registry.annual_report(ABSENT),
                    registry.convictions(Party("provider", "Y", ABSENT))):
        assert outcome.result == CheckResult.NOT_FOUND


def test_a_supplier_absent_from_the_supplier_database_must_be_checked_by_hand(registry) -> None:
    outcome = registry.flagged_supplier(ABSENT)
    assert outcome.result == CheckResult.NOT_FOUND
    assert "authority registers" in outcome.detail


def test_a_missing_file_raises_improperly_configured_naming_the_path(tmp_path: Path) -> None:
    directory = write_registers(tmp_path / "reg")
    (directory / "tax_debts.csv").unlink()
    registry = FileAuthorizationRegistry(directory)
    assert registry.f_tax(CLEAN).result == "not_found"  # the other files still work
    with pytest.raises(ImproperlyConfigured, match=str(directory / "tax_debts.csv")):
        registry.tax_debts(CLEAN)


@pytest.mark.parametrize("name,line,message", [
    ("f_tax.csv", "5566770011,maybe", "line 2: f_tax must be yes or no"),
    ("f_tax.csv", "5566770012,yes", "line 2: the organisation number is not valid"),
    ("tax_debts.csv", "5566770011,-5", "line 2: debt_sek must be a whole number"),
    ("tax_debts.csv", "5566770011", "line 2: expected 2 columns, found 1"),
    ("convictions.csv", ",Anna,,yes,", "line 2: a person needs a name and a birth year"),
])
def test_a_bad_line_raises_improperly_configured_with_the_path_and_line(
    tmp_path: Path, name: str, line: str, message: str,
) -> None:
    directory = write_registers(tmp_path / "reg", {name: [line]})
    registry = FileAuthorizationRegistry(directory)
    lookups = {"f_tax.csv": registry.f_tax, "tax_debts.csv": registry.tax_debts,
               "convictions.csv": lambda n: registry.convictions(Party("owner", "A", n))}
    with pytest.raises(ImproperlyConfigured) as error:
        lookups[name]("5566770011")
    assert str(directory / name) in str(error.value) and message in str(error.value)


def test_a_duplicate_company_in_a_single_entry_register_is_refused(tmp_path: Path) -> None:
    directory = write_registers(tmp_path / "reg", {"f_tax.csv": [f"{CLEAN},yes",
                                                                 f"{CLEAN},no"]})
    with pytest.raises(ImproperlyConfigured, match="line 3: the same entry is on line 2"):
        FileAuthorizationRegistry(directory).f_tax(CLEAN)


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    directory = write_registers(tmp_path / "reg", {"f_tax.csv": [f"{CLEAN},yes"]})
    registry = FileAuthorizationRegistry(directory)
    assert registry.f_tax(CLEAN).result == "pass"
    path = directory / "f_tax.csv"
    path.write_text(f"organisation_number,f_tax\n{CLEAN},no\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert registry.f_tax(CLEAN).result == "fail"


def test_the_backend_is_chosen_by_the_settings(tmp_path: Path) -> None:
    directory = write_registers(tmp_path / "reg")
    with override_settings(AUTHORIZATION_REGISTRY_DIR=str(directory)):
        registry = get_authorization_registry()
    assert isinstance(registry, FileAuthorizationRegistry)
    assert registry.directory == directory
    with override_settings(AUTHORIZATION_REGISTRY_BACKEND="apps.nowhere.Registry",
                           AUTHORIZATION_REGISTRY_DIR=str(directory)), \
            pytest.raises(ImproperlyConfigured, match="cannot be imported"):
        get_authorization_registry()


def test_the_demo_registers_cover_the_demo_providers() -> None:
    registry = FileAuthorizationRegistry(BASE_DIR / "data" / "authorization")
    for number in ("5566770011", "5566770029", "8024001011", "5566770037"):
        assert registry.f_tax(number).result == "pass"
        assert registry.tax_debts(number).result == "pass"
        assert registry.convictions(Party("provider", "demo", number)).result == "pass"
    assert registry.flagged_supplier("5566770037").result == "not_found"
    assert registry.annual_report("5566770037").result == "pass"
