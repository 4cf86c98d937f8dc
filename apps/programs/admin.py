from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.core.admin_tools import ACTION_TEMPLATE, ActionFormAdmin, ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.programs import selectors
from apps.programs.admin_forms import (
    DefineProgrammeForm,
    DraftVersionForm,
    DryRunForm,
    PublishVersionForm,
)
from apps.programs.models import DefinitionStatus, Programme, ProgrammeVersion, Questionnaire
from apps.programs.services import (
    PROJECTED,
    definition_template,
    programme_define,
    programme_version_draft,
    programme_version_publish,
)


@admin.register(Programme)
class ProgrammeAdmin(ActionFormAdmin):
    list_display = ("name", "code", "start_date", "cap", "payment_per_success", "currency")
    search_fields = ("name", "code")
    readonly_fields = ("charts", "versions", "draft_link", "recruitment_end", "priority_end",
                       "max_outcome_payments", "evaluator_share", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "charts", "versions",
                           "draft_link")}),
        (_("Time line"), {"fields": (
            "start_date", "recruitment_months", "priority_months", "recruitment_end",
            "priority_end", "cap", "programme_months", "switch_months",
            "followup_interval_months", "followup_measures", "followup_grace_days",
            "reminder_days_before", "referral_valid_days",
        )}),
        (_("Outcome"), {"fields": (
            "outcome_criteria", "outcome_disqualifiers", "outcome_window_days",
        )}),
        (_("Payment and budget"), {"fields": (
            "payment_per_success", "currency", "floor_share", "ceiling_share", "min_attributed",
            "budget_authorization", "max_outcome_payments", "evaluator_share",
            "payments_from", "payments_until",
        )}),
        (_("History"), {"fields": ("created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Programme | None = None
                            ) -> tuple[str, ...]:
        """Every rule and figure is the published version's (written when it is
        published): a change is a new version, never an edit here."""
        if obj is None:
            return tuple(self.readonly_fields)
        return (*self.readonly_fields, "code", *PROJECTED)

    def add_view(self, request: HttpRequest, form_url: str = "",
                 extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """A new programme is its definition: written here, published by another
        caseworker."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DefineProgrammeForm(request.POST or None,
                                   initial={"definition": definition_template()})
        if request.method == "POST" and form.is_valid():
            try:
                draft = programme_define(definition=form.cleaned_data["definition"],
                                         author=request.user)
            except DomainError as error:
                form.show_domain_error(error)
            else:
                self.message_user(request, _("The programme and the draft of its first "
                                             "version are saved. Another caseworker "
                                             "publishes it."), messages.SUCCESS)
                return HttpResponseRedirect(reverse(
                    "admin:programs_programmeversion_change", args=[draft.pk],
                    current_app=self.admin_site.name))
        return TemplateResponse(request, ACTION_TEMPLATE, {
            **self.admin_site.each_context(request),
            "title": _("Define a new programme"), "opts": self.opts, "original": None,
            "form": form, "details": [], "extra": "", "media": self.media + form.media,
            "submit_label": _("Save the draft"),
            "change_url": reverse("admin:programs_programme_changelist",
                                  current_app=self.admin_site.name)})

    @admin.display(description=_("Charts"))
    def charts(self, programme: Programme) -> str:
        if programme.pk is None:
            return "—"
        try:
            url = reverse("admin:measurements_measurement_charts", args=[programme.pk])
        except NoReverseMatch:
            return "—"
        return format_html('<a href="{}">{}</a>', url, _("Outcome and follow-up charts"))

    @admin.display(description=_("Versions of the definition"))
    def versions(self, programme: Programme) -> str:
        if programme.pk is None:
            return "—"
        rows = [(reverse("admin:programs_programmeversion_change", args=[version.pk],
                         current_app=self.admin_site.name), version, version.get_status_display())
                for version in selectors.programme_versions(programme)]
        if not rows:
            return str(_("None yet"))
        return format_html("<ul>{}</ul>", format_html_join(
            "", '<li><a href="{}">{}</a> ({})</li>', rows))

    @admin.display(description=_("New version"))
    def draft_link(self, programme: Programme) -> str:
        if programme.pk is None:
            return "—"
        url = reverse("admin:programs_programme_draft", args=[programme.pk],
                      current_app=self.admin_site.name)
        return format_html('<a class="button" href="{}">{}</a>', url,
                           _("Draft a new version of the definition"))

    def get_urls(self) -> list[URLPattern]:
        return [path("<int:object_id>/draft/", self.admin_site.admin_view(self.draft_view),
                     name="programs_programme_draft"), *super().get_urls()]

    def draft_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """A new draft, starting from the latest version (published or not)."""
        if not request.user.has_perm("programs.add_programmeversion"):
            raise PermissionDenied
        programme = get_object_or_404(self.get_queryset(request), pk=object_id)
        latest = selectors.programme_version_latest(programme)
        form = DraftVersionForm(request.POST or None, initial={
            "definition": latest.definition if latest else None})
        return self.action_form_response(
            request, programme, form=form,
            title=_("Draft a new version: %(programme)s") % {"programme": programme},
            perform=lambda data: programme_version_draft(
                programme=programme, definition=data["definition"], author=request.user),
            success=_("The draft is saved. Another caseworker publishes it."),
            submit_label=_("Save the draft"))


@admin.register(ProgrammeVersion)
class ProgrammeVersionAdmin(ActionFormAdmin, ReadOnlyAdmin):
    list_display = ("programme", "version", "status", "created_by", "published_by",
                    "published_at")
    list_filter = ("status", "programme")
    list_select_related = ("programme", "created_by", "published_by")
    fields = ("programme", "version", "status", "created_by", "published_by", "published_at",
              "dry_run_link", "definition_shown", "publish")
    readonly_fields = fields

    @admin.display(description=_("definition"))
    def definition_shown(self, version: ProgrammeVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(version.definition, ensure_ascii=False,
                                                       indent=2))

    @admin.display(description=_("dry run"))
    def dry_run_link(self, version: ProgrammeVersion) -> str:
        url = reverse("admin:programs_programmeversion_dry_run", args=[version.pk],
                      current_app=self.admin_site.name)
        return format_html('<a class="button" href="{}">{}</a>', url,
                           _("See what it would do on a synthetic cohort"))

    @admin.display(description=_("publish"))
    def publish(self, version: ProgrammeVersion) -> str:
        if version.status != DefinitionStatus.DRAFT:
            return "—"
        url = reverse("admin:programs_programmeversion_publish", args=[version.pk],
                      current_app=self.admin_site.name)
        return format_html('<a class="button" href="{}">{}</a>', url,
                           _("Publish (a second caseworker)"))

    def get_urls(self) -> list[URLPattern]:
        return [path("<int:object_id>/publish/", self.admin_site.admin_view(self.publish_view),
                     name="programs_programmeversion_publish"),
                path("<int:object_id>/dry-run/", self.admin_site.admin_view(self.dry_run_view),
                     name="programs_programmeversion_dry_run"), *super().get_urls()]

    def dry_run_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The money before it is committed: the definition tried on a synthetic cohort,
        with the share reaching the outcome the caseworker assumes (GET, nothing saved)."""
        version = get_object_or_404(self.get_queryset(request), pk=object_id)
        form = DryRunForm(request.GET or None)
        share = form.cleaned_data["success_percent"] / 100 if form.is_valid() \
            else DryRunForm.DEFAULT / 100
        figures = selectors.version_dry_run(version, success_share=share)
        return TemplateResponse(request, "admin/programs/dry_run.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": version,
            "title": _("Dry run: %(version)s") % {"version": version}, "form": form,
            "run": figures, "currency": version.definition.get("currency", ""),
            "change_url": reverse("admin:programs_programmeversion_change",
                                  args=[version.pk], current_app=self.admin_site.name)})

    def publish_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not request.user.has_perm("programs.publish_programmeversion"):
            raise PermissionDenied
        version = get_object_or_404(self.get_queryset(request), pk=object_id)
        return self.action_form_response(
            request, version, form=PublishVersionForm(request.POST or None),
            title=_("Publish %(version)s") % {"version": version},
            perform=lambda _data: programme_version_publish(version=version,
                                                            publisher=request.user),
            success=_("The version is published: it applies to new enrollments."),
            details=[(_("drafted by"), version.created_by),
                     (_("drafted"), version.created_at)],
            submit_label=_("Publish"))


@admin.register(Questionnaire)
class QuestionnaireAdmin(ReadOnlyAdmin):
    list_display = ("code", "version", "status", "published_at")
    list_filter = ("status",)
    fields = ("code", "version", "status", "published_at", "definition_shown")
    readonly_fields = fields

    @admin.display(description=_("definition"))
    def definition_shown(self, questionnaire: Questionnaire) -> str:
        return format_html("<pre>{}</pre>", json.dumps(questionnaire.definition,
                                                       ensure_ascii=False, indent=2))
