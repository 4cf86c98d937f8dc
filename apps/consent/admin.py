"""Consent in the back-office: publishing texts, reading the event history.

Texts are published through ``consent_text_publish`` (which assigns the
version) and never changed afterwards; consent events are append-only and
only read here. The consent history also appears on the prepatient's page:
this module adds its inline to the registry's ``PrepatientAdmin``, because the
registry does not depend on consent.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.consent.models import ConsentEvent, ConsentText
from apps.consent.services import consent_text_publish
from apps.core.admin_tools import LargeListAdmin, ReadOnlyAdmin, ReadOnlyTableInline
from apps.registry.admin import PrepatientAdmin

TEXT_FIELDS = ("programme", "kind", "title_sv", "title_en", "body_sv", "body_en")


@admin.register(ConsentText)
class ConsentTextAdmin(admin.ModelAdmin):
    """"Add" publishes a new version; a published text is shown read-only."""

    list_display = ("__str__", "programme", "kind", "version", "title_sv", "published_at")
    list_filter = ("programme", "kind")
    list_select_related = ("programme",)
    ordering = ("programme", "kind", "-version")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return TEXT_FIELDS
        return ("programme", "kind", "version", "published_at", *TEXT_FIELDS[2:])

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:  # never reached: has_change_permission refuses published texts
            return
        text = consent_text_publish(
            programme=obj.programme, kind=obj.kind, title_sv=obj.title_sv,
            title_en=obj.title_en, body_sv=obj.body_sv, body_en=obj.body_en,
        )
        obj.pk = text.pk
        obj.version = text.version
        obj.published_at = text.published_at


@admin.register(ConsentEvent)
class ConsentEventAdmin(LargeListAdmin, ReadOnlyAdmin):
    """Read-only: the consent history is append-only and large (a few events per
    prepatient). Newest first by the primary key; found by exact programme ID."""

    list_display = ("at", "prepatient", "kind", "action", "text", "channel")
    list_filter = ("kind", "action", "channel")
    list_select_related = ("prepatient", "text")
    raw_id_fields = ("prepatient", "text")
    search_fields = ("=prepatient__pseudonym",)  # shows the box; the search is exact
    search_help_text = _("A programme ID (pp-…).")
    list_per_page = 50
    ordering = ("-pk",)
    sortable_by = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentEvent]:
        # The pseudonym is enough: the prepatient's personnummer is not decrypted here.
        return (super().get_queryset(request).select_related("prepatient", "text")
                .defer("prepatient__personnummer"))

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[ConsentEvent],
                           search_term: str) -> tuple[QuerySet[ConsentEvent], bool]:
        """Exact programme IDs: the pseudonym's unique index, not ``UPPER(…) = UPPER(…)``."""
        words = [word.lower() for word in search_term.split()]
        if not words:
            return queryset, False
        return queryset.filter(prepatient__pseudonym__in=words), False


class ConsentEventInline(ReadOnlyTableInline):
    model = ConsentEvent
    fields = ("at", "kind", "action", "text", "channel")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentEvent]:
        return super().get_queryset(request).select_related("text")


PrepatientAdmin.inlines = [*PrepatientAdmin.inlines, ConsentEventInline]
