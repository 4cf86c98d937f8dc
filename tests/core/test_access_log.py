from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from apps.core import clock
from apps.core.access import record_access, record_access_many
from apps.core.models import AccessLogEntry, AccessPurpose
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_record_access_writes_who_read_whose_data_when_and_why() -> None:
    reader = UserFactory(is_staff=True)
    subject = ProviderFactory()
    with clock.travel_to(datetime(2027, 1, 5, 10, 0)):
        entry = record_access(subject=subject, purpose=AccessPurpose.CASEWORK,
                              what="detail page", user=reader)
    entry.refresh_from_db()
    assert entry.actor_user == reader
    assert (entry.subject_type, entry.subject_id) == ("providers.provider", str(subject.pk))
    assert entry.purpose == "casework"
    assert entry.at == datetime(2027, 1, 5, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))


def test_record_access_many_logs_each_subject_of_a_listing() -> None:
    subjects = ProviderFactory.create_batch(3)
    count = record_access_many(subjects=subjects, purpose=AccessPurpose.CARE,
                               what="listing", organisation="provider:7")
    assert count == 3
    assert set(AccessLogEntry.objects.values_list("subject_id", flat=True)) == {
        str(s.pk) for s in subjects}
    assert set(AccessLogEntry.objects.values_list("actor_organisation", flat=True)) == {
        "provider:7"}


def test_access_log_entries_cannot_be_changed() -> None:
    entry = record_access(subject=ProviderFactory(), purpose="casework", what="x",
                          user=UserFactory())
    entry.what = "something else"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()


def test_an_entry_without_any_actor_is_refused_by_the_database() -> None:
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        record_access(subject=ProviderFactory(), purpose="casework", what="x")
