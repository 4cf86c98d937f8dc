"""What the registry tells a provider in its event feed."""

from django.utils.translation import gettext_lazy as _

from apps.core.events import register_kind
from apps.registry.models import LifecycleEventType

NEW_LISTING = register_kind("new_listing", _("New prepatient listed"))
SWITCHED_AWAY = register_kind("switched_away", _("Prepatient switched to another provider"))
# A lifecycle event is published under its own type.
for _type, _label in (
        (LifecycleEventType.CONSENT_WITHDRAWN, _("Consent withdrawn")),
        (LifecycleEventType.EXCLUDED, _("Prepatient excluded")),
        (LifecycleEventType.REINSTATED, _("Prepatient reinstated")),
        (LifecycleEventType.DROPPED_OUT, _("Prepatient dropped out")),
        (LifecycleEventType.DECEASED, _("Prepatient deceased")),
        (LifecycleEventType.COMPLETED, _("Prepatient completed the programme"))):
    register_kind(_type.value, _label)
