"""Imports inside functions do not hide a dependency between apps (import-linter,
run by ``make lint``, sees only what it can follow; a deferred import of another app
would be a cycle it might miss). Inside one app the only deferred imports are the
app's own registrations in ``AppConfig.ready`` and a service enqueuing its own
app's task (the task calls the service)."""

from __future__ import annotations

import ast
from pathlib import Path

APPS = Path(__file__).resolve().parents[2] / "apps"
ALLOWED_IN_APP = {("settlements", "services.py", "apps.settlements.tasks")}


def deferred_imports() -> list[tuple[str, str, str, int]]:
    found = []
    for path in sorted(APPS.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        app = path.relative_to(APPS).parts[0]
        tree = ast.parse(path.read_text("utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                         else [alias.name for alias in node.names]
                         if isinstance(node, ast.Import) else [])
                for name in names:
                    if name.startswith("apps."):
                        found.append((app, path.name, name, node.lineno))
    return found


def test_no_function_imports_another_app() -> None:
    crossing = [(app, file, name, line) for app, file, name, line in deferred_imports()
                if name.split(".")[1] != app]
    assert crossing == []


def test_inside_an_app_only_registrations_and_the_task_enqueue_are_deferred() -> None:
    inside = [(app, file, name) for app, file, name, _line in deferred_imports()
              if name.split(".")[1] == app and file != "apps.py"]
    assert set(inside) <= ALLOWED_IN_APP
    assert deferred_imports(), "the walk found the known deferred imports"
