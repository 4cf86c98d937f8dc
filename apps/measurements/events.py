"""What the measurements tell a provider in its event feed."""

from django.utils.translation import gettext_lazy as _

from apps.core.events import register_kind

SAFETY_NOTICE = register_kind("safety_notice", _("Safety notice: seek care"))
