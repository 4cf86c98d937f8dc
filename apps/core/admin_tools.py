"""Small admin building blocks shared by the apps' back-office pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from apps.core.errors import DomainError

ACTION_TEMPLATE = "admin/action_form.html"


class DomainErrorFormMixin:
    """Shows a service's refusal on a form: the error's fields beside the form's fields
    (through ``field_aliases`` where the form names a field otherwise than the service),
    any other field's message on top, and the error's message on top unless already shown.
    """

    field_aliases: ClassVar[dict[str, str]] = {}

    def show_domain_error(self, error: DomainError) -> None:
        form: forms.Form = self  # type: ignore[assignment]
        shown: set[str] = set()
        for key, value in error.fields.items():
            messages_ = value if isinstance(value, list | tuple) else [value]
            target = self.field_aliases.get(key, key)
            for message in messages_:
                if target in form.fields:
                    form.add_error(target, str(message))
                else:
                    form.add_error(None, f"{key}: {message}")
                shown.add(str(message))
        if str(error.message) not in shown:
            form.add_error(None, str(error.message))


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


class ActionFormAdmin(admin.ModelAdmin):
    """A ``ModelAdmin`` with pages for one action on one object: a form whose cleaned
    data a service takes; on success a message and back to the object, on a refusal the
    form again with the service's reason beside the field it names."""

    def object_change_url(self, obj: Any) -> str:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change",
                       args=[obj.pk], current_app=self.admin_site.name)

    def action_form_response(
        self,
        request: HttpRequest,
        obj: Any,
        *,
        form: Any,
        title: Any,
        perform: Callable[[dict[str, Any]], object],
        success: Any,
        details: list[tuple[Any, Any]] | None = None,
        extra: str = "",
        submit_label: Any = None,
    ) -> HttpResponse:
        change_url = self.object_change_url(obj)
        if request.method == "POST" and form.is_valid():
            try:
                perform(form.cleaned_data)
            except DomainError as error:
                form.show_domain_error(error)
            else:
                self.message_user(request, success, messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "original": obj,
            "form": form,
            "details": details or [],
            "extra": extra,
            "submit_label": submit_label,
            "media": self.media + form.media,
            "change_url": change_url,
        }
        return TemplateResponse(request, ACTION_TEMPLATE, context)
