"""Small admin building blocks shared by the apps' back-office pages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import (
    display_for_field,
    display_for_value,
    flatten,
    label_for_field,
    lookup_field,
    quote,
)
from django.core.exceptions import EmptyResultSet, ObjectDoesNotExist
from django.core.paginator import EmptyPage, Paginator
from django.db import connections
from django.db.models import ForeignObjectRel, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.formats import number_format
from django.utils.html import conditional_escape, format_html
from django.utils.translation import gettext

from apps.core.errors import DomainError

ACTION_TEMPLATE = "admin/action_form.html"
# Above this many rows a list shows the database's estimate instead of counting them.
ESTIMATE_ABOVE = 10_000


# --- Counting large lists -------------------------------------------------------------


def planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's own estimate of the rows ``queryset`` returns, without reading them:
    the table's ``pg_class.reltuples`` when nothing is filtered, else the row estimate of
    the query's plan (``EXPLAIN``). None elsewhere, or when the table was never analysed."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    query = queryset.query
    with connection.cursor() as cursor:
        if not query.where and not query.distinct and not query.combinator:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
                           [connection.ops.quote_name(queryset.model._meta.db_table)])
            row = cursor.fetchone()
            return int(row[0]) if row is not None and row[0] >= 0 else None
        try:
            sql, params = queryset.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:  # a filter that matches nothing (``pk__in=[]``)
            return 0
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A changelist's paginator that never counts a large list.

    On PostgreSQL a list the planner estimates at more than ``ESTIMATE_ABOVE`` rows is
    given that estimate (``estimated``); a smaller one is counted, but never beyond
    ``ESTIMATE_ABOVE`` rows (``capped`` when there are more: the estimate was wrong). On
    other databases (SQLite, the newcomer's default) every list is counted. An estimated
    list links only the pages near the one shown, and a page past the estimated end is
    empty rather than an error.
    """

    _estimated = False
    _capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet) or connections[queryset.db].vendor != "postgresql":
            return super().count
        estimate = planner_estimate(queryset)
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            self._estimated = True
            return estimate
        counted = queryset.order_by()[: ESTIMATE_ABOVE + 1].count()
        if counted > ESTIMATE_ABOVE:
            self._capped = True
            return ESTIMATE_ABOVE
        return counted

    @property
    def estimated(self) -> bool:
        """The count is the planner's estimate."""
        return self.count is not None and self._estimated

    @property
    def capped(self) -> bool:
        """The count stopped at ``ESTIMATE_ABOVE``: there are more rows."""
        return self.count is not None and self._capped

    @property
    def exact(self) -> bool:
        return not (self.estimated or self.capped)

    def shown_count(self) -> str:
        """The count as the list shows it: "about 300 000" (two significant figures),
        "more than 10 000", or the exact number, in the active language's format."""
        count = self.count
        if self.estimated:
            digits = len(str(count))
            rounded = round(count, 2 - digits) if digits > 2 else count
            return gettext("about %(count)s") % {
                "count": number_format(rounded, force_grouping=True)}
        if self.capped:
            return gettext("more than %(count)s") % {
                "count": number_format(count, force_grouping=True)}
        return number_format(count, force_grouping=True)

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            if self.exact or int(number) < 1:
                raise
            return int(number)

    def get_elided_page_range(self, number: Any = 1, *, on_each_side: int = 3,
                              on_ends: int = 2) -> Iterator[Any]:
        """Without the last pages when the count is not exact: reaching them would read
        the whole list (``OFFSET``), and their number is a guess."""
        if self.exact:
            yield from super().get_elided_page_range(number, on_each_side=on_each_side,
                                                     on_ends=on_ends)
            return
        number = self.validate_number(number)
        if number > 1 + on_each_side + on_ends + 1:
            yield from range(1, on_ends + 1)
            yield self.ELLIPSIS
            yield from range(number - on_each_side, number + 1)
        else:
            yield from range(1, number + 1)
        last = min(number + on_each_side, self.num_pages)
        yield from range(number + 1, last + 1)
        if last < self.num_pages or self.capped:
            yield self.ELLIPSIS


class LargeListAdmin(admin.ModelAdmin):
    """A list of up to tens of millions of rows: an estimated count (``EstimatedCountPaginator``),
    no count of the unfiltered list, no facet counts. Give its filters fixed choices, its
    ordering and ``sortable_by`` indexed columns only."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


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


def readonly_contents(model_admin: Any, obj: Any, name: str) -> str:
    """What the read-only field ``name`` of ``obj`` shows, as the admin's
    ``AdminReadonlyField.contents`` draws it (a related row as a link to its page), but
    without a form."""
    empty = model_admin.get_empty_value_display()
    try:
        field, attr, value = lookup_field(name, obj, model_admin)
    except (AttributeError, ValueError, ObjectDoesNotExist):
        return conditional_escape(empty)
    if field is None:
        if getattr(attr, "boolean", False):
            return conditional_escape(display_for_value(value, empty, boolean=True))
        return conditional_escape(value if hasattr(value, "__html__") else linebreaksbr(value))
    if isinstance(field.remote_field, ForeignObjectRel) and value is not None:
        related = field.remote_field.model._meta
        try:
            url = reverse(f"admin:{related.app_label}_{related.model_name}_change",
                          args=[quote(value.pk)], current_app=model_admin.admin_site.name)
        except NoReverseMatch:
            return conditional_escape(str(value))
        return format_html('<a href="{}">{}</a>', url, value)
    return conditional_escape(linebreaksbr(display_for_field(value, field, empty)))


class ReadOnlyTableInline(ReadOnlyInline):
    """History rows that may be many, drawn as one plain table that looks like a tabular
    inline: the rows' values as read-only fields show them (``readonly_contents``), without
    the form and bound fields per row a tabular inline builds (about a millisecond a row):
    a shown formset has no forms. Its management form is kept, so that a save of the page
    sees the formset intact (the rows' forms have nothing to change)."""

    template = "admin/edit_inline/readonly_table.html"

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        inline = self

        class TableFormSet(formset):  # type: ignore[misc,valid-type]
            @cached_property
            def forms(self) -> list[Any]:
                """None to show (the table is drawn from the rows); a submitted page's,
                to validate."""
                return super().forms if self.is_bound else []

            @cached_property
            def table(self) -> dict[str, Any]:
                return inline.table(self)

        return TableFormSet

    def table(self, formset: Any) -> dict[str, Any]:
        """Headers and rows of the formset's rows (its queryset, as its forms would be)."""
        names = [str(name) for name in flatten(self.fields or ())]
        headers = [(name, label_for_field(name, self.model, self)) for name in names]
        rows = [[(name, readonly_contents(self, row, name)) for name in names]
                for row in formset.get_queryset()]
        return {"headers": headers, "rows": rows}


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
