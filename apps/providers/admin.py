from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.providers.models import ApiCredential, Provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("name", "organisation_number", "authorization_status")
    list_filter = ("authorization_status",)
    search_fields = ("name", "=organisation_number")


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    list_display = ("provider", "label", "prefix", "created_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("provider",)
    autocomplete_fields = ("provider",)
    readonly_fields = ("prefix", "created_at", "revoked_at")
    actions = ("revoke",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["provider", "label"] if obj is None else ["provider", "label", "prefix",
                                                          "created_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        credential, key = ApiCredential.issue(provider=obj.provider, label=obj.label)
        obj.pk = credential.pk
        obj.prefix = credential.prefix
        self.message_user(
            request,
            _("The new key is shown only this once; copy it now: %(key)s") % {"key": key},
            messages.WARNING,
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiCredential]) -> None:
        for credential in queryset.filter(revoked_at=None):
            credential.revoke()
