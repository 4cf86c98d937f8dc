"""The provider's profile: marketplace lists, subcontractors, owners, financier."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.providers.validators import (
    SWEDISH_REGIONS,
    clean_accessibility,
    clean_languages,
    clean_owners,
    clean_regions,
    clean_subcontractors,
)
from tests.providers.factories import LabFactory, ProviderFactory


def codes(error: pytest.ExceptionInfo[ValidationError]) -> set[str | None]:
    return {e.code for e in error.value.error_list}


def test_there_are_twenty_one_regions() -> None:
    assert len(SWEDISH_REGIONS) == 21 == len(set(SWEDISH_REGIONS))


def test_languages_are_iso_639_1_codes_normalised() -> None:
    assert clean_languages([" SV", "en", "ar", "sv", "so"]) == ["sv", "en", "ar", "so"]
    for bad in (["swe"], ["xx"], [""], [1], "sv"):
        with pytest.raises(ValidationError):
            clean_languages(bad)


def test_accessibility_comes_from_the_fixed_set() -> None:
    assert clean_accessibility(["read_aloud", "easy_read", "read_aloud"]) == [
        "read_aloud", "easy_read"]
    with pytest.raises(ValidationError) as refused:
        clean_accessibility(["braille"])
    assert codes(refused) == {"accessibility"}


def test_regions_are_the_twenty_one_or_national_alone() -> None:
    assert clean_regions(["Stockholm", "Skåne"]) == ["Stockholm", "Skåne"]
    assert clean_regions(["national"]) == ["national"]
    for bad, code in ((["Lappland"], "region"), (["national", "Skåne"], "region_national")):
        with pytest.raises(ValidationError) as refused:
            clean_regions(bad)
        assert codes(refused) == {code}


def test_subcontractors_need_a_name_and_a_valid_organisation_number() -> None:
    assert clean_subcontractors([{"name": " Gym  AB ", "organisation_number": "556677-0052"}]) \
        == [{"name": "Gym AB", "organisation_number": "5566770052"}]
    cases = [
        ([{"name": "Gym AB", "organisation_number": "556677-0053"}], "checksum"),
        ([{"name": "Gym AB", "organisation_number": "5510360793"}], "third_digit"),
        ([{"name": "Gym AB"}], "format"),
        ([{"name": "", "organisation_number": "5566770052"}], "name"),
        ([{"name": "Gym AB", "organisation_number": "5566770052", "ceo": "X"}], "entry"),
        ({"name": "Gym AB"}, "not_a_list"),
    ]
    for value, code in cases:
        with pytest.raises(ValidationError) as refused:
            clean_subcontractors(value)
        assert codes(refused) == {code}, value


def test_owners_are_companies_or_people_with_a_birth_year_never_a_personnummer() -> None:
    assert clean_owners([{"name": "Holding AB", "organisation_number": "5566770060"},
                         {"name": "Erik Exempelsson", "birth_year": 1968},
                         {"name": "Anna Ägare"}]) == [
        {"name": "Holding AB", "organisation_number": "5566770060"},
        {"name": "Erik Exempelsson", "birth_year": 1968},
        {"name": "Anna Ägare"},
    ]
    cases = [
        # A personnummer where an organisation number belongs (its third digit is a month).
        ([{"name": "Erik", "organisation_number": "6805151234"}], "third_digit"),
        ([{"name": "Erik 680515-1234"}], "personnummer"),
        ([{"name": "Erik 196805151234"}], "personnummer"),
        ([{"name": "Erik", "personnummer": "196805151234"}], "entry"),
        ([{"name": "Erik", "birth_year": "1968"}], "birth_year"),
        ([{"name": "Erik", "birth_year": 1850}], "birth_year"),
        ([{"name": "X AB", "organisation_number": "5566770060", "birth_year": 1968}],
         "owner_kind"),
    ]
    for value, code in cases:
        with pytest.raises(ValidationError) as refused:
            clean_owners(value)
        assert codes(refused) == {code}, value


@pytest.mark.django_db
def test_full_clean_validates_and_normalises_the_profile() -> None:
    provider = ProviderFactory.build(
        languages=["SV", "en"], regions=["Stockholm"], accessibility=["read_aloud"],
        subcontractors=[{"name": "Gym AB", "organisation_number": "556677-0052"}],
        financier_name="Riskkapital AB", financier_organisation_number="5566770060",
        capacity=50,
    )
    provider.full_clean()
    assert provider.languages == ["sv", "en"]
    assert provider.subcontractors[0]["organisation_number"] == "5566770052"
    assert provider.financier_organisation_number == "5566770060"


@pytest.mark.django_db
@pytest.mark.parametrize("changes,field", [
    ({"financier_name": "Riskkapital AB", "financier_organisation_number": "5566770061"},
     "financier_organisation_number"),
    ({"financier_name": "Riskkapital AB"}, "financier_organisation_number"),
    ({"capacity": 49}, "capacity"),
    ({"subcontractors": [{"name": "Gym AB", "organisation_number": "123"}]}, "subcontractors"),
    ({"languages": ["svenska"]}, "languages"),
])
def test_full_clean_refuses_a_bad_profile(changes: dict, field: str) -> None:
    provider = ProviderFactory.build(**changes)
    with pytest.raises(ValidationError) as refused:
        provider.full_clean()
    assert field in refused.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("changes", [
    {"capacity": 10},
    {"financier_name": "Riskkapital AB"},
])
def test_the_database_holds_capacity_and_financier_invariants(changes: dict) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderFactory(**changes)


@pytest.mark.django_db
def test_lab_organisation_numbers_are_validated_and_unique() -> None:
    lab = LabFactory.build(organisation_number="5566770053")
    with pytest.raises(ValidationError) as refused:
        lab.full_clean()
    assert "organisation_number" in refused.value.message_dict
    existing = LabFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        LabFactory(organisation_number=existing.organisation_number)
    assert LabFactory().is_authorized
