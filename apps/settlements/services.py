"""Settlement runs: prepare, compute (a Celery task), approve with four eyes."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core import clock
from apps.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from apps.core.events import publish_to_provider
from apps.core.models import OrganisationEventKind
from apps.programs.models import Programme
from apps.providers.models import ApiCredential, Provider
from apps.settlements import rules
from apps.settlements.export import programme_rules, provider_key, settlement_input
from apps.settlements.interchange import recompute
from apps.settlements.models import (
    DISPUTE_REASON_MAX,
    Dispute,
    DisputeStatus,
    PrepatientLine,
    ProviderLine,
    RunKind,
    RunStatus,
    SettlementRun,
)


class FourEyesRequired(PermissionDenied):
    code = "four_eyes_required"
    default_message = _("A run must be approved by another caseworker than the one who "
                        "prepared it.")


class RunNotApprovable(Conflict):
    code = "run_not_approvable"


class BudgetExceeded(Conflict):
    code = "budget_exceeded"


class OpenDisputes(Conflict):
    code = "open_disputes"


def settlement_prepare(*, programme: Programme, as_of: date, kind: RunKind | str,
                       prepared_by: Any, corrects: SettlementRun | None = None,
                       note: str = "") -> SettlementRun:
    """Creates a run and queues its computation after commit."""
    from apps.settlements.tasks import compute_run

    if kind == RunKind.ADJUSTMENT and (corrects is None or corrects.status != RunStatus.APPROVED):
        raise InvalidInput(fields={"corrects": _("An adjustment corrects an approved run.")})
    if kind != RunKind.ADJUSTMENT and corrects is not None:
        raise InvalidInput(fields={"corrects": _("Only an adjustment corrects a run.")})
    if as_of > clock.today():
        raise InvalidInput(fields={"as_of": _("The date is in the future.")})
    with transaction.atomic():
        run = SettlementRun.objects.create(
            programme=programme, kind=kind, as_of=as_of, corrects=corrects,
            prepared_by=prepared_by, prepared_at=clock.now(), note=note,
        )
        transaction.on_commit(lambda: compute_run.delay(run.pk))
    return run


def _set_progress(run: SettlementRun, progress: int, **fields: Any) -> None:
    SettlementRun.objects.filter(pk=run.pk).update(progress=progress, **fields)


def settlement_compute(*, run_id: int) -> SettlementRun:
    """Computes (or recomputes after a crash) a run's lines; idempotent.

    The lines are replaced in one transaction, so a crash leaves either the
    old lines or the new, and a second run of the task gives the same lines.
    """
    run = SettlementRun.objects.select_related("programme").get(pk=run_id)
    if run.status == RunStatus.APPROVED:
        return run
    if run.status == RunStatus.COMPUTED and Dispute.objects.filter(run=run).exists():
        # Disputes point at these lines: the run stays as the providers saw it, and a
        # correction is a new run (see docs/decisions.md, disputes).
        return run
    _set_progress(run, 5, status=RunStatus.COMPUTING, error="")
    try:
        with transaction.atomic():
            SettlementRun.objects.select_for_update().get(pk=run.pk)
            PrepatientLine.objects.filter(run=run).delete()
            ProviderLine.objects.filter(run=run).delete()
            method = _evaluate(run)
            _set_progress(run, 70)
            total = _settle_providers(run)
            SettlementRun.objects.filter(pk=run.pk).update(
                status=RunStatus.COMPUTED, progress=100, computed_at=clock.now(),
                method=method, total_amount=total)
    except Exception as error:
        SettlementRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED,
                                                       error=f"{type(error).__name__}: {error}")
        raise
    run.refresh_from_db()
    return run


def _evaluate(run: SettlementRun) -> str:
    if connection.vendor == "postgresql":
        from apps.settlements.dbpath import evaluate_in_sql

        evaluate_in_sql(run_id=run.pk, programme=run.programme, as_of=run.as_of)
        return "sql"
    # SQLite (a first run on a laptop): the same rules through the exported input.
    data = settlement_input(run.programme, run.as_of)
    result = recompute(data)
    ids = dict(run.programme.prepatients.filter(enrolled_on__isnull=False)
               .values_list("pseudonym", "id"))
    PrepatientLine.objects.bulk_create([
        PrepatientLine(
            run=run, prepatient_id=ids[e.id], pseudonym=e.id,
            provider_id=int(e.provider[1:]) if e.provider else None,
            result=e.result.value, reason=e.reason, end_date=e.end_date or run.as_of,
            deciding_measurement_id=(int(e.deciding_sample.reference)
                                     if e.deciding_sample else None),
            deciding_taken_on=e.deciding_sample.taken_on if e.deciding_sample else None,
            deciding_value=e.deciding_sample.value if e.deciding_sample else None,
            deciding_unit=e.deciding_sample.unit if e.deciding_sample else "",
        ) for e in result.evaluations
    ], batch_size=5000)
    return "rules"


def _settle_providers(run: SettlementRun) -> Decimal:
    """One line per provider from the prepatient lines (aggregated in SQL)."""
    programme_rule = programme_rules(run.programme)
    counts = {row["provider_id"]: row for row in PrepatientLine.objects.filter(
        run=run, provider__isnull=False).values("provider_id").annotate(
            successes=Count("id", filter=Q(result="success")),
            failures=Count("id", filter=Q(result="failure")),
            pending=Count("id", filter=Q(result="pending")),
        )}
    listed = set(Provider.objects.filter(
        listings__prepatient__programme=run.programme,
        listings__valid_from__lte=run.as_of).values_list("id", flat=True).distinct())
    lines = []
    for provider_id in sorted(listed | set(counts)):
        row = counts.get(provider_id, {"successes": 0, "failures": 0, "pending": 0})
        settled = rules.settle_counts(provider_key(provider_id), successes=row["successes"],
                                      failures=row["failures"], pending=row["pending"],
                                      rules=programme_rule)
        lines.append(ProviderLine(
            run=run, provider_id=provider_id, attributed=settled.attributed,
            successes=settled.successes, failures=settled.failures, pending=settled.pending,
            final=settled.final, eligible=settled.eligible, paid_count=settled.paid_count,
            amount=settled.amount))
    ProviderLine.objects.bulk_create(lines)
    return sum((line.amount for line in lines), Decimal("0.00"))


def committed_amount(programme: Programme) -> Decimal:
    """What approved final and adjustment runs commit (an adjustment replaces its run)."""
    approved = SettlementRun.objects.filter(programme=programme, status=RunStatus.APPROVED,
                                            kind__in=[RunKind.FINAL, RunKind.ADJUSTMENT])
    replaced = set(approved.filter(kind=RunKind.ADJUSTMENT).values_list("corrects_id",
                                                                         flat=True))
    total = approved.exclude(pk__in=replaced).aggregate(total=Sum("total_amount"))["total"]
    return total or Decimal("0.00")


def budget_overview(programme: Programme) -> dict[str, Decimal]:
    """The budget authorization against what is committed and what is in prospect."""
    committed = committed_amount(programme)
    latest_provisional = (SettlementRun.objects
                          .filter(programme=programme, kind=RunKind.PROVISIONAL,
                                  status=RunStatus.COMPUTED)
                          .order_by("-as_of", "-pk").first())
    exposure = (latest_provisional.total_amount or Decimal("0.00")) if latest_provisional \
        else Decimal("0.00")
    return {
        "authorization": programme.budget_authorization,
        "committed": committed,
        "provisional_exposure": exposure,
        "remaining_after_commitments": programme.budget_authorization - committed,
        "evaluator_share": programme.evaluator_share,
        "maximum_outcome_payments": programme.max_outcome_payments,
    }


@transaction.atomic
def settlement_approve(*, run: SettlementRun, approver: Any,
                       accept_budget_overrun: bool = False,
                       accept_open_disputes: bool = False) -> SettlementRun:
    """The second pair of eyes: never the person who prepared the run."""
    run = SettlementRun.objects.select_for_update().select_related("programme").get(pk=run.pk)
    if not getattr(approver, "is_authenticated", False) or approver.pk == run.prepared_by_id:
        raise FourEyesRequired()
    if run.status != RunStatus.COMPUTED:
        raise RunNotApprovable(_("Only a computed run awaiting approval can be approved."))
    if run.kind == RunKind.PROVISIONAL:
        raise RunNotApprovable(_("A provisional run is a forecast and is not approved."))
    if run.kind == RunKind.FINAL and run.provider_lines.filter(final=False).exists():
        raise RunNotApprovable(_("Some providers still have prepatients awaiting evaluation; "
                                 "a final run needs every attributed prepatient evaluated."))
    open_disputes = Dispute.objects.filter(run=run, status=DisputeStatus.OPEN).count()
    if open_disputes and not accept_open_disputes:
        # A provider's open dispute should be decided before the money is committed;
        # the approver may still go ahead (one provider must not hold up the others).
        raise OpenDisputes(ngettext(
            "%(count)d dispute of this run is still open. Decide it first, or confirm "
            "that the run is approved with it open.",
            "%(count)d disputes of this run are still open. Decide them first, or confirm "
            "that the run is approved with them open.", open_disputes)
            % {"count": open_disputes})
    after = committed_amount(run.programme) + (run.total_amount or Decimal("0"))
    if run.corrects is not None:
        after -= run.corrects.total_amount or Decimal("0")
    if after > run.programme.budget_authorization and not accept_budget_overrun:
        raise BudgetExceeded(_("Approving would commit %(after)s, above the budget "
                               "authorization of %(budget)s.")
                             % {"after": after, "budget": run.programme.budget_authorization})
    run.status = RunStatus.APPROVED
    run.approved_by = approver
    run.approved_at = clock.now()
    run.save(update_fields=["status", "approved_by", "approved_at"])
    return run


def payout_csv(run: SettlementRun) -> str:
    """The finance system's file: one row per provider with an amount, and a checksum."""
    if run.status != RunStatus.APPROVED:
        raise RunNotApprovable(_("Only approved runs are paid out."))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["provider", "organisation_number", "amount", "currency", "run_reference"])
    for line in run.provider_lines.select_related("provider").order_by("provider_id"):
        writer.writerow([line.provider.name, line.provider.organisation_number,
                         f"{line.amount:.2f}", run.programme.currency, run.reference])
    body = buffer.getvalue()
    checksum = hashlib.sha256(body.encode()).hexdigest()
    return f"{body}# sha256 {checksum}\n"


# --- Disputes of settlement lines ------------------------------------------------------
#
# A provider disputes one of its prepatient lines in a computed or approved run;
# a caseworker upholds or rejects it with a reason. A dispute never changes the
# line: an upheld dispute on an approved run is corrected by an adjustment run
# (``settlement_prepare(kind="adjustment", corrects=run)``).

DISPUTABLE_STATUSES = (RunStatus.COMPUTED, RunStatus.APPROVED)


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


def _dispute_text(value: Any, *, field: str, missing: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(fields={field: missing})
    if len(text) > DISPUTE_REASON_MAX:
        raise InvalidInput(fields={field: _("At most %(max)d characters.")
                                   % {"max": DISPUTE_REASON_MAX}})
    return text


def dispute_raise(*, line: PrepatientLine, reason: str, credential: ApiCredential) -> Dispute:
    """A provider disputes one of its own lines in a computed or approved run.

    ``credential`` is the provider's API key that raised it. At most one dispute
    per line is open at a time (also a partial unique index in the database).
    """
    text = _dispute_text(reason, field="reason",
                         missing=_("State why you dispute the line."))
    if (credential.provider_id is None or line.provider_id != credential.provider_id):
        raise LineNotDisputable()
    with transaction.atomic():
        run = SettlementRun.objects.get(pk=line.run_id)
        if run.status not in DISPUTABLE_STATUSES:
            raise LineNotDisputable()
        if Dispute.objects.filter(line=line, status=DisputeStatus.OPEN).exists():
            raise DisputeAlreadyOpen()
        try:
            with transaction.atomic():
                return Dispute.objects.create(
                    line=line, run=run, provider_id=line.provider_id, reason=text,
                    raised_at=clock.now(), raised_by_key=credential,
                    raised_by_organisation=credential.organisation_label,
                )
        except IntegrityError as error:  # a concurrent dispute of the same line won
            if Dispute.objects.filter(line=line, status=DisputeStatus.OPEN).exists():
                raise DisputeAlreadyOpen() from error
            raise


def dispute_resolve(*, dispute: Dispute, decision: DisputeStatus | str, reason: str,
                    caseworker: Any) -> Dispute:
    """Upholds or rejects an open dispute with a reason; the provider is told through its
    event feed. The line is never changed."""
    if decision not in (DisputeStatus.UPHELD, DisputeStatus.REJECTED):
        raise InvalidInput(fields={"decision": _("Choose upheld or rejected.")})
    text = _dispute_text(reason, field="reason",
                         missing=_("State the reason for the decision."))
    if not getattr(caseworker, "is_authenticated", False):
        raise PermissionDenied()
    with transaction.atomic():
        locked = (Dispute.objects.select_for_update(of=("self",))
                  .select_related("line", "run").get(pk=dispute.pk))
        if locked.status != DisputeStatus.OPEN:
            raise DisputeAlreadyResolved()
        locked.status = DisputeStatus(decision)
        locked.resolution_reason = text
        locked.resolved_by = caseworker
        locked.resolved_at = clock.now()
        locked.save(update_fields=["status", "resolution_reason", "resolved_by",
                                   "resolved_at"])
        publish_to_provider(
            provider_id=locked.provider_id, kind=OrganisationEventKind.DISPUTE_RESOLVED,
            subject=locked.line.pseudonym, dispute=locked.pk, run=locked.run_id,
            run_reference=locked.run.reference, decision=locked.status,
        )
    return locked
