from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.utils import translation

from apps.core.errors import InvalidInput
from apps.registry.imports import parse_postcode_csv
from apps.registry.models import VulnerableAreaPostcode
from apps.registry.services import vulnerable_postcodes_import

DATA = Path(__file__).resolve().parents[2] / "data"


def refused(text: str) -> InvalidInput:
    with translation.override("en"), pytest.raises(InvalidInput) as caught:
        parse_postcode_csv(text)
    # Render the (lazy) messages while English is active.
    with translation.override("en"):
        caught.value.fields = {key: str(value) for key, value in caught.value.fields.items()}
        caught.value.message = str(caught.value.message)
    return caught.value


def test_both_ways_of_writing_a_postcode_are_normalised_to_5_digits() -> None:
    text = "postcode,area_name\n163 55,Tensta\n16371,Rinkeby\n 213 68 , Rosengård \n"
    assert parse_postcode_csv(text) == [
        ("16355", "Tensta"),
        ("16371", "Rinkeby"),
        ("21368", "Rosengård"),
    ]


def test_quoting_blank_lines_a_bom_crlf_and_header_case_are_tolerated() -> None:
    text = ('\ufeffPostcode , Area_Name\r\n\r\n"163 55","Tensta, Stockholm"\r\n'
            "42436,\r\n\r\n")
    assert parse_postcode_csv(text) == [("16355", "Tensta, Stockholm"), ("42436", "")]


def test_a_header_only_file_gives_no_postcodes() -> None:
    assert parse_postcode_csv("postcode,area_name\n") == []


@pytest.mark.parametrize("text", ["", "\ufeff", "163 55,Tensta\n", "postnummer,område\n",
                                  "postcode\n", "postcode,area_name,extra\n"])
def test_a_missing_or_wrong_header_is_reported_on_line_1(text: str) -> None:
    error = refused(text)
    assert list(error.fields) == ["line 1"]
    assert "postcode,area_name" in error.fields["line 1"]


def test_every_bad_row_is_reported_with_its_line_value_and_reason() -> None:
    text = "\n".join([
        "postcode,area_name",  # 1
        "163 55,Tensta",  # 2
        "1635,Too short",  # 3
        "163 5a,Letter",  # 4
        "16 355,Space in the wrong place",  # 5
        "163555,Too long",  # 6
        ",No postcode",  # 7
        "16355,Duplicate written without a space",  # 8
        "16371,Rinkeby,extra",  # 9
        "16371",  # 10
        "",  # 11: blank, skipped
        "21368,Rosengård",  # 12: fine
        "21368,Rosengård again",  # 13
        f"42436,{'x' * 101}",  # 14
    ])
    error = refused(text)
    assert error.code == "invalid"
    assert set(error.fields) == {f"line {n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 13, 14)}
    fields = error.fields
    assert "“1635”" in fields["line 3"] and "5 digits" in fields["line 3"]
    assert "“163 5a”" in fields["line 4"]
    assert "“16 355”" in fields["line 5"]
    assert "“163555”" in fields["line 6"]
    assert "missing" in fields["line 7"]
    assert "163 55" in fields["line 8"] and "line 2" in fields["line 8"]
    assert "2 columns" in fields["line 9"] and "found 3" in fields["line 9"]
    assert "found 1" in fields["line 10"]
    assert "213 68" in fields["line 13"] and "line 12" in fields["line 13"]
    assert "100 characters" in fields["line 14"]
    body = error.as_dict()["error"]
    assert body["fields"]["line 3"] == [fields["line 3"]]


def test_a_personnummer_pasted_into_the_file_is_not_echoed() -> None:
    error = refused("postcode,area_name\n811218-9876,Oops\n198112189876,Oops\n")
    for message in error.fields.values():
        assert "9876" not in message
        assert "[personnummer]" in message


def test_the_demo_list_parses_and_covers_half_of_the_demo_register() -> None:
    pairs = parse_postcode_csv((DATA / "vulnerable_postcodes.csv").read_text(encoding="utf-8"))
    assert len(pairs) >= 15
    assert all(len(code) == 5 and code.isdigit() and area for code, area in pairs)
    vulnerable = {code for code, _area in pairs}
    with (DATA / "population_register.csv").open(encoding="utf-8") as handle:
        postcodes = [row["postcode"] for row in csv.DictReader(handle)]
    share = sum(code in vulnerable for code in postcodes) / len(postcodes)
    assert 0.35 <= share <= 0.65
    # "plus a few more": some vulnerable postcodes have nobody in the demo register.
    assert vulnerable - set(postcodes)


# --- The import service ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_import_adds_new_postcodes_and_keeps_listed_ones_as_they_are(programme) -> None:
    VulnerableAreaPostcode.objects.create(programme=programme, postcode="16355",
                                          area_name="Hjulsta")
    result = vulnerable_postcodes_import(
        programme=programme, text="postcode,area_name\n163 55,Renamed\n16356,Tensta\n")
    assert (result.added, result.skipped) == (1, 1)
    rows = dict(VulnerableAreaPostcode.objects.filter(programme=programme)
                .values_list("postcode", "area_name"))
    assert rows == {"16355": "Hjulsta", "16356": "Tensta"}


@pytest.mark.django_db
def test_a_file_with_a_bad_line_imports_nothing(programme) -> None:
    before = VulnerableAreaPostcode.objects.count()
    with pytest.raises(InvalidInput) as refused:
        vulnerable_postcodes_import(
            programme=programme, text="postcode,area_name\n16357,Husby\n12A45,Somewhere\n")
    assert list(refused.value.fields) == ["line 3"]
    assert VulnerableAreaPostcode.objects.count() == before
