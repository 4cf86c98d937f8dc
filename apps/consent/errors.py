from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, PermissionDenied


class ConsentMissing(PermissionDenied):
    code = "consent_missing"
    default_message = _("There is no valid consent to share this person's data.")


class ConsentConflict(Conflict):
    code = "consent_conflict"
