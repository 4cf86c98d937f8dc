"""The caseworkers' back-office for providers, laboratories and API keys.

The profile is edited here; the authorization status is not: every change of
status is a decision page with a mandatory reason that calls
``apps.providers.services``. Acting needs ``providers.decide_authorization``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from apps.core.admin_tools import ActionFormAdmin, ReadOnlyAdmin, ReadOnlyInline
from apps.providers.admin_forms import (
    ApiCredentialAdminForm,
    ApplicationForm,
    ProviderAdminForm,
    ReasonForm,
    RunChecksForm,
)
from apps.providers.models import (
    ApiCredential,
    ApplicationStatus,
    AuthorizationApplication,
    AuthorizationCheck,
    AuthorizationDecision,
    AuthorizationStatus,
    DecisionKind,
    Lab,
    ProgrammeOffer,
    Provider,
)
from apps.providers.selectors import (
    authorization_application_latest,
    authorization_application_pending,
    programmes_not_offered,
)
from apps.providers.services import (
    MAY_APPLY_FROM,
    TRANSITIONS,
    api_credential_issue,
    api_credentials_revoke,
    authorization_apply,
    authorization_decide,
    authorization_run_checks,
)

DECIDE_PERMISSION = "providers.decide_authorization"


class ApplicationInline(ReadOnlyInline):
    model = AuthorizationApplication
    fields = ("submitted_at", "programme", "status", "declarations", "submitted_by")
    readonly_fields = fields
    show_change_link = True
    verbose_name_plural = _("applications (open one for its checks)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuthorizationApplication]:
        return super().get_queryset(request).select_related("submitted_by", "programme")

    @admin.display(description=_("declarations"))
    def declarations(self, application: AuthorizationApplication) -> str:
        unmet = application.unmet_declarations()
        if not unmet:
            return str(_("All made"))
        return str(_("%(count)d not made") % {"count": len(unmet)})


class OfferInline(ReadOnlyInline):
    """The programmes the provider offers its support in (an approved application
    for each)."""

    model = ProgrammeOffer
    fields = ("programme", "since")
    readonly_fields = fields
    verbose_name_plural = _("programmes offered")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProgrammeOffer]:
        return super().get_queryset(request).select_related("programme")


class DecisionInline(ReadOnlyInline):
    model = AuthorizationDecision
    fields = ("at", "decision", "from_status", "to_status", "reason", "actor", "application")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuthorizationDecision]:
        return super().get_queryset(request).select_related("actor", "application")


class CheckInline(ReadOnlyInline):
    model = AuthorizationCheck
    fields = ("run", "kind", "subject", "result", "detail", "source", "checked_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuthorizationCheck]:
        return super().get_queryset(request).order_by("-run", "pk")


def checks_table(checks: list[AuthorizationCheck]) -> str:
    if not checks:
        return str(_("The automated checks have not been run."))
    rows = format_html_join(
        "", '<tr class="result-{}"><td>{}</td><td>{}</td><td><strong>{}</strong></td>'
            "<td>{}</td><td>{}</td></tr>",
        ((check.result, check.get_kind_display(), check.subject, check.get_result_display(),
          check.detail, check.source) for check in checks),
    )
    headers = format_html_join("", '<th scope="col">{}</th>', (
        (capfirst(label),) for label in (_("check"), _("checked party"), _("result"),
                                         _("detail"), _("source"))))
    checked_at = timezone.localtime(checks[0].checked_at)
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table><p>{}</p>",
        headers, rows,
        _("Run %(run)s, %(at)s.") % {"run": checks[0].run, "at": f"{checked_at:%Y-%m-%d %H:%M}"},
    )


def _posted(request: HttpRequest) -> Any:
    """The submitted data, or None on a GET (an empty POST still binds the form)."""
    return request.POST if request.method == "POST" else None


# --- Providers ---------------------------------------------------------------------


@admin.register(Provider)
class ProviderAdmin(ActionFormAdmin):
    form = ProviderAdminForm
    list_display = ("name", "organisation_number", "authorization_status", "delivery_mode",
                    "coach_type", "capacity")
    list_filter = ("authorization_status", "delivery_mode", "coach_type")
    search_fields = ("name", "=organisation_number")
    change_form_template = "admin/providers/provider/change_form.html"
    inlines = [OfferInline, ApplicationInline, DecisionInline]
    fieldsets = (
        (None, {"fields": ("name", "organisation_number", "authorization_status")}),
        (_("Contact"), {"fields": ("email", "phone", "website")}),
        (_("Marketplace profile"), {"fields": (
            "offer_sv", "offer_en", "delivery_mode", "coach_type", "languages",
            "accessibility", "regions", "capacity")}),
        (_("Organisation"), {"fields": (
            "subcontractors", "owners", "financier_name", "financier_organisation_number")}),
        (_("Automated checks of the latest application"), {"fields": ("latest_checks",)}),
        (_("History"), {"fields": ("created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["authorization_status", "latest_checks", "created_at", "updated_at"]
        return [*fields, "organisation_number"] if obj is not None else fields

    def may_decide(self, request: HttpRequest) -> bool:
        return request.user.has_perm(DECIDE_PERMISSION)

    @admin.display(description=_("latest checks"))
    def latest_checks(self, provider: Provider) -> str:
        if provider.pk is None:
            return "—"
        application = authorization_application_latest(provider)
        if application is None:
            return str(_("No application."))
        return checks_table(list(application.latest_checks()))

    def render_change_form(self, request: HttpRequest, context: dict[str, Any],
                           add: bool = False, change: bool = False, form_url: str = "",
                           obj: Any = None) -> HttpResponse:
        context["provider_actions"] = (self.available_actions(request, obj)
                                       if obj is not None else [])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def available_actions(self, request: HttpRequest, provider: Provider) -> list[tuple[str, str]]:
        """(url, label) of the actions this user may take in the provider's status."""
        if not self.may_decide(request):
            return []
        links: list[tuple[str, Any]] = []
        status = provider.authorization_status
        pending = authorization_application_pending(provider)
        if pending is None and status in MAY_APPLY_FROM:
            links.append((self._url("apply", provider.pk), _("Register an application…")))
        elif (pending is None and status == AuthorizationStatus.AUTHORIZED
              and programmes_not_offered(provider)):
            links.append((self._url("apply", provider.pk),
                          _("Register an application for a further programme…")))
        if pending is not None:
            links.append((self._url("run_checks", provider.pk), _("Run automated checks…")))
        for decision, label in DECISION_LABELS.items():
            allowed_from, _to = TRANSITIONS[decision]
            if status not in allowed_from:
                continue
            if decision in (DecisionKind.APPROVE, DecisionKind.REJECT) and pending is None:
                continue
            links.append((self._url(decision, provider.pk), label))
        return [(url, str(label)) for url, label in links]

    # Action pages

    def get_urls(self) -> list[URLPattern]:
        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(function)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        decisions = [
            path(f"<int:object_id>/{decision}/", view(self._decision_view(decision)),
                 name=f"{name}_{decision}")
            for decision in DECISION_LABELS
        ]
        return [
            path("<int:object_id>/apply/", view(self.apply_view), name=f"{name}_apply"),
            path("<int:object_id>/run-checks/", view(self.run_checks_view),
                 name=f"{name}_run_checks"),
            *decisions,
            *super().get_urls(),
        ]

    def _url(self, action: str, *args: Any) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{action}",
                       args=args, current_app=self.admin_site.name)

    def _provider_for_action(self, request: HttpRequest, object_id: int) -> Provider:
        if not self.may_decide(request):
            raise PermissionDenied
        provider = self.get_object(request, str(object_id))
        if provider is None:
            raise Http404
        return provider

    def _details(self, provider: Provider) -> list[tuple[Any, Any]]:
        return [(_("organisation number"), provider.organisation_number),
                (_("authorization status"), provider.get_authorization_status_display())]

    def _action(self, request: HttpRequest, provider: Provider, *,
                details: list[tuple[Any, Any]] | None = None, **action: Any) -> HttpResponse:
        """An action page; its details default to the provider's number and status."""
        return self.action_form_response(request, provider,
                                         details=details or self._details(provider), **action)

    def apply_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        provider = self._provider_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> object:
            return authorization_apply(provider=provider, programme=data["programme"],
                                       declarations=form.declarations(),
                                       submitted_by=request.user, note=data.get("note", ""))

        form = ApplicationForm(_posted(request), provider=provider)
        return self._action(request, provider, form=form,
                            title=_("Register an application from %(provider)s")
                            % {"provider": provider},
                            perform=perform, success=_("The application has been registered."))

    def run_checks_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        provider = self._provider_for_action(request, object_id)
        application = authorization_application_pending(provider)
        if application is None:
            self.message_user(request, _("The provider has no pending application."),
                              messages.WARNING)
            return HttpResponseRedirect(self.object_change_url(provider))

        def perform(data: dict[str, Any]) -> object:
            return authorization_run_checks(application=application)

        return self._action(
            request, provider, form=RunChecksForm(_posted(request)),
            title=_("Run the automated checks for %(provider)s") % {"provider": provider},
            perform=perform, success=_("The automated checks have been run."),
            details=[*self._details(provider),
                     (_("application submitted"), f"{application.submitted_at:%Y-%m-%d}")],
            extra=checks_table(list(application.latest_checks())),
            submit_label=_("Run the checks"),
        )

    def _decision_view(self, decision: str) -> Callable[..., HttpResponse]:
        def decision_view(request: HttpRequest, object_id: int) -> HttpResponse:
            provider = self._provider_for_action(request, object_id)
            details = self._details(provider)
            extra = ""
            if decision in (DecisionKind.APPROVE, DecisionKind.REJECT):
                application = authorization_application_pending(provider)
                if application is not None:
                    unmet = application.unmet_declarations()
                    fields = AuthorizationApplication._meta
                    details.append((_("application submitted"),
                                    f"{application.submitted_at:%Y-%m-%d}"))
                    details.append((_("declarations not made"), "; ".join(
                        str(getattr(fields.get_field(name), "verbose_name", name))
                        for name in unmet
                    ) or _("none")))
                    extra = checks_table(list(application.latest_checks()))

            def perform(data: dict[str, Any]) -> object:
                return authorization_decide(provider=provider, decision=decision,
                                            reason=data["reason"], actor=request.user)

            return self._action(
                request, provider, form=ReasonForm(_posted(request)),
                title=DECISION_TITLES[decision] % {"provider": provider}, perform=perform,
                success=DECISION_SUCCESS[decision], details=details, extra=extra,
            )

        decision_view.__name__ = f"{decision}_view"
        return decision_view


DECISION_LABELS: dict[str, Any] = {
    DecisionKind.APPROVE: _("Approve…"),
    DecisionKind.REJECT: _("Reject…"),
    DecisionKind.SUSPEND: _("Suspend…"),
    DecisionKind.REINSTATE: _("Reinstate…"),
    DecisionKind.REVOKE: _("Revoke…"),
}
DECISION_TITLES: dict[str, Any] = {
    DecisionKind.APPROVE: _("Approve the application of %(provider)s"),
    DecisionKind.REJECT: _("Reject the application of %(provider)s"),
    DecisionKind.SUSPEND: _("Suspend the authorization of %(provider)s"),
    DecisionKind.REINSTATE: _("Reinstate the authorization of %(provider)s"),
    DecisionKind.REVOKE: _("Revoke the authorization of %(provider)s"),
}
DECISION_SUCCESS: dict[str, Any] = {
    DecisionKind.APPROVE: _("The provider is authorized."),
    DecisionKind.REJECT: _("The application has been rejected."),
    DecisionKind.SUSPEND: _("The authorization is suspended; the provider's prepatients will be "
                            "told they may choose another provider."),
    DecisionKind.REINSTATE: _("The authorization is reinstated."),
    DecisionKind.REVOKE: _("The authorization is revoked; the provider's prepatients will be "
                           "told they may choose another provider."),
}


# --- Applications and decisions (read-only) ----------------------------------------


@admin.register(AuthorizationApplication)
class AuthorizationApplicationAdmin(ReadOnlyAdmin):
    list_display = ("provider", "programme", "submitted_at", "status")
    list_filter = ("status", "programme")
    list_select_related = ("provider", "programme")
    search_fields = ("provider__name", "=provider__organisation_number")
    date_hierarchy = "submitted_at"
    inlines = [CheckInline]
    change_form_template = "admin/providers/authorizationapplication/change_form.html"
    readonly_fields = ("provider", "submitted_at", "submitted_by", "status", *(
        ApplicationForm.Meta.fields))

    def render_change_form(self, request: HttpRequest, context: dict[str, Any],
                           add: bool = False, change: bool = False, form_url: str = "",
                           obj: Any = None) -> HttpResponse:
        context["run_checks_url"] = (
            reverse("admin:providers_provider_run_checks", args=[obj.provider_id],
                    current_app=self.admin_site.name)
            if obj is not None and obj.status == ApplicationStatus.PENDING
            and request.user.has_perm(DECIDE_PERMISSION) else None
        )
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(AuthorizationDecision)
class AuthorizationDecisionAdmin(ReadOnlyAdmin):
    list_display = ("at", "provider", "decision", "from_status", "to_status", "actor")
    list_filter = ("decision", "to_status")
    list_select_related = ("provider", "actor")
    search_fields = ("provider__name", "=provider__organisation_number")
    date_hierarchy = "at"
    readonly_fields = ("provider", "application", "decision", "from_status", "to_status",
                       "reason", "actor", "at")


# --- Laboratories ------------------------------------------------------------------


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin):
    list_display = ("name", "organisation_number", "email", "is_authorized")
    list_filter = ("is_authorized",)
    search_fields = ("name", "=organisation_number")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["organisation_number"] if obj is not None else []


# --- API credentials ---------------------------------------------------------------


class RevokedFilter(admin.SimpleListFilter):
    title = _("revoked")
    parameter_name = "revoked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", _("No, active")), ("yes", _("Yes"))]

    def queryset(self, request: HttpRequest,
                 queryset: QuerySet[ApiCredential]) -> QuerySet[ApiCredential]:
        if self.value() == "no":
            return queryset.filter(revoked_at=None)
        if self.value() == "yes":
            return queryset.exclude(revoked_at=None)
        return queryset


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    """Keys are issued here and shown once; afterwards they can only be revoked."""

    form = ApiCredentialAdminForm
    list_display = ("organisation_display", "label", "prefix", "scopes_display", "created_at",
                    "last_used_at", "revoked_at")
    list_filter = (RevokedFilter,)
    list_select_related = ("provider", "lab")
    search_fields = ("label", "=prefix", "provider__name", "lab__name")
    autocomplete_fields = ("provider", "lab")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["provider", "lab", "label", "scopes"]
        return ["provider", "lab", "label", "scopes", "prefix", "created_at", "last_used_at",
                "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.readonly_fields
        return self.get_fields(request, obj)

    @admin.display(description=_("organisation"))
    def organisation_display(self, credential: ApiCredential) -> str:
        kind = _("provider") if credential.provider_id else _("laboratory")
        return f"{credential.organisation} ({kind})"

    @admin.display(description=_("scopes"))
    def scopes_display(self, credential: ApiCredential) -> str:
        return ", ".join(credential.scopes or []) or "—"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return  # a key is never changed: only issued or revoked
        credential, key = api_credential_issue(**form.issue_kwargs())
        obj.pk = credential.pk
        obj.prefix = credential.prefix
        obj.scopes = credential.scopes
        obj.created_at = credential.created_at
        obj._state.adding = False
        self.message_user(
            request,
            _("The new key is shown only this once; copy it now: %(key)s") % {"key": key},
            messages.WARNING,
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiCredential]) -> None:
        count = api_credentials_revoke(credentials=queryset)
        self.message_user(request, _("%(count)d keys revoked.") % {"count": count},
                          messages.SUCCESS)

