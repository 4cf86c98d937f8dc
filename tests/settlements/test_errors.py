"""The settlement services' typed errors keep the codes, messages and statuses the API
answers with."""

from __future__ import annotations

from django.utils import translation

from apps.core.errors import NotFound
from apps.settlements.errors import LineNotDisputable, SettlementNotFound


def test_a_run_without_lines_for_the_provider_is_not_found() -> None:
    error = SettlementNotFound()
    assert isinstance(error, NotFound)
    assert (error.code, error.http_status) == ("settlement_not_found", 404)
    with translation.override("en"):
        assert error.as_dict() == {"error": {"code": "settlement_not_found",
                                             "message": "Not found.", "fields": {}}}


def test_a_line_not_to_dispute_is_not_found() -> None:
    assert (LineNotDisputable.code, LineNotDisputable.http_status) == (
        "settlement_line_not_found", 404)
