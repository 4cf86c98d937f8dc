from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.functional import Promise
from hypothesis import given
from hypothesis import strategies as st

from apps.core.errors import InvalidInput
from apps.core.luhn import luhn_check_digit
from apps.registry.errors import InvalidPersonnummer
from apps.registry.identity import parse_personnummer

TODAY = date(2026, 3, 1)
REGISTER_CSV = Path(__file__).resolve().parents[2] / "data" / "population_register.csv"


def twelve(yyyymmdd: str, serial: str) -> str:
    """A 12-digit number with the correct check digit for a date part and a 3-digit serial."""
    return f"{yyyymmdd}{serial}{luhn_check_digit(yyyymmdd[2:] + serial)}"


def short(number: str, separator: str = "-") -> str:
    """The 10-digit form YYMMDD-NNNC of a 12-digit number."""
    return f"{number[2:8]}{separator}{number[8:]}"


def other_digits(value: str, zero: int) -> str:
    """``value`` with its digits written in another script (``zero`` is that script's 0)."""
    return "".join(chr(zero + int(ch)) if ch.isdigit() else ch for ch in value)


def refusal(value: object, today: date = TODAY) -> InvalidPersonnummer:
    with pytest.raises(InvalidPersonnummer) as caught:
        parse_personnummer(value, today=today)
    return caught.value


# --- Accepted forms -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "811218-9876",
        "8112189876",
        "19811218-9876",
        "198112189876",
        "  811218-9876  ",
        "\t198112189876\n",
        " 19811218-9876",
    ],
)
def test_the_10_and_12_digit_forms_give_the_same_number(value: str) -> None:
    parsed = parse_personnummer(value, today=TODAY)
    assert parsed.digits == "198112189876"
    assert parsed.birth_date == date(1981, 12, 18)
    assert parsed.sex == "M"
    assert not parsed.is_coordination_number


def test_the_plus_separator_means_a_hundred_years_more() -> None:
    assert parse_personnummer("811218+9876", today=TODAY).birth_date == date(1881, 12, 18)
    centenarian = twelve("19130401", "293")
    parsed = parse_personnummer(short(centenarian, "+"), today=TODAY)
    assert parsed.digits == centenarian
    assert parsed.birth_date == date(1913, 4, 1)
    # Without the "+", the same ten digits are someone born in 2013.
    assert parse_personnummer(short(centenarian), today=TODAY).birth_date == date(2013, 4, 1)


def test_the_sex_comes_from_the_second_to_last_digit() -> None:
    woman = parse_personnummer("195609052385", today=TODAY)  # serial 238: even
    man = parse_personnummer("195601132334", today=TODAY)  # serial 233: odd
    assert (woman.sex, man.sex) == ("F", "M")
    for serial_digit in range(10):
        number = twelve("19900101", f"23{serial_digit}")
        expected = "M" if serial_digit % 2 else "F"
        assert parse_personnummer(number, today=TODAY).sex == expected


def test_a_coordination_number_adds_sixty_to_the_day() -> None:
    # Skatteverket's example: a man born 3 October 1970 with serial 239.
    parsed = parse_personnummer("701063-2391", today=TODAY)
    assert parsed.is_coordination_number
    assert parsed.digits == "197010632391"  # kept as written
    assert parsed.birth_date == date(1970, 10, 3)
    assert parsed.sex == "M"
    woman = parse_personnummer("197006872381", today=TODAY)
    assert (woman.birth_date, woman.sex, woman.is_coordination_number) == (
        date(1970, 6, 27), "F", True)


@pytest.mark.parametrize("day", [61, 91])
def test_coordination_days_61_to_91_are_accepted(day: int) -> None:
    parsed = parse_personnummer(twelve(f"199001{day}", "238"), today=TODAY)
    assert parsed.birth_date == date(1990, 1, day - 60)


# --- Century inference --------------------------------------------------------


@pytest.mark.parametrize(
    ("yymmdd", "separator", "born"),
    [
        ("260301", "-", date(2026, 3, 1)),  # born today: this century
        ("260302", "-", date(1926, 3, 2)),  # tomorrow's date: the century before
        ("251231", "-", date(2025, 12, 31)),
        ("000101", "-", date(2000, 1, 1)),
        ("991231", "-", date(1999, 12, 31)),
        ("270101", "-", date(1927, 1, 1)),
        ("260301", "+", date(1926, 3, 1)),  # exactly 100 today
        ("260302", "+", date(1826, 3, 2)),
        ("000101", "+", date(1900, 1, 1)),
        ("991231", "+", date(1899, 12, 31)),
    ],
)
def test_the_century_of_a_10_digit_number_is_inferred_from_today(
    yymmdd: str, separator: str, born: date
) -> None:
    number = twelve(f"20{yymmdd}", "238")  # the century here does not enter the check digit
    parsed = parse_personnummer(short(number, separator), today=TODAY)
    assert parsed.birth_date == born
    assert parsed.digits == f"{born.year:04d}{number[4:]}"


@given(
    born=st.dates(min_value=date(1827, 1, 1), max_value=TODAY),
    serial=st.integers(min_value=0, max_value=999),
)
def test_any_birth_date_round_trips_through_the_10_digit_form(born: date, serial: int) -> None:
    number = twelve(born.strftime("%Y%m%d"), f"{serial:03d}")
    age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
    separator = "+" if age >= 100 else "-"
    from_short = parse_personnummer(short(number, separator), today=TODAY)
    from_long = parse_personnummer(number, today=TODAY)
    assert from_short == from_long
    assert from_long.birth_date == born
    assert from_long.digits == number


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    serial=st.integers(min_value=0, max_value=999),
    position=st.integers(min_value=2, max_value=11),
    replacement=st.integers(min_value=0, max_value=9),
)
def test_any_single_wrong_digit_is_refused(
    born: date, serial: int, position: int, replacement: int
) -> None:
    number = twelve(born.strftime("%Y%m%d"), f"{serial:03d}")
    if int(number[position]) == replacement:
        return
    typo = f"{number[:position]}{replacement}{number[position + 1:]}"
    with pytest.raises(InvalidPersonnummer):
        parse_personnummer(typo, today=TODAY)


# --- Calendar dates -----------------------------------------------------------


@pytest.mark.parametrize("yyyymmdd", ["20000229", "19960229", "20240229", "19040229"])
def test_29_february_is_valid_in_a_leap_year(yyyymmdd: str) -> None:
    parsed = parse_personnummer(twelve(yyyymmdd, "238"), today=TODAY)
    assert (parsed.birth_date.month, parsed.birth_date.day) == (2, 29)


def test_29_february_in_the_10_digit_form_follows_the_inferred_century() -> None:
    number = twelve("20000229", "238")
    assert parse_personnummer(short(number), today=TODAY).birth_date == date(2000, 2, 29)
    # With "+" the year is 1900, which was not a leap year.
    assert refusal(short(number, "+")).code == "date"


@pytest.mark.parametrize(
    "yyyymmdd",
    [
        "19000229",  # 1900 was not a leap year
        "19970229",
        "20230229",
        "19900230",  # 30 February never exists
        "19900431",  # 31 April
        "19901301",  # month 13
        "19900001",  # month 0
        "19900100",  # day 0
        "19900132",  # day 32
        "19900160",  # coordination day 0
        "19900192",  # coordination day 32
        "19900289",  # coordination 29 February in a common year
    ],
)
def test_a_date_that_does_not_exist_is_refused(yyyymmdd: str) -> None:
    number = twelve(yyyymmdd, "238")  # a correct check digit: only the date is wrong
    assert refusal(number).code == "date"
    if not yyyymmdd.startswith("1900"):  # "000229-…" is read as 2000, a leap year
        assert refusal(short(number)).code == "date"


def test_coordination_29_february_is_valid_in_a_leap_year() -> None:
    parsed = parse_personnummer(twelve("19960289", "239"), today=TODAY)
    assert parsed.birth_date == date(1996, 2, 29)
    assert parsed.is_coordination_number


# --- Refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "811218",
        "81121898",
        "81121898765",
        "1981121898761",
        "811218*9876",
        "811218 9876",
        "81121-89876",
        "811218--9876",
        "1981-12-18-9876",
        "19811218+9876",  # "+" belongs to the 10-digit form only
        "811218-987",
        "abcdef-ghij",
        "811218-98a6",
        other_digits("811218-9876", 0xFF10),  # full-width digits
        other_digits("811218-9876", 0x0660),  # Arabic-Indic digits
        "811218-9876\n0",
        None,
        8112189876,
    ],
)
def test_a_wrong_format_is_refused(value: object) -> None:
    assert refusal(value).code == "format"


def test_a_wrong_check_digit_is_refused() -> None:
    for value in ("811218-9877", "198112189870", "701063-2392"):
        assert refusal(value).code == "checksum"


def test_a_birth_date_in_the_future_is_refused() -> None:
    assert refusal(twelve("20260302", "238")).code == "future"
    assert refusal(twelve("20300101", "239")).code == "future"
    assert refusal(twelve("20260362", "239")).code == "future"  # coordination, 2 March
    assert parse_personnummer(twelve("20260301", "238"), today=TODAY).birth_date == TODAY


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ("811218/9876", "format", "10 or 12 digits"),
        (twelve("19901301", "238"), "date", "date of birth"),
        ("811218-9877", "checksum", "check digit"),
        (twelve("20300101", "238"), "future", "future"),
    ],
)
def test_each_refusal_has_its_code_and_a_message_without_the_number(
    value: str, code: str, words: str
) -> None:
    with translation.override("en"):
        error = refusal(value)
        message = str(error.message)
        body = error.as_dict()["error"]
    assert isinstance(error, InvalidInput)
    assert error.code == code
    assert words in message
    assert body["code"] == code
    assert body["fields"] == {"personnummer": [message]}
    digits = "".join(ch for ch in value if ch.isdigit())
    for text in (message, str(error), repr(error), str(body)):
        assert digits not in text
        assert digits[2:] not in text
        assert digits[-4:] not in text


def test_the_messages_are_lazy_translations() -> None:
    error = refusal(twelve("20300101", "238"))
    assert isinstance(error.message, Promise)
    assert isinstance(error.fields["personnummer"], Promise)


def test_the_class_default_code_stays_for_callers_that_do_not_give_one() -> None:
    assert InvalidPersonnummer.code == "invalid_personnummer"
    assert InvalidPersonnummer().code == "invalid_personnummer"
    assert refusal("x").code == "format"


# --- The value ----------------------------------------------------------------


def test_str_and_repr_show_only_the_masked_form() -> None:
    parsed = parse_personnummer("811218-9876", today=TODAY)
    assert parsed.masked == "198112**-****"
    assert str(parsed) == "198112**-****"
    assert f"{parsed}" == "198112**-****"
    for text in (str(parsed), repr(parsed), repr([parsed]), f"{parsed!r}"):
        for form in ("198112189876", "8112189876", "811218-9876", "9876"):
            assert form not in text


def test_a_personnummer_is_a_value() -> None:
    a = parse_personnummer("811218-9876", today=TODAY)
    b = parse_personnummer("198112189876", today=TODAY)
    assert a == b
    assert hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.digits = "0"


def test_age_on() -> None:
    parsed = parse_personnummer("811218-9876", today=TODAY)
    assert parsed.age_on(date(2026, 12, 17)) == 44
    assert parsed.age_on(date(2026, 12, 18)) == 45
    leap = parse_personnummer(twelve("20000229", "238"), today=TODAY)
    assert leap.age_on(date(2026, 2, 28)) == 25
    assert leap.age_on(date(2026, 3, 1)) == 26


# --- Skatteverket's test numbers ---------------------------------------------


def register_numbers() -> list[str]:
    with REGISTER_CSV.open(encoding="utf-8") as handle:
        return [row["personnummer"] for row in csv.DictReader(handle)]


def test_every_test_personnummer_in_the_demo_register_parses() -> None:
    numbers = register_numbers()
    assert len(numbers) >= 35
    on = date(2026, 6, 1)
    parsed = [parse_personnummer(number, today=on) for number in numbers]
    assert [p.digits for p in parsed] == numbers
    assert {p.sex for p in parsed} == {"F", "M"}
    assert sum(p.is_coordination_number for p in parsed) >= 3
    ages = [p.age_on(on) for p in parsed]
    assert min(ages) == 18
    assert max(ages) == 70
    # The 10-digit forms parse to the same people.
    for p in parsed:
        separator = "+" if p.age_on(on) >= 100 else "-"
        assert parse_personnummer(short(p.digits, separator), today=on) == p


def test_the_century_depends_only_on_the_given_today() -> None:
    number = short(twelve("20100101", "238"))
    assert parse_personnummer(number, today=date(2026, 1, 1)).birth_date.year == 2010
    assert parse_personnummer(number, today=date(2010, 1, 1)).birth_date.year == 2010
    assert parse_personnummer(number, today=date(2009, 12, 31)).birth_date.year == 1910
