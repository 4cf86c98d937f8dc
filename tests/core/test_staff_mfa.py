from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> tuple[Client, object]:
    user = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client, user


def test_staff_without_a_second_factor_are_sent_to_set_one_up(staff_client, settings) -> None:
    settings.STAFF_MFA_REQUIRED = True
    client, _user = staff_client
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/totp/activate/")


def test_staff_with_totp_reach_the_back_office(staff_client, settings) -> None:
    settings.STAFF_MFA_REQUIRED = True
    client, user = staff_client
    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    assert client.get("/admin/").status_code == 200


def test_the_requirement_can_be_turned_off_for_the_demo(staff_client, settings) -> None:
    settings.STAFF_MFA_REQUIRED = False
    client, _user = staff_client
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_goes_through_allauth_so_the_second_factor_is_asked(
    client: Client,
) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
