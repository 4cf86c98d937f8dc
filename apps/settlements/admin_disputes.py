"""Disputes of settlement lines in the back-office.

The list is the caseworkers' queue: open disputes first (the default filter),
oldest first, with the number still open above it. A dispute is read-only; it
is decided on its own page (upheld or rejected, with a mandatory reason) by a
caseworker with ``settlements.resolve_dispute``. Opening a dispute or its
decision page writes the access log, since both show the disputed line.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core.access import record_access
from apps.core.admin_tools import ActionFormAdmin, DefaultChoiceFilter, ReadOnlyAdmin
from apps.core.models import AccessPurpose
from apps.settlements import selectors
from apps.settlements.admin_forms import ResolveDisputeForm
from apps.settlements.explain import explain
from apps.settlements.models import (
    Dispute,
    DisputeStatus,
    RunStatus,
    SettlementRun,
)
from apps.settlements.services import dispute_resolve

RESOLVE_PERMISSION = "settlements.resolve_dispute"
ALL = "all"


class DisputeStatusFilter(DefaultChoiceFilter):
    """Status, showing the open disputes unless another status (or all) is chosen."""

    title = _("status")
    parameter_name = "status"
    default = DisputeStatus.OPEN

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*DisputeStatus.choices, (ALL, _("All"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        if self.selected() == ALL:
            return queryset
        return queryset.filter(status=self.selected())


def prepare_run_url(run: SettlementRun) -> str:
    """The form to prepare the run that corrects ``run``, filled in.

    An approved run is corrected by an adjustment run linked to it; a run not
    yet approved is replaced by a new run of the same kind.
    """
    kind, corrects = selectors.correcting_run(run)
    initial: dict[str, Any] = {"programme": run.programme_id, "as_of": run.as_of.isoformat(),
                               "kind": kind}
    if corrects is not None:
        initial["corrects"] = corrects
    return f"{reverse('admin:settlements_settlementrun_add')}?{urlencode(initial)}"


def correction_note(dispute: Dispute) -> SafeString:
    """What follows from the decision; an upheld dispute never changes the line."""
    if dispute.status == DisputeStatus.OPEN:
        return format_html("{}", _("Awaiting a caseworker's decision."))
    if dispute.status == DisputeStatus.REJECTED:
        return format_html("{}", _("Rejected: the line stands."))
    run = dispute.run
    if run.status == RunStatus.APPROVED:
        adjustments = selectors.run_adjustments(run)
        existing = format_html_join(
            ", ", '<a href="{}">{}</a>',
            ((reverse("admin:settlements_settlementrun_change", args=[a.pk]), str(a))
             for a in adjustments))
        return format_html(
            '{} <a class="button" href="{}">{}</a>{}',
            _("Upheld. The line is not changed: an approved run is corrected by a new "
              "adjustment run that corrects it, prepared once the data has been put right."),
            prepare_run_url(run), _("Prepare an adjustment run"),
            format_html(" {} {}", _("Adjustment runs so far:"), existing) if existing else "",
        )
    return format_html(
        '{} <a class="button" href="{}">{}</a>',
        _("Upheld. The run is not approved: put the data right and prepare a new run of the "
          "same kind to approve instead of this one."),
        prepare_run_url(run), _("Prepare a new run"),
    )


@admin.register(Dispute)
class DisputeAdmin(ActionFormAdmin, ReadOnlyAdmin):
    """The queue of disputes raised by providers; each is decided with a reason."""

    change_form_template = "admin/settlements/disputes/change_form.html"
    list_display = ("pk", "programme_id", "run", "provider", "status", "raised_at",
                    "resolved_by", "resolved_at")
    list_display_links = ("pk", "programme_id")
    list_filter = (DisputeStatusFilter, "run", "provider")
    list_select_related = ("line", "run", "provider", "resolved_by")
    search_fields = ("=line__prepatient__pseudonym",)
    search_help_text = _("Search by programme ID.")
    show_full_result_count = False
    ordering = ("raised_at", "pk")
    fieldsets = (
        (_("Dispute"), {"fields": ("status", "provider", "raised_by_organisation",
                                   "raised_by_key", "raised_at", "reason")}),
        (_("Disputed line"), {"fields": ("run_link", "programme_id", "line_result",
                                         "line_reason", "line_end_date", "deciding_sample")}),
        (_("Decision"), {"fields": ("resolution_reason", "resolved_by", "resolved_at",
                                    "correction")}),
    )
    readonly_fields = ("status", "provider", "raised_by_organisation", "raised_by_key",
                       "raised_at", "reason", "run_link", "programme_id", "line_result",
                       "line_reason", "line_end_date", "deciding_sample", "resolution_reason",
                       "resolved_by", "resolved_at", "correction")

    # Disputes are raised by providers through the API and decided on the resolve page.


    def may_resolve(self, request: HttpRequest) -> bool:
        return request.user.has_perm(RESOLVE_PERMISSION)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dispute]:
        return super().get_queryset(request).select_related("line", "run", "provider",
                                                            "resolved_by")

    # Columns and read-only fields

    @admin.display(description=_("programme ID"), ordering="line__pseudonym")
    def programme_id(self, dispute: Dispute) -> str:
        return dispute.line.pseudonym

    @admin.display(description=_("run"))
    def run_link(self, dispute: Dispute) -> str:
        return format_html('<a href="{}">{}</a>',
                           reverse("admin:settlements_settlementrun_change",
                                   args=[dispute.run_id]),
                           f"{dispute.run} ({dispute.run.get_status_display()})")

    @admin.display(description=_("result"))
    def line_result(self, dispute: Dispute) -> str:
        return dispute.line.result

    @admin.display(description=_("rule applied"))
    def line_reason(self, dispute: Dispute) -> str:
        return dispute.line.reason

    @admin.display(description=_("end date"))
    def line_end_date(self, dispute: Dispute) -> Any:
        return dispute.line.end_date

    @admin.display(description=_("which rule decided"))
    def deciding_sample(self, dispute: Dispute) -> str:
        line = dispute.line
        return explain(line, window_days=line.run.programme.outcome_window_days)

    @admin.display(description=_("what follows"))
    def correction(self, dispute: Dispute) -> SafeString:
        return correction_note(dispute)

    # Pages

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        count = selectors.open_dispute_count()
        subtitle = ngettext("%(count)d open dispute awaits a decision.",
                            "%(count)d open disputes await a decision.", count) % {
            "count": count}
        return super().changelist_view(request, {**(extra_context or {}),
                                                 "subtitle": subtitle})

    def render_change_form(self, request: HttpRequest, context: dict[str, Any],
                           add: bool = False, change: bool = False, form_url: str = "",
                           obj: Any = None) -> HttpResponse:
        if obj is not None:
            record_access(subject=obj.line.prepatient, purpose=AccessPurpose.SETTLEMENT,
                          what="admin settlement dispute", user=request.user)
            context["resolve_url"] = (self._url("resolve", obj.pk)
                                      if obj.status == DisputeStatus.OPEN
                                      and self.may_resolve(request) else None)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<int:object_id>/resolve/", self.admin_site.admin_view(self.resolve_view),
                 name="settlements_dispute_resolve"),
            *super().get_urls(),
        ]

    def _url(self, action: str, *args: Any) -> str:
        return reverse(f"admin:settlements_dispute_{action}", args=args,
                       current_app=self.admin_site.name)

    def resolve_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not self.may_resolve(request):
            raise PermissionDenied
        dispute = get_object_or_404(self.get_queryset(request), pk=object_id)
        change_url = self._url("change", dispute.pk)
        if dispute.status != DisputeStatus.OPEN:
            self.message_user(request, _("This dispute has already been resolved."),
                              messages.WARNING)
            return HttpResponseRedirect(change_url)
        if request.method != "POST":
            record_access(subject=dispute.line.prepatient, purpose=AccessPurpose.SETTLEMENT,
                          what="admin resolve settlement dispute", user=request.user)
        resolved: list[Dispute] = []

        def resolve(data: dict[str, Any]) -> None:
            resolved.append(dispute_resolve(dispute=dispute, decision=data["decision"],
                                            reason=data["reason"], caseworker=request.user))

        line = dispute.line
        return self.action_form_response(
            request, dispute,
            form=ResolveDisputeForm(request.POST or None),
            title=_("Resolve dispute %(dispute)s") % {"dispute": dispute},
            perform=resolve,
            # Read when the message is stored, after the decision: it names its outcome.
            success=lazy(lambda: self._resolved_message(resolved[0]), str)(),
            details=[
                (_("programme ID"), line.pseudonym),
                (_("run"), f"{dispute.run} ({dispute.run.get_status_display()})"),
                (_("provider"), dispute.provider),
                (_("result"), f"{line.result} ({line.reason})"),
                (_("raised on"), dispute.raised_at),
                (_("provider's reason"), dispute.reason),
            ],
            submit_label=_("Resolve"),
        )

    def _resolved_message(self, dispute: Dispute) -> Any:
        if dispute.status == DisputeStatus.REJECTED:
            return _("The dispute is rejected; the provider has been told.")
        if dispute.run.status == RunStatus.APPROVED:
            return _("The dispute is upheld; the provider has been told. The line is not "
                     "changed: prepare an adjustment run to correct the approved run.")
        return _("The dispute is upheld; the provider has been told. The run is not "
                 "approved: put the data right and prepare a new run.")
