from __future__ import annotations

import logging
import re
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.logging import PERSONNUMMER_LIKE
from apps.core.luhn import luhn_check_digit
from apps.registry.errors import InvalidPersonnummer
from apps.registry.identity import Personnummer, parse_personnummer
from apps.registry.population import (
    FilePopulationRegister,
    PopulationRegister,
    get_population_register,
)

TODAY = date(2026, 3, 1)
DEMO_CSV = Path(__file__).resolve().parents[2] / "data" / "population_register.csv"

# Skatteverket test numbers (the first two are in the demo register).
IN_DEMO = "195601132334"
WOMAN_IN_DEMO = "195609052385"
COORDINATION_IN_DEMO = "197006872381"


def pnr(value: str) -> Personnummer:
    return parse_personnummer(value, today=TODAY)


def valid(yyyymmdd: str, serial: str = "238") -> str:
    return f"{yyyymmdd}{serial}{luhn_check_digit(yyyymmdd[2:] + serial)}"


NOT_IN_DEMO = valid("19770707", "239")


def write(tmp_path: Path, text: str, name: str = "register.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- The CSV backend ----------------------------------------------------------


def test_the_demo_register_finds_registered_people() -> None:
    register = FilePopulationRegister(DEMO_CSV)
    assert register.postcode_for(pnr(IN_DEMO)) == "16373"
    assert register.postcode_for(pnr(WOMAN_IN_DEMO)) == "11453"
    assert register.postcode_for(pnr(COORDINATION_IN_DEMO)) == "21368"
    assert register.postcode_for(pnr(NOT_IN_DEMO)) is None
    assert len(register) >= 35


def test_the_10_digit_form_finds_the_same_person() -> None:
    register = FilePopulationRegister(DEMO_CSV)
    assert register.postcode_for(pnr("560113-2334")) == "16373"
    assert register.postcode_for(pnr("5601132334")) == "16373"


def test_every_demo_row_is_a_valid_number_with_a_5_digit_postcode() -> None:
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "personnummer,postcode"
    register = FilePopulationRegister(DEMO_CSV)
    for line in lines[1:]:
        number, postcode = line.split(",")
        assert re.fullmatch(r"[0-9]{5}", postcode)
        assert register.postcode_for(pnr(number)) == postcode


def test_the_file_is_read_lazily_and_only_once(tmp_path: Path) -> None:
    path = tmp_path / "later.csv"
    register = FilePopulationRegister(path)  # no file yet: nothing is read here
    path.write_text(f"personnummer,postcode\n{NOT_IN_DEMO},12345\n", encoding="utf-8")
    assert register.postcode_for(pnr(NOT_IN_DEMO)) == "12345"
    path.unlink()
    assert register.postcode_for(pnr(NOT_IN_DEMO)) == "12345"


def test_concurrent_first_lookups_load_once(tmp_path: Path, monkeypatch: Any) -> None:
    path = write(tmp_path, f"personnummer,postcode\n{NOT_IN_DEMO},12345\n")
    register = FilePopulationRegister(path)
    loads: list[int] = []
    original = register._load

    def counting_load() -> dict[str, str]:
        loads.append(1)
        return original()

    monkeypatch.setattr(register, "_load", counting_load)
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(
        register.postcode_for(pnr(NOT_IN_DEMO)))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["12345"] * 8
    assert loads == [1]


def test_header_case_blank_lines_spaces_and_a_bom_are_tolerated(tmp_path: Path) -> None:
    text = f"\ufeffPersonnummer, Postcode\r\n\r\n {NOT_IN_DEMO} , 16355 \r\n\r\n"
    register = FilePopulationRegister(write(tmp_path, text))
    assert register.postcode_for(pnr(NOT_IN_DEMO)) == "16355"


def test_a_header_only_file_is_an_empty_register(tmp_path: Path) -> None:
    register = FilePopulationRegister(write(tmp_path, "personnummer,postcode\n"))
    assert register.postcode_for(pnr(IN_DEMO)) is None
    assert len(register) == 0


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    register = FilePopulationRegister(path)
    with pytest.raises(ImproperlyConfigured, match=re.escape(str(path))):
        register.postcode_for(pnr(IN_DEMO))


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("", 1, "header"),
        ("pnr,postnummer\n", 1, "header"),
        (f"personnummer,postcode\n{IN_DEMO},16373,extra\n", 2, "columns"),
        (f"personnummer,postcode\n{IN_DEMO}\n", 2, "columns"),
        (f"personnummer,postcode\n{IN_DEMO},16373\n{IN_DEMO[2:]},16373\n", 3, "12 digits"),
        (f"personnummer,postcode\n{IN_DEMO[:8]}-{IN_DEMO[8:]},16373\n", 2, "12 digits"),
        (f"personnummer,postcode\n{IN_DEMO[:-1]}5,16373\n", 2, "checksum"),
        (f"personnummer,postcode\n{valid('19901301')},16373\n", 2, "date"),
        (f"personnummer,postcode\n{IN_DEMO},1637\n", 2, "5 digits"),
        (f"personnummer,postcode\n{IN_DEMO},163 73\n", 2, "5 digits"),
        (f"personnummer,postcode\n{IN_DEMO},\n", 2, "5 digits"),
        (f"personnummer,postcode\n{IN_DEMO},16373\n\n{IN_DEMO},11453\n", 4, "line 2"),
    ],
)
def test_a_bad_row_names_the_path_and_line_but_not_the_number(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ImproperlyConfigured) as caught:
        FilePopulationRegister(path).postcode_for(pnr(WOMAN_IN_DEMO))
    message = str(caught.value)
    assert str(path) in message
    assert f"line {line}:" in message
    assert reason in message
    assert not PERSONNUMMER_LIKE.search(message.replace(str(path), ""))
    assert IN_DEMO[2:] not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ or caught.value.__context__ is None


def test_an_unreadable_file_does_not_quote_its_content(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"personnummer,postcode\n" + IN_DEMO.encode() + b",\xff\xfe\n")
    with pytest.raises(ImproperlyConfigured, match="cannot be read") as caught:
        FilePopulationRegister(path).postcode_for(pnr(IN_DEMO))
    assert IN_DEMO not in str(caught.value)


def test_the_file_register_satisfies_the_protocol() -> None:
    assert isinstance(FilePopulationRegister(DEMO_CSV), PopulationRegister)


# --- Choosing the backend -----------------------------------------------------


class FixedRegister:
    """A stand-in backend for the settings tests."""

    def __init__(self, path: str) -> None:
        self.path = path

    def postcode_for(self, personnummer: Personnummer) -> str | None:
        return "99999"


class NotARegister:
    def __init__(self, path: str) -> None:
        self.path = path


def test_the_default_settings_use_the_demo_csv() -> None:
    register = get_population_register()
    assert isinstance(register, FilePopulationRegister)
    assert register.path == DEMO_CSV
    assert register.postcode_for(pnr(IN_DEMO)) == "16373"
    assert get_population_register() is register  # built once per backend and path


def test_the_csv_path_comes_from_the_settings(settings: Any, tmp_path: Path) -> None:
    settings.POPULATION_REGISTER_CSV = str(
        write(tmp_path, f"personnummer,postcode\n{IN_DEMO},41319\n"))
    assert get_population_register().postcode_for(pnr(IN_DEMO)) == "41319"


def test_the_backend_comes_from_the_settings(settings: Any, tmp_path: Path) -> None:
    settings.POPULATION_REGISTER_BACKEND = f"{__name__}.FixedRegister"
    settings.POPULATION_REGISTER_CSV = str(tmp_path / "unused.csv")
    register = get_population_register()
    assert isinstance(register, FixedRegister)
    assert register.path == str(tmp_path / "unused.csv")
    assert register.postcode_for(pnr(IN_DEMO)) == "99999"


def test_a_backend_that_cannot_be_imported_is_a_configuration_error(
    settings: Any, tmp_path: Path
) -> None:
    settings.POPULATION_REGISTER_BACKEND = "apps.registry.population.NoSuchRegister"
    settings.POPULATION_REGISTER_CSV = str(tmp_path / "a.csv")
    with pytest.raises(ImproperlyConfigured, match="NoSuchRegister"):
        get_population_register()


def test_a_backend_without_postcode_for_is_a_configuration_error(
    settings: Any, tmp_path: Path
) -> None:
    settings.POPULATION_REGISTER_BACKEND = f"{__name__}.NotARegister"
    settings.POPULATION_REGISTER_CSV = str(tmp_path / "b.csv")
    with pytest.raises(ImproperlyConfigured, match="postcode_for"):
        get_population_register()


# --- No personnummer in logs, errors or reprs -----------------------------------


def forms(number: str) -> list[str]:
    """Every way a 12-digit number may be written."""
    ten = number[2:]
    return [number, f"{number[:8]}-{number[8:]}", ten, f"{ten[:6]}-{ten[6:]}",
            f"{ten[:6]}+{ten[6:]}"]


def test_no_personnummer_reaches_a_log_record_an_error_or_a_repr(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    numbers = [IN_DEMO, WOMAN_IN_DEMO, COORDINATION_IN_DEMO, NOT_IN_DEMO]
    invalid = [
        "811218-9877",  # checksum
        valid("19901301"),  # date
        valid("20300101"),  # future
        "811218/9876",  # format
        f"{IN_DEMO[:-1]}0",
    ]
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)  # the root logger, everything
    caplog.set_level(logging.DEBUG, logger="apps")  # in case a setting raises its level
    register = FilePopulationRegister(DEMO_CSV)
    for value in numbers + [forms(n)[3] for n in numbers]:
        parsed = parse_personnummer(value, today=TODAY)
        register.postcode_for(parsed)
        texts += [str(parsed), repr(parsed), parsed.masked, f"{parsed}"]
    for value in invalid:
        with pytest.raises(InvalidPersonnummer) as refused:
            parse_personnummer(value, today=TODAY)
        error = refused.value
        texts += [str(error), repr(error), str(error.as_dict()), str(error.args)]
    bad = write(tmp_path, f"personnummer,postcode\n{IN_DEMO},16373\n{IN_DEMO},1\n")
    with pytest.raises(ImproperlyConfigured) as caught:
        FilePopulationRegister(bad).postcode_for(pnr(IN_DEMO))
    texts += [str(caught.value).replace(str(bad), ""), repr(caught.value).replace(str(bad), "")]
    texts.append(repr(register))

    assert any("Population register" in record.getMessage() for record in caplog.records)
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    for record in caplog.records:
        texts += [record.getMessage(), str(record.msg), repr(record.args)]
        if record.exc_text:
            texts.append(record.exc_text)
    texts.append(caplog.text)
    forbidden = {form for n in numbers + invalid for form in forms(
        "".join(ch for ch in n if ch.isdigit()).rjust(12, "0"))}
    for text in texts:
        for secret in forbidden:
            assert secret not in text
        assert not PERSONNUMMER_LIKE.search(text.replace(str(DEMO_CSV), "")), text
