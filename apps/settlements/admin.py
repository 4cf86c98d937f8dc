"""Settlement runs in the back-office: prepare, follow progress, approve, export."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.access import record_access_many
from apps.core.admin_tools import ActionFormAdmin, ReadOnlyAdmin, ReadOnlyInline
from apps.core.errors import DomainError
from apps.core.models import AccessPurpose
from apps.measurements.selectors import measurement_type_by_code
from apps.programs.selectors import programme_menu, programmes_in_order
from apps.settlements import forecast, forecast_charts, selectors
from apps.settlements.admin_forms import ComputeAgainForm, PrepareForm
from apps.settlements.explain import explain
from apps.settlements.export import run_input_lines
from apps.settlements.models import (
    PrepatientLine,
    ProviderLine,
    RunStatus,
    SettlementRun,
)
from apps.settlements.services import (
    budget_overview,
    payout_csv,
    planned_payments,
    run_is_restartable,
    run_is_stalled,
    settlement_approve,
    settlement_compute_again,
    settlement_prepare,
)

FORECAST_CACHE_SECONDS = 600


class ProviderLineInline(ReadOnlyInline):
    model = ProviderLine
    fields = ("provider", "attributed", "successes", "failures", "pending", "final",
              "eligible", "paid_count", "amount", "report")
    readonly_fields = fields

    @admin.display(description=_("Report"))
    def report(self, line: ProviderLine) -> str:
        url = reverse("admin:settlements_settlementrun_report",
                      args=[line.run_id, line.provider_id])
        return format_html('<a href="{}">{}</a>', url, _("Printable report"))


def run_or_404(run_id: int) -> SettlementRun:
    run = selectors.run_with_programme(run_id)
    if run is None:
        raise Http404(_("No such settlement run."))
    return run


@admin.register(SettlementRun)
class SettlementRunAdmin(ActionFormAdmin):
    change_list_template = "admin/settlements/settlementrun/change_list.html"
    list_display = ("__str__", "programme", "kind", "as_of", "status", "progress",
                    "total_amount", "prepared_by", "approved_by")
    list_filter = ("status", "kind", "programme")
    list_select_related = ("programme", "prepared_by", "approved_by")
    inlines = (ProviderLineInline,)
    form = PrepareForm
    readonly_fields = ("status", "computation", "progress", "method", "computed_at",
                       "total_amount", "prepared_by", "prepared_at", "approved_by",
                       "approved_at", "format_version", "error", "payments_made",
                       "actions_links")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("programme", "kind", "as_of", "corrects", "note")
        return ("programme", "kind", "as_of", "corrects", "note", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("programme", "kind", "as_of", "corrects", "note", *self.readonly_fields)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return  # a run is never edited; it is recomputed or corrected by an adjustment
        run = settlement_prepare(programme=obj.programme, as_of=obj.as_of, kind=obj.kind,
                                 corrects=obj.corrects, note=obj.note,
                                 prepared_by=request.user)
        obj.pk = run.pk

    @admin.display(description=_("Computation"))
    def computation(self, run: SettlementRun) -> str:
        """Attempts, and whether the run has stalled (never handed to the workers, or its
        worker died): then it is handed on again by the periodic check, or at once with
        "Compute again"."""
        parts = [str(_("attempts: %(count)d") % {"count": run.attempts})]
        if run.started_at:
            parts.append(str(_("last started %(when)s") % {
                "when": date_format(localtime(run.started_at), "Y-m-d H:i")}))
        if run.status == RunStatus.QUEUED and run.enqueued_at is None:
            parts.append(str(_("waiting for the message broker: it is handed to the workers "
                               "as soon as the broker answers")))
        if run_is_stalled(run):
            return format_html('<strong class="errornote">{}</strong> {}',
                               _("Stalled."), "; ".join(parts))
        return "; ".join(parts)

    @admin.display(description=_("Payments"))
    def payments_made(self, run: SettlementRun) -> str:
        payments = list(selectors.run_payments(run))
        if not payments:
            return "—"
        return format_html_join(
            "", "<div>{} — {}: {} {}</div>",
            ((p.provider, p.get_kind_display(), number_format(p.amount, 2, force_grouping=True),
              run.programme.currency) for p in payments))

    @admin.display(description=_("Actions"))
    def actions_links(self, run: SettlementRun) -> str:
        links = []
        if run_is_restartable(run):
            links.append(format_html('<a class="button" href="{}">{}</a>',
                                     reverse("admin:settlements_settlementrun_compute_again",
                                             args=[run.pk]), _("Compute again")))
        if run.status == RunStatus.COMPUTED:
            links.append(format_html('<a class="button" href="{}">{}</a>',
                                     reverse("admin:settlements_settlementrun_approve",
                                             args=[run.pk]), _("Approve")))
        if run.status == RunStatus.APPROVED:
            links.append(format_html('<a class="button" href="{}">{}</a>',
                                     reverse("admin:settlements_settlementrun_payout",
                                             args=[run.pk]), _("Payout file (CSV)")))
        if run.status in (RunStatus.COMPUTED, RunStatus.APPROVED):
            links.append(format_html('<a class="button" href="{}">{}</a>',
                                     reverse("admin:settlements_settlementrun_auditor_input",
                                             args=[run.pk]),
                                     _("Auditor's input file (JSON)")))
        return format_html(" ".join(["{}"] * len(links)), *links) if links else "—"

    def get_urls(self) -> list[Any]:
        extra = [
            path("<int:pk>/approve/", self.admin_site.admin_view(self.approve_view),
                 name="settlements_settlementrun_approve"),
            path("<int:pk>/compute-again/", self.admin_site.admin_view(self.compute_again_view),
                 name="settlements_settlementrun_compute_again"),
            path("<int:pk>/payout.csv", self.admin_site.admin_view(self.payout_view),
                 name="settlements_settlementrun_payout"),
            path("<int:pk>/auditor-input.json",
                 self.admin_site.admin_view(self.auditor_input_view),
                 name="settlements_settlementrun_auditor_input"),
            path("<int:pk>/report/<int:provider_id>/",
                 self.admin_site.admin_view(self.report_view),
                 name="settlements_settlementrun_report"),
            path("forecast/<int:programme_id>/", self.admin_site.admin_view(self.forecast_view),
                 name="settlements_settlementrun_forecast"),
        ]
        return extra + super().get_urls()

    def forecast_view(self, request: HttpRequest, programme_id: int) -> HttpResponse:
        """Forecast and savings of a programme as of today: aggregates only, no person's
        values, so nothing is written to the access log."""
        if not request.user.has_perm("settlements.view_settlementrun"):
            raise PermissionDenied
        programme = get_object_or_404(programmes_in_order(), pk=programme_id)
        measure = measurement_type_by_code(programme.outcome_measure)
        # The forecast reads the whole programme (seconds at national scale): it is kept
        # for a few minutes per programme and day, and a caseworker can ask for a fresh one.
        key = f"settlements:forecast:{programme.pk}:{clock.today().isoformat()}"
        cached = None if request.GET.get("refresh") else cache.get(key)
        if cached is None:
            cached = (forecast.forecast_programme(programme), clock.now())
            cache.set(key, cached, FORECAST_CACHE_SECONDS)
        result, computed_at = cached
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "programme": programme,
            "programmes": programme_menu(),
            "title": _("Forecast and savings: %(name)s") % {"name": programme.name},
            "computed_at": computed_at,
            **forecast_charts.page_context(result,
                                           measure_name=measure.name if measure else ""),
        }
        return TemplateResponse(request, "admin/settlements/forecast.html", context)

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("settlements.approve_settlementrun"):
            raise PermissionDenied
        run = run_or_404(pk)
        back = reverse("admin:settlements_settlementrun_change", args=[pk])
        if request.method != "POST":
            return self.render_confirmation(request, run)
        try:
            settlement_approve(
                run=run, approver=request.user,
                accept_budget_overrun=bool(request.POST.get("accept_overrun")),
                accept_open_disputes=bool(request.POST.get("accept_open_disputes")))
        except DomainError as error:
            self.message_user(request, str(error.message), messages.ERROR)
        else:
            self.message_user(request, _("The run is approved."), messages.SUCCESS)
        return HttpResponseRedirect(back)

    def render_confirmation(self, request: HttpRequest, run: SettlementRun) -> HttpResponse:
        payments = planned_payments(run) if run.status == RunStatus.COMPUTED else []
        waiting = selectors.run_lines_not_final(run)
        context = {**self.admin_site.each_context(request), "run": run, "opts": self.opts,
                   "title": _("Approve settlement run"), "payments": payments,
                   "payments_total": sum((p.amount for p in payments), Decimal("0.00")),
                   "waiting": waiting,
                   "open_disputes": selectors.open_dispute_count(run)}
        return TemplateResponse(request, "admin/settlements/approve.html", context)

    def compute_again_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A failed or stalled run is queued again (the same data cutoff: the same lines)."""
        if not request.user.has_perm("settlements.add_settlementrun"):
            raise PermissionDenied
        run = run_or_404(pk)
        return self.action_form_response(
            request, run,
            form=ComputeAgainForm(request.POST if request.method == "POST" else None),
            title=_("Compute the run again"),
            perform=lambda _data: settlement_compute_again(run=run),
            success=_("The run is queued to be computed again."),
            details=[(_("status"), run.get_status_display()),
                     (_("error"), run.error or "—"),
                     (_("computation"), self.computation(run))],
            submit_label=_("Compute again"),
        )

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        budgets = [(programme, budget_overview(programme))
                   for programme in programmes_in_order()]
        return super().changelist_view(request, {**(extra_context or {}), "budgets": budgets})

    def report_view(self, request: HttpRequest, pk: int, provider_id: int) -> HttpResponse:
        """A printable settlement report for one provider: figures and every line."""
        if not request.user.has_perm("settlements.view_settlementrun"):
            raise PermissionDenied
        run = run_or_404(pk)
        line = selectors.run_provider_line(run, provider_id)
        if line is None:
            raise Http404(_("The provider has no line in this run."))
        lines = list(selectors.provider_report_lines(run, provider_id))
        names = selectors.measure_names()
        for item in lines:
            item.explanation = explain(  # type: ignore[attr-defined]
                item, names, window_days=run.programme.outcome_window_days)
        record_access_many(subjects=[item.prepatient for item in lines],
                           purpose=AccessPurpose.SETTLEMENT, what="settlement report",
                           user=request.user)
        context = {**self.admin_site.each_context(request), "run": run, "line": line,
                   "lines": lines, "opts": self.opts,
                   "title": _("Settlement report: %(provider)s") % {"provider": line.provider}}
        return TemplateResponse(request, "admin/settlements/report.html", context)

    def auditor_input_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        """The run's input in the auditor's format, streamed (pseudonymous IDs only);
        ``settlement_recompute`` reproduces the run's figures from it alone."""
        if not request.user.has_perm("settlements.view_settlementrun"):
            raise PermissionDenied
        run = run_or_404(pk)
        try:
            lines = run_input_lines(run)
        except DomainError as error:
            self.message_user(request, str(error.message), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:settlements_settlementrun_change",
                                                args=[pk]))
        response = StreamingHttpResponse(
            (piece.encode() for piece in lines),
            content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="settlement-input-{run.reference}.json"')
        return response

    def payout_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("settlements.view_settlementrun"):
            raise PermissionDenied
        run = run_or_404(pk)
        try:
            body = payout_csv(run)
        except DomainError as error:
            self.message_user(request, str(error.message), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:settlements_settlementrun_change",
                                                args=[pk]))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="payout-{run.reference}.csv"'
        return response


@admin.register(PrepatientLine)
class PrepatientLineAdmin(ReadOnlyAdmin):
    """Each prepatient's result, the rule applied and the deciding sample."""

    list_display = ("pseudonym", "run", "provider", "result", "reason", "end_date",
                    "explanation")
    list_filter = ("result", "run")
    search_fields = ("=pseudonym",)
    list_select_related = ("run__programme", "provider")
    show_full_result_count = False
    raw_id_fields = ("run", "prepatient")

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        self._names = selectors.measure_names()
        return super().get_changelist_instance(request)

    @admin.display(description=_("Which rule decided"))
    def explanation(self, line: PrepatientLine) -> str:
        names = getattr(self, "_names", None)
        return explain(line, names, window_days=line.run.programme.outcome_window_days)


from apps.settlements import admin_disputes  # noqa: E402,F401  (registers the dispute admin)
