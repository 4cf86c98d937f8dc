from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apps.core.admin_tools import ReadOnlyAdmin
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


@admin.register(OrganisationEvent)
class OrganisationEventAdmin(ReadOnlyAdmin):
    """What each organisation has been told (read-only)."""

    list_display = ("id", "organisation", "kind", "subject", "occurred_on", "created_at")
    list_filter = ("kind",)
    search_fields = ("=organisation", "=subject")
    show_full_result_count = False
    ordering = ("-id",)

