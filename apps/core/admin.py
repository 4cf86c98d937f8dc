from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.core.admin_tools import ReadOnlyAdmin
from apps.core.events import kind_label, registered_kinds
from apps.core.models import AccessLogEntry, OrganisationEvent, User

admin.site.register(User, UserAdmin)


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdmin):
    """Read-only: the log is append-only and may be large."""

    list_display = ("at", "actor_user", "actor_organisation", "subject_type", "subject_id",
                    "purpose", "what")
    list_filter = ("purpose", "subject_type")
    search_fields = ("=subject_id", "=actor_organisation", "actor_user__username")
    date_hierarchy = "at"
    list_select_related = ("actor_user",)
    show_full_result_count = False
    ordering = ("-at",)


class EventKindFilter(admin.SimpleListFilter):
    """The kinds the apps register (not a scan of the feed for its distinct values)."""

    title = _("event")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(registered_kinds().items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(OrganisationEvent)
class OrganisationEventAdmin(ReadOnlyAdmin):
    """What each organisation has been told (read-only)."""

    list_display = ("id", "organisation", "kind_shown", "subject", "occurred_on", "created_at")
    list_filter = (EventKindFilter,)
    search_fields = ("=organisation", "=subject")
    show_full_result_count = False
    ordering = ("-id",)

    @admin.display(description=_("event"), ordering="kind")
    def kind_shown(self, event: OrganisationEvent) -> str:
        return str(kind_label(event.kind))

