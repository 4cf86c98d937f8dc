"""Signing up with email verification and signing in, in Swedish and English."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.test import Client

from apps.registry.models import Prepatient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long walk in Malmö 2026"


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """allauth counts sign-ups and emails per address in the cache."""
    cache.clear()


def text(response: Any) -> str:
    return response.content.decode()


def input_tag(body: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', body)
    assert match, f"no input {name}"
    return match[0]


@pytest.mark.parametrize(("prefix", "lang", "label"), [("", "sv", 'for="id_email"'),
                                                       ("/en", "en", "Email address")])
def test_the_sign_up_page_has_labels_autocomplete_and_help(prefix: str, lang: str,
                                                           label: str) -> None:
    response = Client().get(f"{prefix}/accounts/signup/")
    assert response.status_code == 200
    body = text(response)
    assert f'lang="{lang}"' in body
    assert label in body
    assert 'autocomplete="email"' in input_tag(body, "email")
    assert 'type="email"' in input_tag(body, "email")
    assert 'autocomplete="new-password"' in input_tag(body, "password1")
    assert 'autocomplete="new-password"' in input_tag(body, "password2")
    assert 'aria-describedby="id_password1_helptext"' in input_tag(body, "password1")
    assert body.count("<h1") == 1


def test_the_sign_in_page_has_labels_and_autocomplete() -> None:
    body = text(Client().get("/en/accounts/login/"))
    assert '<label for="id_login">Email address</label>' in body
    assert 'autocomplete="username"' in input_tag(body, "login")
    assert 'autocomplete="current-password"' in input_tag(body, "password")
    assert "Forgot your password?" in body
    assert 'href="/en/accounts/signup/"' in body
    swedish = Client().get("/accounts/login/")
    assert swedish.status_code == 200 and 'lang="sv"' in text(swedish)


def test_sign_up_errors_keep_the_email_and_never_the_password(programme: Any) -> None:
    response = Client().post("/en/accounts/signup/", {
        "email": "new.person@example.invalid", "password1": PASSWORD,
        "password2": PASSWORD + "x"})
    assert response.status_code == 200
    body = text(response)
    assert 'class="error-summary"' in body
    assert 'value="new.person@example.invalid"' in input_tag(body, "email")
    assert "value=" not in input_tag(body, "password1")
    assert 'aria-invalid="true"' in input_tag(body, "password2")
    assert not EmailAddress.objects.filter(email="new.person@example.invalid").exists()


@pytest.mark.parametrize("prefix", ["", "/en"])
def test_a_new_person_confirms_the_email_and_lands_on_consent(programme: Any,
                                                              consent_texts: Any,
                                                              prefix: str) -> None:
    email = f"new.person{prefix.replace('/', '.')}@example.invalid"  # rate limits are per address
    client = Client()
    response = client.post(f"{prefix}/accounts/signup/", {
        "email": email, "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200  # "check your email"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [email]
    link = re.search(r"https?://testserver(/\S*confirm-email/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    confirm = client.get(link[1])
    assert confirm.status_code == 200
    assert email in text(confirm)
    landed = client.post(link[1], follow=True)
    assert landed.redirect_chain[-1][0] == f"{prefix}/join/consent/"
    assert landed.status_code == 200
    assert EmailAddress.objects.get(email=email).verified
    assert Prepatient.objects.filter(user__email=email).exists()


def test_an_expired_link_says_what_to_do() -> None:
    body = text(Client().get("/en/accounts/confirm-email/not-a-key/"))
    assert "This link has expired or does not work" in body


def test_signing_in_goes_to_the_next_step(programme: Any, consent_texts: Any) -> None:
    user = UserFactory(email="known@example.invalid", password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client = Client()
    wrong = client.post("/en/accounts/login/", {"login": user.email, "password": "nope"})
    assert wrong.status_code == 200
    assert 'class="error-summary"' in text(wrong)
    assert f'value="{user.email}"' in input_tag(text(wrong), "login")
    landed = client.post("/en/accounts/login/", {"login": user.email, "password": PASSWORD},
                         follow=True)
    assert landed.redirect_chain[-1][0] == "/en/join/consent/"


@pytest.mark.parametrize(("prefix", "start"), [("", "/"), ("/en", "/en/")])
def test_signing_out_returns_to_the_start_page_in_the_same_language(prefix: str,
                                                                    start: str) -> None:
    user = UserFactory(email="leaving@example.invalid", password=PASSWORD)
    client = Client()
    client.force_login(user)
    response = client.post(f"{prefix}/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == start
    assert "_auth_user_id" not in client.session


def test_the_signed_in_message_names_the_email_address_not_the_username(
    programme: Any, consent_texts: Any,
) -> None:
    user = UserFactory(username="made-up-name", email="named@example.invalid",
                       password=PASSWORD)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    landed = Client().post("/en/accounts/login/", {"login": user.email, "password": PASSWORD},
                           follow=True)
    body = text(landed)
    assert "Successfully signed in as named@example.invalid." in body
    assert "made-up-name" not in body
