"""Signals the providers app sends so that higher apps can react without a cycle."""

from django.dispatch import Signal

# Sent after the commit of a decision that suspends or revokes a provider's
# authorization: sender=AuthorizationDecision, decision=<AuthorizationDecision>.
# The consent app tells the provider's current prepatients (apps.consent.receivers).
authorization_lost = Signal()
