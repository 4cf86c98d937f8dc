from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from prevention.settings.env import Env, dev_fernet_key

ROOT = Path(__file__).resolve().parents[2]


def env(**values: str) -> Env:
    return Env(values)


@pytest.mark.parametrize("text,expected", [("true", True), ("1", True), ("ON", True),
                                           ("no", False), ("0", False), ("off", False)])
def test_bool_reads_the_usual_spellings(text: str, expected: bool) -> None:
    assert env(DEBUG=text).boolean("DEBUG", default=not expected) is expected


def test_bool_falls_back_to_its_default_when_unset_or_blank() -> None:
    assert env().boolean("DEBUG", default=True) is True
    assert env(DEBUG="  ").boolean("DEBUG", default=False) is False


def test_a_misspelt_bool_fails_loudly_naming_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG='ture' is not a boolean"):
        env(DEBUG="ture").boolean("DEBUG", default=False)


def test_int_rejects_text_and_values_out_of_range() -> None:
    assert env(N="5").integer("N", 1, minimum=0) == 5
    with pytest.raises(ImproperlyConfigured, match="N='five' is not a whole number"):
        env(N="five").integer("N", 1)
    with pytest.raises(ImproperlyConfigured, match="below the minimum 0"):
        env(N="-1").integer("N", 1, minimum=0)
    with pytest.raises(ImproperlyConfigured, match="above the maximum 10"):
        env(N="11").integer("N", 1, maximum=10)


def test_list_rejects_empty_items() -> None:
    assert env(HOSTS="a, b").strings("HOSTS") == ["a", "b"]
    with pytest.raises(ImproperlyConfigured, match="empty item"):
        env(HOSTS="a,,b").strings("HOSTS")


def test_database_defaults_to_sqlite_and_reads_postgres_urls() -> None:
    assert env().database("DATABASE_URL", "db.sqlite3") == {
        "ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}
    config = env(DATABASE_URL="postgres://u:p@db.example:5433/prevention").database(
        "DATABASE_URL", "unused")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["HOST"], config["PORT"], config["USER"]) == (
        "prevention", "db.example", 5433, "u")


@pytest.mark.parametrize("url,message", [
    ("mysql://u@h/db", "scheme 'mysql'"),
    ("postgres://u@h", "names no database"),
])
def test_database_rejects_unsupported_or_incomplete_urls(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        env(DATABASE_URL=url).database("DATABASE_URL", "unused")


def test_broker_accepts_redis_and_rabbitmq_and_refuses_others() -> None:
    assert env(B="redis://localhost:6379/0").broker("B") == "redis://localhost:6379/0"
    assert env(B="amqp://guest:guest@localhost:5672//").broker("B")
    assert env().broker("B") is None
    with pytest.raises(ImproperlyConfigured, match="scheme 'http'"):
        env(B="http://localhost").broker("B")


def test_fernet_keys_must_be_real_keys_and_are_required_without_fallback() -> None:
    key = dev_fernet_key("x")
    assert env(K=f"{key},{key}").fernet_keys("K", fallback=None) == [key, key]
    with pytest.raises(ImproperlyConfigured, match="key 2 is not a Fernet key"):
        env(K=f"{key},not-a-key").fernet_keys("K", fallback=None)
    with pytest.raises(ImproperlyConfigured, match="K must be set when DEBUG is off"):
        env().fernet_keys("K", fallback=None)


def test_secrets_must_be_long_enough() -> None:
    with pytest.raises(ImproperlyConfigured, match="too short"):
        env(S="short").secret("S", fallback=None)
    assert env().secret("S", fallback="f" * 40) == "f" * 40


def _start_django(**overrides: str) -> subprocess.CompletedProcess[str]:
    """Starts Django with the production settings module in a clean environment."""
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "DEBUG", "FIELD_ENCRYPTION_KEYS", "PERSONNUMMER_HMAC_KEY",
                          "DJANGO_SETTINGS_MODULE"}}
    clean.update(DJANGO_SETTINGS_MODULE="prevention.settings.base", **overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False,
    )


def test_production_settings_refuse_to_start_without_a_secret_key() -> None:
    result = _start_django()
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_settings_refuse_to_start_without_data_keys() -> None:
    result = _start_django(SECRET_KEY="s" * 50)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off" in result.stderr


def test_production_settings_start_with_every_key_and_debug_needs_none() -> None:
    full = _start_django(SECRET_KEY="s" * 50, FIELD_ENCRYPTION_KEYS=dev_fernet_key("p"),
                         PERSONNUMMER_HMAC_KEY="h" * 40)
    assert full.returncode == 0, full.stderr
    assert _start_django(DEBUG="true").returncode == 0


def test_a_bad_debug_value_stops_start_up() -> None:
    result = _start_django(DEBUG="sometimes")
    assert result.returncode != 0
    assert "DEBUG='sometimes' is not a boolean" in result.stderr
