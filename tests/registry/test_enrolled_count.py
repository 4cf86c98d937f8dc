"""The programme's enrolled count (``Programme.enrolled_count``): what the cap is
decided by, kept by enrollment under the programme's lock. It equals the prepatients
with an enrollment date, whatever becomes of them; a programme saved from an older
copy, a stale ``prepatient.programme`` or rows written around the services never
let one more than the cap in; and an enrollment reads nothing that grows with the
programme."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core import clock
from apps.programs.models import Programme
from apps.registry.errors import InclusionRefused
from apps.registry.models import ExclusionReason, Prepatient
from apps.registry.services import (
    enrolled_count,
    enrolled_count_recount,
    inclusion_decide,
    inclusion_sample_receive_lab,
    lifecycle_drop_out,
    lifecycle_exclude,
    lifecycle_register_death,
    lifecycle_reinstate,
    prepatient_enroll,
    referral_issue,
)
from tests.factories import ProviderFactory, UserFactory
from tests.registry import factories

pytestmark = pytest.mark.django_db

DAY = date(2026, 8, 3)
LATER = date(2027, 2, 1)


def real_count(programme: Programme) -> int:
    return Prepatient.objects.filter(programme=programme, enrolled_on__isnull=False).count()


def stored_count(programme: Programme) -> int:
    return Programme.objects.get(pk=programme.pk).enrolled_count


def test_the_count_is_every_enrollment_whatever_becomes_of_the_person(
    make_candidate, programme
) -> None:
    provider, caseworker = ProviderFactory(), UserFactory(is_staff=True)
    with clock.travel_to(DAY):
        people = [prepatient_enroll(prepatient=make_candidate(), provider=provider)
                  for _ in range(5)]
        not_included = make_candidate(hba1c=Decimal("40"))
        with pytest.raises(InclusionRefused):
            prepatient_enroll(prepatient=not_included, provider=provider)
        with pytest.raises(InclusionRefused):  # already enrolled: not counted twice
            prepatient_enroll(prepatient=people[0], provider=provider)
        make_candidate()  # a candidate who has not enrolled
    assert stored_count(programme) == real_count(programme) == 5
    with clock.travel_to(LATER):
        lifecycle_drop_out(prepatient=people[1])
        lifecycle_register_death(prepatient=people[2], on=LATER, note="Population register",
                                 actor=caseworker)
        lifecycle_exclude(prepatient=people[3], reason=ExclusionReason.MISSED_FOLLOWUP)
        lifecycle_exclude(prepatient=people[4], reason=ExclusionReason.MISSED_FOLLOWUP)
        lifecycle_reinstate(prepatient=people[4], note="The lab was late", actor=caseworker)
    # Leaving the programme frees no place: the cap counts enrollments.
    assert stored_count(programme) == real_count(programme) == 5
    assert enrolled_count(programme) == 5


def test_the_cap_is_decided_by_the_count_read_under_the_lock(make_candidate, programme
                                                            ) -> None:
    provider = ProviderFactory()
    with clock.travel_to(DAY):
        first, late = make_candidate(), make_candidate()
        programme.cap = 1
        programme.save()
        late.programme  # noqa: B018 - loaded now, while no place is taken
        assert late.programme.enrolled_count == 0
        prepatient_enroll(prepatient=first, provider=provider)
        # ``late`` still holds the programme as it was: the enrollment locks and reads
        # the row again, so the stale zero lets nobody past the cap.
        with pytest.raises(InclusionRefused) as refused:
            prepatient_enroll(prepatient=late, provider=provider)
    assert refused.value.code == "cap_reached"
    assert stored_count(programme) == real_count(programme) == 1
    with clock.travel_to(DAY):
        late.refresh_from_db()
        assert inclusion_decide(prepatient=late).reason == "cap_reached"


def test_a_programme_saved_from_an_older_copy_keeps_the_count(make_candidate, programme
                                                             ) -> None:
    older = Programme.objects.get(pk=programme.pk)
    with clock.travel_to(DAY):
        for _ in range(2):
            prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())
    older.name = "Renamed in the back-office"
    older.save()  # its enrolled_count is the 0 it was loaded with
    programme.refresh_from_db()
    assert (programme.name, programme.enrolled_count) == ("Renamed in the back-office", 2)


def test_the_database_refuses_a_count_above_the_cap(make_candidate, programme) -> None:
    programme.cap = 2
    programme.save()
    with clock.travel_to(DAY):
        for _ in range(2):
            prepatient_enroll(prepatient=make_candidate(), provider=ProviderFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        Programme.objects.filter(pk=programme.pk).update(enrolled_count=3)
    with pytest.raises(IntegrityError), transaction.atomic():  # nor a cap below it
        Programme.objects.filter(pk=programme.pk).update(cap=1)
    programme.refresh_from_db()
    assert (programme.cap, programme.enrolled_count) == (2, 2)


def test_enrollments_written_around_the_services_are_counted_again(make_candidate, programme
                                                                  ) -> None:
    """A bulk load (``COPY``) writes prepatients the count does not see; the recount
    puts it right, and the cap holds from there."""
    provider = ProviderFactory()
    with clock.travel_to(DAY):
        prepatient_enroll(prepatient=make_candidate(), provider=provider)
        loaded = make_candidate()
        Prepatient.objects.filter(pk=loaded.pk).update(
            enrolled_on=DAY, end_date=date(2028, 8, 3), state="active")
        waiting = make_candidate()
    programme.cap = 2
    programme.save()
    assert stored_count(programme) == 1  # stale: the loaded row went around the service
    assert enrolled_count_recount(programme=programme) == 2
    assert stored_count(programme) == real_count(programme) == 2
    with clock.travel_to(DAY), pytest.raises(InclusionRefused) as refused:
        prepatient_enroll(prepatient=waiting, provider=provider)
    assert refused.value.code == "cap_reached"
    assert enrolled_count_recount(programme=programme) == 2  # already right: unchanged


def test_a_recount_above_the_cap_is_refused(make_candidate, programme) -> None:
    with clock.travel_to(DAY):
        loaded = [make_candidate() for _ in range(2)]
    Prepatient.objects.filter(pk__in=[p.pk for p in loaded]).update(
        enrolled_on=DAY, end_date=date(2028, 8, 3), state="active")
    programme.cap = 1
    programme.save()
    with pytest.raises(IntegrityError):
        enrolled_count_recount(programme=programme)
    assert stored_count(programme) == 0


def test_an_enrollment_reads_nothing_that_grows_with_the_programme(make_candidate) -> None:
    """No count over the prepatients; every read of a person's rows is by their key."""
    provider = ProviderFactory()
    with clock.travel_to(DAY):
        for _ in range(3):
            prepatient_enroll(prepatient=make_candidate(), provider=provider)
        prepatient = make_candidate()
        with CaptureQueriesContext(connection) as first:
            prepatient_enroll(prepatient=prepatient, provider=provider)
        prepatient = make_candidate()
        with CaptureQueriesContext(connection) as second:
            prepatient_enroll(prepatient=prepatient, provider=provider)
    statements = [query["sql"].upper() for query in first.captured_queries]
    assert not [sql for sql in statements if "COUNT(" in sql]
    assert len(first.captured_queries) == len(second.captured_queries)
    reads = [sql for sql in statements if sql.startswith("SELECT")
             and 'FROM "REGISTRY_PREPATIENT"' in sql]
    assert reads and all('"REGISTRY_PREPATIENT"."ID" =' in sql for sql in reads)


def test_a_referral_code_is_found_by_its_hash_alone(programme) -> None:
    """The laboratory's code is looked up by the unique hash's index: no join, no
    ordering, whatever the number of codes and people."""
    with clock.travel_to(DAY):
        for _ in range(3):
            referral_issue(prepatient=factories.candidate())
        record, code = referral_issue(prepatient=factories.candidate())
        with CaptureQueriesContext(connection) as queries:
            receipt = inclusion_sample_receive_lab(
                code=code.lower().replace("-", " "), value="44", unit="mmol/mol",
                taken_on=DAY, lab_reference="LAB-7")
        with CaptureQueriesContext(connection) as again:
            duplicate = inclusion_sample_receive_lab(
                code=code, value="44", unit="mmol/mol", taken_on=DAY, lab_reference="LAB-7")
    assert receipt.sample.prepatient == record.prepatient and receipt.stored
    assert duplicate.duplicate and duplicate.sample == receipt.sample
    lookups = [query["sql"].upper() for query in [*queries.captured_queries,
                                                   *again.captured_queries]
               if 'FROM "REGISTRY_REFERRALCODE"' in query["sql"].upper()]
    assert len(lookups) == 2
    for sql in lookups:
        assert '"REGISTRY_REFERRALCODE"."CODE_HASH" =' in sql
        assert "JOIN" not in sql and "ORDER BY" not in sql
    earlier = [query["sql"].upper() for query in again.captured_queries
               if query["sql"].upper().startswith("SELECT")
               and 'FROM "REGISTRY_INCLUSIONSAMPLE"' in query["sql"].upper()]
    assert earlier and all("JOIN" not in sql and "ORDER BY" not in sql for sql in earlier)
