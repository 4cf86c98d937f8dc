from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.providers.validators import normalise_organisation_number


@pytest.mark.parametrize("value,expected", [
    ("556036-0793", "5560360793"),
    ("5560360793", "5560360793"),
    ("165560360793", "5560360793"),
    ("802400-1011", "8024001011"),
])
def test_valid_organisation_numbers_are_normalised(value: str, expected: str) -> None:
    assert normalise_organisation_number(value) == expected


@pytest.mark.parametrize("value,code", [
    ("556036-0794", "checksum"),
    ("55603607", "format"),
    ("55603607AB", "format"),
    ("5510360793", "third_digit"),
])
def test_invalid_organisation_numbers_are_refused_with_a_reason(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as error:
        normalise_organisation_number(value)
    assert error.value.code == code
