"""Measurements in the caseworkers' back-office.

Types are data that caseworkers edit (names, LOINC, plausible range, units);
values, safety notices and the follow-up schedule are read-only here: values
enter through the intake service only. Built for hundreds of thousands of
rows: related rows joined, no full counts, exact searches that use indexes.

Pages that show health values of many prepatients (the value list, the safety
notices) record an access-log entry for each prepatient on the page shown.
The prepatient's own page gets the value history and an outcome chart through
``MeasurementInline``, appended to the registry's ``PrepatientAdmin`` here
because the registry does not depend on measurements.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core import admin_tools, clock
from apps.core.access import record_access, record_access_many
from apps.core.models import AccessPurpose
from apps.measurements import admin_views, selectors
from apps.measurements.models import (
    AcceptedUnit,
    FollowUpDue,
    Measurement,
    MeasurementType,
    SafetyNotice,
)
from apps.registry.admin import PrepatientAdmin
from apps.registry.models import Prepatient
from prevention_engine import followup

INLINE_LIMIT = 200


def prepatient_link(prepatient: Prepatient) -> str:
    return format_html('<a href="{}" style="white-space: nowrap">{}</a>',
                       reverse("admin:registry_prepatient_change", args=[prepatient.pk]),
                       prepatient.pseudonym)


def pseudonym_search(queryset: QuerySet[Any], search_term: str) -> tuple[QuerySet[Any], bool]:
    """Exact programme IDs (several separated by spaces): an indexed equality lookup,
    not the case-insensitive ``UPPER(…) = UPPER(…)`` that "=" search fields produce."""
    words = [word.lower() for word in search_term.split()]
    if not words:
        return queryset, False
    return queryset.filter(prepatient__pseudonym__in=words), False


class ProgrammeRecordAdmin(admin_tools.ReadOnlyAdmin):
    """Shown, never added, changed or deleted in the back-office; found by programme ID."""

    actions = None
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts are a COUNT per filter choice
    list_per_page = 50
    search_fields = ("=prepatient__pseudonym",)  # shows the box; the search is exact
    search_help_text = _("A programme ID (pp-…); several separated by spaces.")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any],
                           search_term: str) -> tuple[QuerySet[Any], bool]:
        return pseudonym_search(queryset, search_term)

    @admin.display(description=_("prepatient"), ordering="prepatient__pseudonym")
    def prepatient_link(self, obj: Any) -> str:
        return prepatient_link(obj.prepatient)


class AccessLoggedChangelist(ProgrammeRecordAdmin):
    """Logs a read of each prepatient whose health values the page shows."""

    access_what = "measurement list"
    access_what_detail = "measurement detail"

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", None) or {}
        if "cl" in changelist:
            # result_list is the current page only; evaluating it here fills its cache,
            # so the template renders the same rows without a second query.
            self.log_page(request, changelist["cl"].result_list)
        return response

    def log_page(self, request: HttpRequest, rows: Iterable[Any]) -> None:
        subjects = {row.prepatient_id: row.prepatient for row in rows}
        if subjects:
            record_access_many(subjects=subjects.values(), purpose=AccessPurpose.CASEWORK,
                               what=self.access_what, user=request.user)

    def render_change_form(self, request: HttpRequest, context: dict[str, Any],
                           add: bool = False, change: bool = False, form_url: str = "",
                           obj: Any = None) -> HttpResponse:
        if obj is not None:
            record_access(subject=obj.prepatient, purpose=AccessPurpose.CASEWORK,
                          what=self.access_what_detail, user=request.user)
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- Types --------------------------------------------------------------------------------


class AcceptedUnitInline(admin.TabularInline):
    model = AcceptedUnit
    extra = 0
    fields = ("unit", "subtract", "multiply")


@admin.register(MeasurementType)
class MeasurementTypeAdmin(admin.ModelAdmin):
    """Names, LOINC, the plausible range and accepted units are editable; the code,
    canonical unit and decimals are fixed once values exist in them."""

    list_display = ("code", "name_sv", "name_en", "loinc", "canonical_unit", "plausible_min",
                    "plausible_max", "derived")
    search_fields = ("code", "name_sv", "name_en", "loinc")
    inlines = [AcceptedUnitInline]
    fields = ("code", "name_sv", "name_en", "loinc", "canonical_unit", "decimal_places",
              "plausible_min", "plausible_max", "derived")
    change_list_template = "admin/measurements/measurementtype/change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("code", "canonical_unit", "decimal_places", "derived")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # values and programmes refer to types by code

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}),
                         "chart_links": admin_views.chart_links(request)}
        return super().changelist_view(request, extra_context)


# --- Values -------------------------------------------------------------------------------


def value_shown(measurement: Measurement, *, unit: bool = False) -> str:
    """The canonical value with the type's decimals, localized (``type`` joined)."""
    kind = measurement.type
    shown = number_format(measurement.value, decimal_pos=kind.decimal_places, use_l10n=True)
    return f"{shown} {kind.canonical_unit}" if unit else shown


def correction_state(measurement: Measurement) -> str:
    """Needs ``superseded_by`` joined (select_related) to avoid a query per row."""
    superseded_by = getattr(measurement, "superseded_by", None)
    if superseded_by is not None:
        return str(_("Corrected (by value #%(id)s)") % {"id": superseded_by.pk})
    if measurement.supersedes_id is not None:
        return str(_("Current (corrects #%(id)s)") % {"id": measurement.supersedes_id})
    return str(_("Current"))


@admin.register(Measurement)
class MeasurementAdmin(AccessLoggedChangelist):
    list_display = ("prepatient_link", "type", "value_with_unit", "taken_on", "reporter_kind",
                    "reporter", "received_at", "state")
    list_filter = ("type", "reporter_kind")
    list_select_related = ("prepatient", "type", "superseded_by")
    raw_id_fields = ("prepatient", "provider", "supersedes")
    ordering = ("-pk",)
    change_list_template = "admin/measurements/measurement/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Measurement]:
        # Joined here (the changelist skips list_select_related once a queryset has any).
        return (super().get_queryset(request)
                .select_related("prepatient", "type", "superseded_by")
                .defer("prepatient__personnummer"))

    @admin.display(description=_("value"), ordering="value")
    def value_with_unit(self, measurement: Measurement) -> str:
        return value_shown(measurement, unit=True)

    @admin.display(description=_("state"))
    def state(self, measurement: Measurement) -> str:
        return correction_state(measurement)

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}),
                         "chart_links": admin_views.chart_links(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("charts/", self.admin_site.admin_view(self.charts_index_view),
                 name=f"{name}_charts_index"),
            path("charts/<int:programme_id>/", self.admin_site.admin_view(self.charts_view),
                 name=f"{name}_charts"),
            *super().get_urls(),
        ]

    def charts_view(self, request: HttpRequest, programme_id: int) -> HttpResponse:
        return admin_views.charts_view(self, request, programme_id)

    def charts_index_view(self, request: HttpRequest) -> HttpResponse:
        return admin_views.charts_index_view(self, request)


# --- Safety notices -----------------------------------------------------------------------


class NoticeStatusFilter(admin_tools.DefaultChoiceFilter):
    """Defaults to "open": the notices whose episode has not ended."""

    title = _("status")
    parameter_name = "status"
    default = "open"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("open", _("Open")), ("closed", _("Closed")), ("all", _("All"))]

    def queryset(self, request: HttpRequest,
                 queryset: QuerySet[SafetyNotice]) -> QuerySet[SafetyNotice]:
        selected = self.selected()
        if selected == "open":
            return queryset.filter(closed_by__isnull=True)
        if selected == "closed":
            return queryset.filter(closed_by__isnull=False)
        return queryset


@admin.register(SafetyNotice)
class SafetyNoticeAdmin(AccessLoggedChangelist):
    list_display = ("prepatient_link", "value", "taken_on", "provider", "raised_at",
                    "prepatient_notified_at", "closed")
    list_filter = (NoticeStatusFilter,)
    list_select_related = ("prepatient", "measurement__type", "provider", "closed_by")
    raw_id_fields = ("prepatient", "measurement", "provider", "closed_by")
    ordering = ("-pk",)
    access_what = "safety notice list"
    access_what_detail = "safety notice detail"

    def get_queryset(self, request: HttpRequest) -> QuerySet[SafetyNotice]:
        return (super().get_queryset(request)
                .select_related("prepatient", "measurement__type", "provider", "closed_by")
                .defer("prepatient__personnummer"))

    @admin.display(description=_("value"), ordering="measurement__value")
    def value(self, notice: SafetyNotice) -> str:
        """The value that raised the notice, with its measure and unit."""
        measurement = notice.measurement
        return (f"{measurement.type.name} {measurement.value.normalize():f} "
                f"{measurement.type.canonical_unit}")

    @admin.display(description=_("taken on"), ordering="measurement__taken_on")
    def taken_on(self, notice: SafetyNotice) -> date:
        return notice.measurement.taken_on

    @admin.display(description=_("closed"))
    def closed(self, notice: SafetyNotice) -> str:
        if notice.closed_by is None:
            return str(_("Open"))
        return str(_("Closed by %(value)s on %(date)s") % {
            "value": f"{notice.closed_by.value.normalize():f}",
            "date": notice.closed_by.taken_on.isoformat()})


# --- The overdue list ---------------------------------------------------------------------


class FollowUpStatusFilter(admin_tools.DefaultChoiceFilter):
    """Defaults to "overdue" (as ``selectors.followups_overdue``): the caseworkers' list."""

    title = _("status")
    parameter_name = "status"
    default = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("overdue", _("Overdue (active prepatients)")), ("open", _("Not complete")),
                ("complete", _("Complete")), ("all", _("All"))]

    def queryset(self, request: HttpRequest,
                 queryset: QuerySet[FollowUpDue]) -> QuerySet[FollowUpDue]:
        selected = self.selected()
        if selected == "overdue":
            return selectors.overdue(queryset, clock.today())
        if selected == "open":
            return queryset.filter(completed_at__isnull=True)
        if selected == "complete":
            return queryset.filter(completed_at__isnull=False)
        return queryset


@admin.register(FollowUpDue)
class FollowUpDueAdmin(ProgrammeRecordAdmin):
    """Who is overdue with a follow-up set, oldest due date first.

    Shows due dates, not values: no access-log entry (as the prepatient list).
    """

    list_display = ("prepatient_link", "provider", "index", "due_on", "days_overdue",
                    "window", "completed_at")
    list_filter = (FollowUpStatusFilter, ("prepatient__current_provider",
                                          admin.RelatedFieldListFilter),
                   "prepatient__programme")
    list_select_related = ("prepatient", "prepatient__current_provider")
    ordering = ("due_on", "prepatient_id")
    raw_id_fields = ("prepatient",)
    change_list_template = "admin/measurements/followupdue/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[FollowUpDue]:
        return (super().get_queryset(request)
                .select_related("prepatient", "prepatient__current_provider")
                .defer("prepatient__personnummer"))

    @admin.display(description=_("provider"), ordering="prepatient__current_provider__name")
    def provider(self, due: FollowUpDue) -> str:
        provider = due.prepatient.current_provider
        return str(provider) if provider is not None else "—"

    @admin.display(description=_("days overdue"), ordering="due_on")
    def days_overdue(self, due: FollowUpDue) -> str:
        today = clock.today()
        if not followup.overdue(due_on=due.due_on, complete=due.completed_at is not None,
                                today=today):
            return "—"
        return str((today - due.due_on).days)

    @admin.display(description=_("window"))
    def window(self, due: FollowUpDue) -> str:
        return f"{due.window_start.isoformat()} – {due.window_end.isoformat()}"

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        status = request.GET.get(FollowUpStatusFilter.parameter_name, "overdue")
        title = (_("Overdue follow-ups") if status not in {"open", "complete", "all"}
                 else _("Follow-up due dates"))
        extra_context = {**(extra_context or {}), "title": title,
                         "today": clock.today(),
                         "chart_links": admin_views.chart_links(request)}
        return super().changelist_view(request, extra_context)


# --- On the prepatient's page -------------------------------------------------------------


class MeasurementFormSet(BaseInlineFormSet):
    """The latest ``INLINE_LIMIT`` values, and the outcome measure's chart drawn above
    them."""

    limit = INLINE_LIMIT

    def get_queryset(self) -> Any:
        if not hasattr(self, "_capped"):
            self._capped = super().get_queryset()[: self.limit]
        return self._capped

    @cached_property
    def capped(self) -> bool:
        return len(self.get_queryset()) >= self.limit

    @cached_property
    def outcome_chart(self) -> dict[str, Any]:
        return admin_views.prepatient_outcome_chart(self.instance)


class MeasurementInline(admin_tools.ReadOnlyInline):
    model = Measurement
    formset = MeasurementFormSet
    template = "admin/measurements/measurement_inline.html"
    fields = ("type", "value_shown", "unit", "taken_on", "reporter_kind", "state")
    readonly_fields = fields
    verbose_name_plural = _("measurements (latest first)")

    class Media:
        js = ("vendor/chartjs/chart.umd.min.js", "admin/charts.js")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Measurement]:
        return (super().get_queryset(request).select_related("type", "superseded_by")
                .order_by("-taken_on", "-pk"))

    @admin.display(description=_("value"))
    def value_shown(self, measurement: Measurement) -> str:
        return value_shown(measurement)

    @admin.display(description=_("unit"))
    def unit(self, measurement: Measurement) -> str:
        return measurement.type.canonical_unit

    @admin.display(description=_("state"))
    def state(self, measurement: Measurement) -> str:
        return correction_state(measurement)


PrepatientAdmin.inlines = [*PrepatientAdmin.inlines, MeasurementInline]
