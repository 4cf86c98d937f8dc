"""Recording reads of personal data: "who read whose data, when, why".

Every path that shows a prepatient's health data to staff or a provider calls
``record_access`` (one subject) or ``record_access_many`` (a list page or an
API listing) in the same request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from apps.core import clock
from apps.core.models import AccessLogEntry, AccessPurpose


def _subject_key(subject: models.Model) -> tuple[str, str]:
    return subject._meta.label_lower, str(subject.pk)


def _actor(user: Any) -> Any:
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def record_access(
    *,
    subject: models.Model,
    purpose: AccessPurpose | str,
    what: str,
    user: Any = None,
    organisation: str = "",
) -> AccessLogEntry:
    subject_type, subject_id = _subject_key(subject)
    return AccessLogEntry.objects.create(
        at=clock.now(),
        actor_user=_actor(user),
        actor_organisation=organisation,
        subject_type=subject_type,
        subject_id=subject_id,
        purpose=purpose,
        what=what[:200],
    )


def record_access_many(
    *,
    subjects: Iterable[models.Model],
    purpose: AccessPurpose | str,
    what: str,
    user: Any = None,
    organisation: str = "",
) -> int:
    moment = clock.now()
    actor = _actor(user)
    entries = [
        AccessLogEntry(
            at=moment,
            actor_user=actor,
            actor_organisation=organisation,
            subject_type=subject_type,
            subject_id=subject_id,
            purpose=purpose,
            what=what[:200],
        )
        for subject_type, subject_id in map(_subject_key, subjects)
    ]
    AccessLogEntry.objects.bulk_create(entries, batch_size=1000)
    return len(entries)
