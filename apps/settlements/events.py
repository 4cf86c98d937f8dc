"""What the settlements tell a provider in its event feed."""

from django.utils.translation import gettext_lazy as _

from apps.core.events import register_kind

DISPUTE_RESOLVED = register_kind("dispute_resolved", _("Dispute of a settlement line resolved"))
