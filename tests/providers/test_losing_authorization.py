"""When a provider is suspended or revoked, its prepatients are told and may switch."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.utils import translation

from apps.consent.models import ConsentKind
from apps.consent.services import consent_withdraw
from apps.core import clock
from apps.providers.models import DecisionKind
from apps.providers.services import authorization_decide
from apps.registry.errors import SwitchNotAllowed
from apps.registry.models import ListingReason
from apps.registry.services import listing_switch, prepatient_enroll
from prevention_engine.dates import add_months
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

ENROLLED = date(2026, 8, 3)


@pytest.fixture
def listed(make_candidate):
    """Two prepatients listed with ``first``, one with ``other``."""
    first, other = ProviderFactory(name="First AB"), ProviderFactory(name="Other AB")
    with clock.travel_to(ENROLLED):
        mine = [prepatient_enroll(prepatient=make_candidate(), provider=first)
                for _ in range(2)]
        theirs = prepatient_enroll(prepatient=make_candidate(), provider=other)
    return first, other, mine, theirs


@pytest.mark.parametrize("decision", [DecisionKind.SUSPEND, DecisionKind.REVOKE])
def test_losing_authorization_emails_each_current_prepatient_after_commit(
    listed, decider, django_capture_on_commit_callbacks, decision: str,
) -> None:
    first, _other, mine, theirs = listed
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        authorization_decide(provider=first, decision=decision, reason="Tax debts found.",
                             actor=decider)
    assert mail.outbox == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        p.user.email for p in mine)
    assert all(len(message.to) == 1 for message in mail.outbox)  # no shared recipient list
    assert theirs.user.email not in {message.to[0] for message in mail.outbox}


def test_the_email_says_another_provider_may_be_chosen_whatever_the_window(
    listed, decider, django_capture_on_commit_callbacks, settings,
) -> None:
    settings.LANGUAGE_CODE = "en"
    first, *_rest = listed
    with django_capture_on_commit_callbacks(execute=True), translation.override("sv"):
        authorization_decide(provider=first, decision=DecisionKind.REVOKE,
                             reason="Convicted of welfare crime.", actor=decider)
    message = mail.outbox[0]
    assert "First AB" in message.subject
    assert "revoked" in message.body
    assert "choose another provider, whatever the usual switching window" in message.body
    assert "Convicted" not in message.body  # the reason stays in the back-office


def test_prepatients_without_an_email_or_consent_are_not_emailed(
    listed, decider, django_capture_on_commit_callbacks,
) -> None:
    first, _other, mine, _theirs = listed
    mine[0].user.email = ""
    mine[0].user.save()
    with django_capture_on_commit_callbacks(execute=True):
        authorization_decide(provider=first, decision=DecisionKind.SUSPEND, reason="Check.",
                             actor=decider)
    assert [message.to for message in mail.outbox] == [[mine[1].user.email]]
    mail.outbox.clear()
    consent_withdraw(prepatient=mine[1], kind=ConsentKind.DATA_SHARING)
    with django_capture_on_commit_callbacks(execute=True):
        authorization_decide(provider=first, decision=DecisionKind.REVOKE, reason="Check.",
                             actor=decider)
    assert mail.outbox == []


def test_reinstating_sends_nothing(listed, decider, django_capture_on_commit_callbacks) -> None:
    first, *_rest = listed
    with django_capture_on_commit_callbacks(execute=True):
        authorization_decide(provider=first, decision=DecisionKind.SUSPEND, reason="Check.",
                             actor=decider)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        authorization_decide(provider=first, decision=DecisionKind.REINSTATE,
                             reason="Resolved.", actor=decider)
    assert mail.outbox == []


def test_after_revocation_a_prepatient_can_switch_twenty_months_after_enrollment(
    listed, decider,
) -> None:
    first, other, mine, _theirs = listed
    twenty_months = add_months(ENROLLED, 20)
    with clock.travel_to(twenty_months), pytest.raises(SwitchNotAllowed):
        listing_switch(prepatient=mine[1], provider=other)  # the window has closed
    with clock.travel_to(twenty_months):
        authorization_decide(provider=first, decision=DecisionKind.REVOKE,
                             reason="Tax debts found.", actor=decider)
        listing = listing_switch(prepatient=mine[0], provider=other)
    assert (listing.valid_from, listing.reason) == (
        twenty_months, ListingReason.PROVIDER_LOST_AUTHORIZATION)
    mine[0].refresh_from_db()
    assert mine[0].current_provider == other
