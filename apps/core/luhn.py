"""The Luhn (mod 10) check used by Swedish personal and organisation numbers."""

from __future__ import annotations


def luhn_check_digit(digits: str) -> int:
    """The check digit for ``digits`` (weights 2,1,2,1,… from the left)."""
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return (10 - total % 10) % 10


def luhn_valid(digits: str) -> bool:
    """True when the last digit is the Luhn check digit of the others."""
    return digits.isdigit() and len(digits) >= 2 and (
        luhn_check_digit(digits[:-1]) == int(digits[-1])
    )
