"""Settlement runs: prepare, compute (a Celery task), approve with four eyes, pay once.

A run is computed by the rule engine's rules: on PostgreSQL as SQL generated
from the programme's rules (``apps.settlements.dbpath``), elsewhere by the
engine itself on the exported input; both give the same lines. Approval pays
each provider at most once (``ProviderPayment``); a run whose computation died
is found by ``settlement_runs_recover`` and computed again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core import clock
from apps.core.errors import InvalidInput, NotFound, PermissionDenied
from apps.core.events import publish_to_provider
from apps.programs.errors import ProgrammeNotDefined
from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion
from apps.programs.selectors import programme_version_current
from apps.providers.models import ApiCredential, Provider
from apps.settlements import events, selectors
from apps.settlements.dbpath import evaluate_in_sql
from apps.settlements.errors import (
    BudgetExceeded,
    DisputeAlreadyOpen,
    DisputeAlreadyResolved,
    FourEyesRequired,
    LineNotDisputable,
    NothingToSettle,
    OpenDisputes,
    OutsidePaymentPeriod,
    RunBusy,
    RunNotApprovable,
    RunNotRestartable,
)
from apps.settlements.export import settlement_input
from apps.settlements.models import (
    DISPUTE_REASON_MAX,
    Dispute,
    DisputeStatus,
    PaymentKind,
    PrepatientLine,
    ProviderLine,
    ProviderPayment,
    RunKind,
    RunStatus,
    SettlementRun,
)
from apps.settlements.rules import provider_id, provider_key, run_version, settlement_rules
from prevention_engine.interchange import evidence_document, recompute
from prevention_engine.settlement import settle_counts

logger = logging.getLogger(__name__)

# A run still queued this long after it was handed to the broker is handed again.
QUEUED_PATIENCE = timedelta(minutes=10)
# A computing run whose worker holds no lock on it any more, started this long ago,
# has lost its worker (PostgreSQL: the row lock tells; elsewhere only the time).
STALLED_AFTER = timedelta(minutes=1)
STALLED_AFTER_WITHOUT_LOCKS = timedelta(minutes=30)


# --- Preparing and queueing -------------------------------------------------------------


def settlement_prepare(*, programme: Programme, as_of: date, kind: RunKind | str,
                       prepared_by: Any, corrects: SettlementRun | None = None,
                       note: str = "", version: ProgrammeVersion | None = None
                       ) -> SettlementRun:
    """Creates a run and queues its computation after commit.

    A run settles the enrollments made under one published version of the programme
    (``version``, by default the current one; an adjustment, the corrected run's), by
    that version's rules: the settlement input holds one rule set.

    The run settles the data recorded up to this moment (its data cutoff). If the
    message broker cannot be reached the run is still created, queued, and handed
    to the workers by ``settlement_runs_recover`` once the broker answers again.
    """
    if kind == RunKind.ADJUSTMENT and (corrects is None or corrects.status != RunStatus.APPROVED
                                       or corrects.kind == RunKind.PROVISIONAL):
        raise InvalidInput(fields={"corrects": _("An adjustment corrects an approved final "
                                                 "or adjustment run.")})
    if corrects is not None and corrects.programme_id != programme.pk:
        raise InvalidInput(fields={"corrects": _("The corrected run is of another programme.")})
    if kind != RunKind.ADJUSTMENT and corrects is not None:
        raise InvalidInput(fields={"corrects": _("Only an adjustment corrects a run.")})
    if as_of > clock.today():
        raise InvalidInput(fields={"as_of": _("The date is in the future.")})
    if version is None:
        version = run_version(corrects) if corrects is not None \
            else programme_version_current(programme)
    if version is None:
        raise ProgrammeNotDefined()
    if version.programme_id != programme.pk or version.status != DefinitionStatus.PUBLISHED:
        raise InvalidInput(fields={"version": _("Not a published version of this programme.")})
    if corrects is not None and run_version(corrects).pk != version.pk:
        raise InvalidInput(fields={"corrects": _("The corrected run settled another version "
                                                 "of the programme.")})
    settlement_rules(version)  # refuses a version whose rules cannot be settled
    with transaction.atomic():
        run = SettlementRun.objects.create(
            programme=programme, programme_version=version, kind=kind, as_of=as_of,
            corrects=corrects,
            prepared_by=prepared_by, prepared_at=clock.now(), note=note,
        )
        transaction.on_commit(lambda: settlement_enqueue(run_id=run.pk))
    return run


def settlement_enqueue(*, run_id: int) -> bool:
    """Hands a run to the workers; False (and the run stays queued) when the broker
    cannot be reached. Never raises: a caseworker's request must not fail for it."""
    from apps.settlements.tasks import compute_run

    try:
        compute_run.apply_async((run_id,), retry=True, retry_policy={
            "max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1})
    except Exception:  # the broker is down or refuses: the periodic check retries
        logger.warning("Settlement run %s could not be handed to the workers; it stays "
                       "queued and is retried by the periodic check", run_id, exc_info=True)
        return False
    SettlementRun.objects.filter(pk=run_id, status__in=(RunStatus.QUEUED, RunStatus.COMPUTING)
                                 ).update(enqueued_at=clock.now())
    return True


# --- Computing ------------------------------------------------------------------------------


def _claimed(run_id: int) -> bool:
    """Marks the run computing for a new attempt unless another worker holds it."""
    with transaction.atomic():
        free = (SettlementRun.objects.select_for_update(skip_locked=True)
                .filter(pk=run_id).values_list("status", flat=True).first())
        if free is None:
            if SettlementRun.objects.filter(pk=run_id).exists():
                raise RunBusy(_("Another worker is computing this run."))
            raise NotFound(_("No such settlement run."))
        if free not in (RunStatus.QUEUED, RunStatus.COMPUTING):
            return False
        SettlementRun.objects.filter(pk=run_id).update(
            status=RunStatus.COMPUTING, progress=5, error="", started_at=clock.now(),
            attempts=F("attempts") + 1)
    return True


def settlement_compute(*, run_id: int) -> SettlementRun:
    """Computes a queued run (or one whose computation died); idempotent.

    A computed, approved or failed run is left as it is (``settlement_compute_again``
    queues a failed or stalled one). The lines are replaced in one transaction that
    holds the run's row lock throughout, so a crash leaves no half-written lines, a
    second worker never computes the same run at once, and because the run reads
    only data recorded by its cutoff every attempt gives the same lines.
    """
    if not _claimed(run_id):
        return SettlementRun.objects.get(pk=run_id)
    try:
        with transaction.atomic():
            run = (SettlementRun.objects.select_for_update(of=("self",))
                   .select_related("programme").get(pk=run_id))
            if run.status != RunStatus.COMPUTING:
                return run
            PrepatientLine.objects.filter(run=run).delete()
            ProviderLine.objects.filter(run=run).delete()
            method, counts = _evaluate(run)
            SettlementRun.objects.filter(pk=run.pk).update(progress=70)
            total = _settle_providers(run, counts)
            SettlementRun.objects.filter(pk=run.pk).update(
                status=RunStatus.COMPUTED, progress=100, computed_at=clock.now(),
                method=method, total_amount=total, format_version=2)
    except Exception as error:
        SettlementRun.objects.filter(pk=run_id, status=RunStatus.COMPUTING).update(
            status=RunStatus.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
        raise
    return SettlementRun.objects.get(pk=run_id)


Counts = dict[int, tuple[int, int, int]]  # provider id: successes, failures, pending


def _evaluate(run: SettlementRun) -> tuple[str, Counts]:
    """Writes the run's prepatient lines; returns how, and each provider's counts."""
    if connection.vendor == "postgresql":
        return "sql", evaluate_in_sql(run=run).counts
    # SQLite (a first run on a laptop): the rule engine on the exported input.
    version = run_version(run)
    data = settlement_input(version, run.as_of, run.data_cutoff)
    result = recompute(data)
    ids = dict(version.enrollments.filter(enrolled_on__isnull=False)
               .values_list("pseudonym", "id"))
    PrepatientLine.objects.bulk_create([
        PrepatientLine(
            run=run, prepatient_id=ids[e.id], pseudonym=e.id,
            provider_id=provider_id(e.provider) if e.provider else None,
            result=e.result.value, reason=e.reason, end_date=e.end_date or run.as_of,
            decided_on=e.event.on if e.event else None,
            evidence=[evidence_document(item) for item in e.evidence],
        ) for e in result.evaluations
    ], batch_size=5000)
    counts = {provider_id(p.id): (p.successes, p.failures, p.pending)
              for p in result.providers if p.attributed}
    return "engine", counts


def _settle_providers(run: SettlementRun, counts: Counts) -> Decimal:
    """One line per provider listed in the run's cohort, from its counts."""
    version = run_version(run)
    payment = settlement_rules(version).payment
    listed = set(Provider.objects.filter(
        listings__prepatient__programme_version=version, listings__valid_from__lte=run.as_of,
        listings__created_at__lte=run.data_cutoff).values_list("id", flat=True).distinct())
    lines = []
    for pk in sorted(listed | set(counts)):
        successes, failures, pending = counts.get(pk, (0, 0, 0))
        settled = settle_counts(provider_key(pk), successes=successes, failures=failures,
                                pending=pending, payment=payment)
        lines.append(ProviderLine(
            run=run, provider_id=pk, attributed=settled.attributed,
            successes=settled.successes, failures=settled.failures, pending=settled.pending,
            final=settled.final, eligible=settled.eligible, paid_count=settled.paid_count,
            amount=settled.amount))
    ProviderLine.objects.bulk_create(lines)
    return sum((line.amount for line in lines), Decimal("0.00"))


# --- Runs that must not get lost ------------------------------------------------------------


def run_is_stalled(run: SettlementRun) -> bool:
    """Queued but never handed to the workers (or long ago), or computing with no live
    worker: the run needs computing again."""
    now = clock.now()
    if run.status == RunStatus.QUEUED:
        return run.enqueued_at is None or run.enqueued_at < now - QUEUED_PATIENCE
    if run.status != RunStatus.COMPUTING:
        return False
    started = run.started_at or run.prepared_at
    if connection.vendor != "postgresql":
        return started < now - STALLED_AFTER_WITHOUT_LOCKS
    if started >= now - STALLED_AFTER:
        return False
    with transaction.atomic():
        return (SettlementRun.objects.select_for_update(skip_locked=True)
                .filter(pk=run.pk, status=RunStatus.COMPUTING).exists())


def settlement_runs_recover() -> list[int]:
    """The periodic check (Celery beat): hands every stalled run to the workers again.
    Returns the runs handed on."""
    handed = []
    waiting = SettlementRun.objects.filter(status__in=(RunStatus.QUEUED, RunStatus.COMPUTING))
    for run in waiting.order_by("pk"):
        if not run_is_stalled(run):
            continue
        if run.status == RunStatus.COMPUTING:
            SettlementRun.objects.filter(pk=run.pk, status=RunStatus.COMPUTING).update(
                status=RunStatus.QUEUED, progress=0)
        if settlement_enqueue(run_id=run.pk):
            handed.append(run.pk)
    return handed


def run_is_restartable(run: SettlementRun) -> bool:
    """Failed or stalled: a caseworker may have the run computed again."""
    return run.status == RunStatus.FAILED or run_is_stalled(run)


def settlement_compute_again(*, run: SettlementRun) -> SettlementRun:
    """A caseworker's "compute again" for a failed or stalled run."""
    run = SettlementRun.objects.get(pk=run.pk)
    if not run_is_restartable(run):
        raise RunNotRestartable(_("Only a failed or stalled run is computed again; this one "
                                  "is %(status)s.") % {"status": run.get_status_display()})
    SettlementRun.objects.filter(pk=run.pk, status=run.status).update(
        status=RunStatus.QUEUED, progress=0, error="", enqueued_at=None)
    settlement_enqueue(run_id=run.pk)
    return SettlementRun.objects.get(pk=run.pk)


# --- Approval and payment -------------------------------------------------------------------


def committed_amount(programme: Programme) -> Decimal:
    """What approved runs have paid or owe: every final payment and adjustment."""
    total = ProviderPayment.objects.filter(programme=programme).aggregate(
        total=Sum("amount"))["total"]
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


def planned_payments(run: SettlementRun) -> list[ProviderPayment]:
    """What approving ``run`` would pay, unsaved.

    A final run pays each provider whose line is final (every attributed prepatient
    evaluated) and that has no final payment yet; the others stay provisional. An
    adjustment pays each already settled provider the difference between its line
    and what it has been paid, correcting its latest payment.
    """
    version = run_version(run)
    paid: dict[int, list[ProviderPayment]] = {}
    for payment in selectors.version_payments(version).order_by("approved_at", "pk"):
        paid.setdefault(payment.provider_id, []).append(payment)
    planned = []
    for line in run.provider_lines.filter(final=True).order_by("provider_id"):
        history = paid.get(line.provider_id)
        if run.kind == RunKind.FINAL and not history:
            planned.append(ProviderPayment(
                programme_id=run.programme_id, programme_version=version,
                provider_id=line.provider_id, run=run,
                line=line, kind=PaymentKind.FINAL, amount=line.amount,
                settled_amount=line.amount))
        elif run.kind == RunKind.ADJUSTMENT and history:
            latest = history[-1]
            planned.append(ProviderPayment(
                programme_id=run.programme_id, programme_version=version,
                provider_id=line.provider_id, run=run,
                line=line, kind=PaymentKind.ADJUSTMENT,
                amount=line.amount - latest.settled_amount, settled_amount=line.amount,
                corrects=latest))
    return planned


@transaction.atomic
def settlement_approve(*, run: SettlementRun, approver: Any,
                       accept_budget_overrun: bool = False,
                       accept_open_disputes: bool = False) -> SettlementRun:
    """The second pair of eyes: never the person who prepared the run. Pays what
    ``planned_payments`` says, once."""
    run = SettlementRun.objects.select_for_update().select_related("programme").get(pk=run.pk)
    if not getattr(approver, "is_authenticated", False) or approver.pk == run.prepared_by_id:
        raise FourEyesRequired()
    if run.status != RunStatus.COMPUTED:
        raise RunNotApprovable(_("Only a computed run awaiting approval can be approved."))
    if run.kind == RunKind.PROVISIONAL:
        raise RunNotApprovable(_("A provisional run is a forecast and is not approved."))
    programme = Programme.objects.select_for_update().get(pk=run.programme_id)
    today = clock.today()
    if not programme.payments_from <= today <= programme.payments_until:
        raise OutsidePaymentPeriod(
            _("Payments of %(programme)s are approved from %(start)s to %(end)s; today is "
              "%(today)s.") % {"programme": programme.name,
                               "start": programme.payments_from.isoformat(),
                               "end": programme.payments_until.isoformat(),
                               "today": today.isoformat()})
    payments = planned_payments(run)
    if not payments:
        raise NothingToSettle(
            _("No provider in this run is final and not yet paid: every one either still "
              "has prepatients awaiting evaluation or has been settled by an approved "
              "final run (a correction is an adjustment run).") if run.kind == RunKind.FINAL
            else _("No provider of this adjustment has been settled yet: a provider is "
                   "first settled by a final run."))
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
    after = committed_amount(programme) + sum((p.amount for p in payments), Decimal("0"))
    if after > programme.budget_authorization and not accept_budget_overrun:
        raise BudgetExceeded(_("Approving would commit %(after)s, above the budget "
                               "authorization of %(budget)s.")
                             % {"after": after, "budget": programme.budget_authorization})
    run.status = RunStatus.APPROVED
    run.approved_by = approver
    run.approved_at = clock.now()
    run.save(update_fields=["status", "approved_by", "approved_at"])
    try:
        with transaction.atomic():
            for payment in payments:
                payment.approved_at = run.approved_at
            ProviderPayment.objects.bulk_create(payments)
    except IntegrityError as error:  # another approval paid one of these providers first
        raise RunNotApprovable(_("A provider of this run has just been settled by another "
                                 "approval; prepare the run again.")) from error
    return run


def payout_csv(run: SettlementRun) -> str:
    """The finance system's file: one row per payment of the run, and a checksum."""
    if run.status != RunStatus.APPROVED:
        raise RunNotApprovable(_("Only approved runs are paid out."))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["provider", "organisation_number", "kind", "amount", "currency",
                     "run_reference", "corrects_run_reference"])
    for payment in (run.payments.select_related("provider", "corrects__run__programme")
                    .order_by("provider_id")):
        writer.writerow([payment.provider.name, payment.provider.organisation_number,
                         payment.kind, f"{payment.amount:.2f}", run.programme.currency,
                         run.reference,
                         payment.corrects.run.reference if payment.corrects else ""])
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


def dispute_raise_for(*, provider: Provider, run_id: int | None, pseudonym: str, reason: str,
                      credential: ApiCredential) -> Dispute:
    """The provider disputes its line for the programme ID ``pseudonym`` in the visible run
    ``run_id`` (``dispute_raise``); ``LineNotDisputable`` when it has no such line.
    ``run_id`` None: the caller was given no run number the database can hold."""
    line = None
    if run_id is not None:
        line = selectors.provider_settlement_line(provider, run_id, pseudonym)
    if line is None:
        raise LineNotDisputable()
    return dispute_raise(line=line, reason=reason, credential=credential)


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
            provider_id=locked.provider_id, kind=events.DISPUTE_RESOLVED,
            subject=locked.line.pseudonym, dispute=locked.pk, run=locked.run_id,
            run_reference=locked.run.reference, decision=locked.status,
        )
    return locked
