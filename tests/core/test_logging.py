from __future__ import annotations

import logging

import pytest

from apps.core.logging import RedactPersonalDataFilter, redact


@pytest.mark.parametrize("text", ["19121212-1212", "121212-1212", "191212121212",
                                  "1212121212", "121212+1212"])
def test_personnummer_shaped_digits_are_masked(text: str) -> None:
    assert redact(f"lookup {text} failed") == "lookup [personnummer] failed"


def test_other_numbers_are_left_alone() -> None:
    assert redact("order 12345 took 1500 ms") == "order 12345 took 1500 ms"


def test_the_filter_masks_arguments_of_a_log_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "checking %s", ("8112189876",),
                               None)
    RedactPersonalDataFilter().filter(record)
    assert record.getMessage() == "checking [personnummer]"


@pytest.mark.parametrize("text", [
    "task 5f1c2a3b-1970-0510-1234-9d0e1f2a3b4c succeeded",
    "sha 9a197005101234ff",
    "key pp-1970051012345",
])
def test_digits_inside_longer_identifiers_are_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text", ["pnr:197005101234.", "(7005101234)", "19700510 1234"])
def test_a_personnummer_between_punctuation_or_with_a_space_is_masked(text: str) -> None:
    assert "[personnummer]" in redact(text)
