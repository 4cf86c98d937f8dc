"""The settlement of one provider (SPEC §3.4, SETTLEMENT_FORMAT.md)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from prevention_engine import arithmetic
from prevention_engine.model import Evaluation, Payment, ProviderSettlement, Result


def paid_count(*, attributed: int, successes: int, floor_share: Decimal,
               ceiling_share: Decimal, min_attributed: int) -> int:
    """``max(0, min(S, floor(ceiling·N)) − ceil(floor·N))`` when ``N ≥ minimum``, else 0."""
    if attributed < min_attributed:
        return 0
    ceiling = math.floor(ceiling_share * attributed)
    floor = math.ceil(floor_share * attributed)
    return max(0, min(successes, ceiling) - floor)


def settle_counts(provider_id: str, *, successes: int, failures: int, pending: int,
                  payment: Payment) -> ProviderSettlement:
    """A provider's figures from its counts of attributed successes, failures and
    pending prepatients: final when nothing is pending."""
    attributed = successes + failures + pending
    count = paid_count(attributed=attributed, successes=successes,
                       floor_share=payment.floor_share, ceiling_share=payment.ceiling_share,
                       min_attributed=payment.min_attributed)
    return ProviderSettlement(
        id=provider_id, attributed=attributed, successes=successes, failures=failures,
        pending=pending, final=pending == 0, eligible=attributed >= payment.min_attributed,
        paid_count=count, amount=arithmetic.money(payment.per_success * count),
    )


def settle(provider_ids: Iterable[str], evaluations: Iterable[Evaluation],
           payment: Payment) -> tuple[ProviderSettlement, ...]:
    """Every provider's settlement, in the order given, zeros where nothing is attributed."""
    counts = {provider: [0, 0, 0] for provider in provider_ids}
    slot = {Result.SUCCESS: 0, Result.FAILURE: 1, Result.PENDING: 2}
    for evaluation in evaluations:
        if evaluation.provider is not None and evaluation.result in slot:
            counts.setdefault(evaluation.provider, [0, 0, 0])[slot[evaluation.result]] += 1
    return tuple(settle_counts(provider, successes=c[0], failures=c[1], pending=c[2],
                               payment=payment) for provider, c in counts.items())


def total_amount(providers: Iterable[ProviderSettlement]) -> Decimal:
    return arithmetic.money(sum((p.amount for p in providers), Decimal(0)))
