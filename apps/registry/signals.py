"""Signals the registry sends so that higher apps can react without a cycle."""

from django.dispatch import Signal

# Sent inside the enrollment transaction: sender=Prepatient, prepatient=<Prepatient>.
prepatient_enrolled = Signal()
