"""How the account pages name a person."""

from __future__ import annotations

from typing import Any


def user_display(user: Any) -> str:
    """The email address people sign in with; the username for accounts without one.

    allauth names a person in its messages ("Signed in as …"); its default, the
    username, is made up from the email address and never shown anywhere else.
    """
    return str(getattr(user, "email", "") or user.get_username())
