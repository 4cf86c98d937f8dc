"""Refusals of the settlement services, each with a code and a plain message."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied

# --- Runs -----------------------------------------------------------------------------------


class FourEyesRequired(PermissionDenied):
    code = "four_eyes_required"
    default_message = _("A run must be approved by another caseworker than the one who "
                        "prepared it.")


class RunNotApprovable(Conflict):
    code = "run_not_approvable"


class OutsidePaymentPeriod(RunNotApprovable):
    code = "outside_payment_period"


class NothingToSettle(RunNotApprovable):
    code = "nothing_to_settle"


class BudgetExceeded(Conflict):
    code = "budget_exceeded"


class OpenDisputes(Conflict):
    code = "open_disputes"


class RunBusy(Conflict):
    """Another worker is computing the run right now."""

    code = "run_busy"


class RunNotRestartable(Conflict):
    code = "run_not_restartable"


class RunNotExportable(Conflict):
    """The run was computed in a settlement format the auditor's file does not carry."""

    code = "run_not_exportable"


class SettlementNotFound(NotFound):
    """No visible run of this number has a line for the provider (the message is
    ``NotFound``'s)."""

    code = "settlement_not_found"


# --- Disputes of settlement lines -----------------------------------------------------------


class LineNotDisputable(NotFound):
    code = "settlement_line_not_found"
    default_message = _("No settlement line for this prepatient in this run is yours to "
                        "dispute.")


class DisputeAlreadyOpen(Conflict):
    code = "dispute_already_open"
    default_message = _("This line already has an open dispute; wait for its decision.")


class DisputeAlreadyResolved(Conflict):
    code = "dispute_already_resolved"
    default_message = _("This dispute has already been resolved.")
