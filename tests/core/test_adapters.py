"""Adapters chosen by settings: built once per backend and argument, checked against
their protocol, refused with a message naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core.adapters import load_adapter, read_register_file


@runtime_checkable
class Greeter(Protocol):
    def greet(self) -> str: ...


class FileGreeter:
    def __init__(self, path: str) -> None:
        self.path = path

    def greet(self) -> str:
        return f"hello from {self.path}"


class Mute:
    def __init__(self, path: str) -> None:
        self.path = path


def load(settings, backend: str) -> Greeter:
    settings.GREETER_BACKEND = backend
    return load_adapter(backend_setting="GREETER_BACKEND", default_backend=backend,
                        argument_setting="GREETER_PATH",
                        argument_missing="GREETER_PATH must name a file",
                        protocol=Greeter,  # type: ignore[type-abstract]
                        protocol_needs="has no greet() method")


def test_the_named_backend_is_built_once_with_its_argument(settings) -> None:
    settings.GREETER_PATH = "/srv/greetings"
    first = load(settings, "tests.core.test_adapters.FileGreeter")
    assert first.greet() == "hello from /srv/greetings"
    assert load(settings, "tests.core.test_adapters.FileGreeter") is first
    settings.GREETER_PATH = "/srv/other"
    assert load(settings, "tests.core.test_adapters.FileGreeter") is not first


def test_a_backend_without_the_protocol_is_refused_naming_the_setting(settings) -> None:
    settings.GREETER_PATH = "/srv/greetings"
    with pytest.raises(ImproperlyConfigured, match=r"GREETER_BACKEND=.*has no greet"):
        load(settings, "tests.core.test_adapters.Mute")


def test_a_backend_that_cannot_be_imported_is_refused(settings) -> None:
    settings.GREETER_PATH = "/srv/greetings"
    with pytest.raises(ImproperlyConfigured, match="cannot be imported"):
        load(settings, "tests.core.nowhere.Greeter")


def test_a_missing_argument_is_refused(settings) -> None:
    settings.GREETER_PATH = ""
    with pytest.raises(ImproperlyConfigured, match="GREETER_PATH must name a file"):
        load(settings, "tests.core.test_adapters.FileGreeter")


def test_a_register_file_is_read_or_named_with_its_setting(tmp_path: Path) -> None:
    good = tmp_path / "register.csv"
    good.write_text("\ufeffa,b\n1,2\n", encoding="utf-8")
    assert read_register_file(good, register="Test register", setting="TEST_REGISTER",
                              parse=lambda lines: [line.strip() for line in lines]) == [
        "a,b", "1,2"]
    with pytest.raises(ImproperlyConfigured) as missing:
        read_register_file(tmp_path / "absent.csv", register="Test register",
                           setting="TEST_REGISTER", parse=list)
    assert "does not exist (set TEST_REGISTER)" in str(missing.value)
    secret = tmp_path / "secret.csv"
    secret.write_bytes("19121212-1212,\xff".encode("latin-1"))
    with pytest.raises(ImproperlyConfigured) as unreadable:
        read_register_file(secret, register="Test register", setting="TEST_REGISTER",
                           parse=list)
    assert "UnicodeDecodeError" in str(unreadable.value)
    assert "1212" not in str(unreadable.value).replace(str(secret), "")
