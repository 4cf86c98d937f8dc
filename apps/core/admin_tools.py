"""Small admin building blocks shared by the apps' back-office pages."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyInline(admin.TabularInline):
    """History rows: shown, never added, changed or deleted here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records kept as they were written: listed and shown, never added, changed or
    deleted through the admin (they change only through their services)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DefaultChoiceFilter(admin.SimpleListFilter):
    """A list filter that opens on a working queue (``default``) instead of "All".

    Subclasses give ``lookups`` (with an explicit "all" choice if wanted) and filter
    on ``self.selected()``, which is the chosen lookup or the default.
    """

    default: str

    def selected(self) -> str:
        value = self.value()
        return value if value in {str(lookup) for lookup, _title in self.lookup_choices} \
            else self.default

    def choices(self, changelist: Any) -> Any:
        selected = self.selected()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": selected == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }
