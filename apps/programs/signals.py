"""What the programme app tells the apps above it (they cannot be imported here)."""

from django.dispatch import Signal

# Sent inside the publishing transaction with ``version`` (a ProgrammeVersion) once it is
# published: the consent app publishes the definition's consent text.
version_published = Signal()
