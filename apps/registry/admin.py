"""The caseworkers' back-office for the registry.

Read-only views of prepatients and their history; every change goes through
a service from a small form with a mandatory reason. Built for national scale
(300,000 prepatients): estimated counts (``LargeListAdmin``), filters with fixed
choices, indexed orderings, related rows joined, the encrypted personnummer
never decrypted on a list and searched only through its keyed hash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.access import record_access
from apps.core.admin_tools import (
    ActionFormAdmin,
    DefaultChoiceFilter,
    LargeListAdmin,
    ReadOnlyAdmin,
    ReadOnlyTableInline,
)
from apps.core.errors import InvalidInput
from apps.core.models import AccessPurpose
from apps.registry.admin_forms import (
    ExcludeForm,
    HideCommentForm,
    PostcodeImportForm,
    RegisterDeathForm,
    ReinstateForm,
    VerifySampleForm,
)
from apps.registry.errors import InvalidPersonnummer
from apps.registry.identity import Personnummer, parse_personnummer
from apps.registry.models import (
    InclusionSample,
    LifecycleEvent,
    Listing,
    Prepatient,
    PrepatientState,
    ProviderRating,
    ReferralCode,
    SampleSource,
    Screening,
    VulnerableAreaPostcode,
)
from apps.registry.selectors import (
    filter_by_personnummer,
    inclusion_sample_of,
    inclusion_samples_awaiting_verification,
    pseudonyms_with_personnummer,
)
from apps.registry.services import (
    DEATH_REGISTERED_FROM,
    inclusion_sample_verify,
    lifecycle_exclude,
    lifecycle_register_death,
    lifecycle_reinstate,
    rating_hide_comment,
    vulnerable_postcodes_import,
)

_POSTCODE = re.compile(r"[0-9]{5}")


def parse_personnummer_term(term: str) -> Personnummer | None:
    """The search term as a personnummer, or None when it is something else."""
    try:
        return parse_personnummer(term, today=clock.today())
    except InvalidPersonnummer:
        return None


# --- Read-only inlines --------------------------------------------------------
# Drawn as plain tables (``ReadOnlyTableInline``): the prepatient's page shows seven of
# them, and a form per row would cost more than the rest of the page.


class ListingInline(ReadOnlyTableInline):
    model = Listing
    fields = ("valid_from", "provider", "reason", "actor", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Listing]:
        return super().get_queryset(request).select_related("provider", "actor")


class LifecycleEventInline(ReadOnlyTableInline):
    model = LifecycleEvent
    fields = ("type", "on", "reason", "note", "actor", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[LifecycleEvent]:
        return super().get_queryset(request).select_related("actor")


class InclusionSampleInline(ReadOnlyTableInline):
    model = InclusionSample
    fields = ("taken_on", "measure", "value", "source", "lab_reference", "received_at",
              "verification")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[InclusionSample]:
        return (super().get_queryset(request).select_related("verified_by")
                .order_by("-taken_on", "-pk"))

    @admin.display(description=_("verification"))
    def verification(self, sample: InclusionSample) -> str:
        return verification_status(sample)


class ScreeningInline(ReadOnlyTableInline):
    model = Screening
    fields = ("submitted_at", "age", "height_cm", "weight_kg", "waist_cm", "bmi", "score")
    readonly_fields = fields


class ReferralCodeInline(ReadOnlyTableInline):
    """The hint only: the code itself is never stored, nor shown."""

    model = ReferralCode
    fields = ("hint", "issued_at", "expires_at", "used_at")
    readonly_fields = fields


def verification_status(sample: InclusionSample) -> str:
    if sample.source != SampleSource.SELF:
        return str(_("Not needed (laboratory)"))
    if sample.verified_at is None:
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:registry_prepatient_verify_sample",
                    args=[sample.prepatient_id, sample.pk]),
            _("Verify"),
        )
    return str(_("Verified by %(user)s on %(date)s") % {
        "user": sample.verified_by, "date": f"{sample.verified_at:%Y-%m-%d}"})


# --- Prepatients --------------------------------------------------------------


@admin.register(Prepatient)
class PrepatientAdmin(ActionFormAdmin, LargeListAdmin, ReadOnlyAdmin):
    """Read-only; the lifecycle actions are separate pages that call the services."""

    list_display = ("pseudonym", "state", "programme", "current_provider", "postcode",
                    "enrolled_on", "end_date")
    list_filter = ("state", "programme", "current_provider", "in_vulnerable_area")
    list_select_related = ("programme", "current_provider")
    list_per_page = 50
    ordering = ("-id",)
    sortable_by = ("pseudonym",)  # unique, indexed; the other columns would sort them all
    # Only to show the search box: get_search_results does the exact lookups.
    search_fields = ("=pseudonym",)
    search_help_text = _("A personnummer (YYYYMMDD-NNNN or YYMMDD-NNNN), a programme ID "
                         "(pp-…), or a postcode (5 digits). Exact matches only.")
    change_form_template = "admin/registry/prepatient/change_form.html"
    inlines = [
        LifecycleEventInline, ListingInline, InclusionSampleInline, ScreeningInline,
        ReferralCodeInline,
    ]
    fieldsets = (
        (None, {"fields": ("pseudonym", "programme", "state", "user")}),
        (_("Identity"), {"fields": ("personnummer_full", "birth_date", "sex", "postcode",
                                    "in_vulnerable_area")}),
        (_("Consent"), {"fields": ("consent_valid", "research_consent")}),
        (_("Programme"), {"fields": ("enrolled_on", "end_date", "current_provider",
                                     "baseline_sample")}),
        (_("History"), {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = ("pseudonym", "programme", "state", "user", "personnummer_full",
                       "birth_date", "sex", "postcode", "in_vulnerable_area", "consent_valid",
                       "research_consent", "enrolled_on", "end_date", "current_provider",
                       "baseline_sample", "created_at", "updated_at")

    # Permissions: the page is read-only; acting needs registry.change_prepatient.


    def may_act(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    # Reading

    def get_queryset(self, request: HttpRequest) -> QuerySet[Prepatient]:
        # Never decrypt on lists; the change page loads the one value it shows.
        return super().get_queryset(request).defer("personnummer")

    def get_object(self, request: HttpRequest, object_id: str,
                   from_field: str | None = None) -> Prepatient | None:
        """The page's prepatient in one query: its programme and provider joined, and
        the personnummer it shows (not deferred)."""
        queryset = (self.get_queryset(request).defer(None)
                    .select_related("programme", "current_provider"))
        try:
            return queryset.get(pk=Prepatient._meta.pk.to_python(object_id))
        except (Prepatient.DoesNotExist, ValidationError, ValueError):
            return None

    @admin.display(description=_("personnummer"))
    def personnummer_full(self, obj: Prepatient) -> str:
        digits = obj.personnummer
        if not digits:
            return "—"
        return f"{digits[:8]}-{digits[8:]}"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Prepatient], search_term: str
    ) -> tuple[QuerySet[Prepatient], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        parsed = parse_personnummer_term(term)
        if parsed is not None:
            return filter_by_personnummer(queryset, parsed), False
        compact = term.replace(" ", "")
        if _POSTCODE.fullmatch(compact):
            return queryset.filter(postcode=compact), False
        return queryset.filter(pseudonym__in=[word.lower() for word in term.split()]), False

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """A personnummer typed into the search box is swapped for the programme IDs it
        finds, so that the number is not echoed in the page, its links or the history."""
        parsed = parse_personnummer_term(request.GET.get(SEARCH_VAR, "").strip())
        if parsed is None:
            return super().changelist_view(request, extra_context)
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        pseudonyms = pseudonyms_with_personnummer(self.get_queryset(request), parsed)
        params = request.GET.copy()
        params[SEARCH_VAR] = " ".join(pseudonyms) or parsed.masked
        if pseudonyms:
            self.message_user(request, _("Searched for the personnummer %(masked)s.")
                              % {"masked": parsed.masked}, messages.INFO)
        else:
            self.message_user(request, _("No prepatient has the personnummer %(masked)s.")
                              % {"masked": parsed.masked}, messages.WARNING)
        return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")

    def render_change_form(self, request: HttpRequest, context: dict[str, Any],
                           add: bool = False, change: bool = False, form_url: str = "",
                           obj: Any = None) -> HttpResponse:
        if obj is not None:
            record_access(subject=obj, purpose=AccessPurpose.CASEWORK, what="admin detail",
                          user=request.user)
            context["prepatient_actions"] = self.available_actions(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def available_actions(self, request: HttpRequest,
                          obj: Prepatient) -> list[tuple[str, str]]:
        """(url, label) of the actions this user may take in the prepatient's state."""
        if not self.may_act(request):
            return []
        links: list[tuple[str, Any]] = []
        if obj.state == PrepatientState.ACTIVE:
            links.append((self._url("exclude", obj.pk), _("Exclude…")))
        if obj.state == PrepatientState.EXCLUDED:
            links.append((self._url("reinstate", obj.pk), _("Reinstate…")))
        if obj.state in DEATH_REGISTERED_FROM:
            links.append((self._url("register_death", obj.pk), _("Register death…")))
        for sample in inclusion_samples_awaiting_verification(prepatient=obj):
            links.append((self._url("verify_sample", obj.pk, sample.pk),
                          _("Verify the %(measure)s value of %(date)s…")
                          % {"measure": sample.measure, "date": sample.taken_on}))
        return [(url, str(label)) for url, label in links]

    # Actions

    def get_urls(self) -> list[URLPattern]:
        def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(function)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<int:object_id>/exclude/", view(self.exclude_view), name=f"{name}_exclude"),
            path("<int:object_id>/reinstate/", view(self.reinstate_view),
                 name=f"{name}_reinstate"),
            path("<int:object_id>/register-death/", view(self.register_death_view),
                 name=f"{name}_register_death"),
            path("<int:object_id>/verify-sample/<int:sample_id>/",
                 view(self.verify_sample_view), name=f"{name}_verify_sample"),
            *super().get_urls(),
        ]

    def _url(self, action: str, *args: Any) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{action}",
                       args=args, current_app=self.admin_site.name)

    def _prepatient_for_action(self, request: HttpRequest, object_id: int) -> Prepatient:
        if not self.may_act(request):
            raise PermissionDenied
        prepatient = self.get_object(request, str(object_id))
        if prepatient is None:
            raise Http404
        return prepatient

    def _state_details(self, prepatient: Prepatient) -> list[tuple[Any, Any]]:
        return [(_("programme ID"), prepatient.pseudonym),
                (_("state"), prepatient.get_state_display())]

    def exclude_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        prepatient = self._prepatient_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> object:
            return lifecycle_exclude(prepatient=prepatient, reason=data["reason"],
                                     note=data["note"], actor=request.user)

        return self.action_form_response(
            request, prepatient, form=ExcludeForm(request.POST or None),
            title=_("Exclude %(prepatient)s") % {"prepatient": prepatient},
            perform=perform, success=_("The prepatient has been excluded."),
            details=self._state_details(prepatient))

    def reinstate_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        prepatient = self._prepatient_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> object:
            return lifecycle_reinstate(prepatient=prepatient, note=data["note"],
                                       actor=request.user)

        return self.action_form_response(
            request, prepatient, form=ReinstateForm(request.POST or None),
            title=_("Reinstate %(prepatient)s") % {"prepatient": prepatient},
            perform=perform, success=_("The prepatient has been reinstated."),
            details=self._state_details(prepatient))

    def register_death_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        prepatient = self._prepatient_for_action(request, object_id)

        def perform(data: dict[str, Any]) -> object:
            return lifecycle_register_death(prepatient=prepatient, on=data["on"],
                                            note=data["note"], actor=request.user)

        return self.action_form_response(
            request, prepatient, form=RegisterDeathForm(request.POST or None),
            title=_("Register the death of %(prepatient)s")
            % {"prepatient": prepatient},
            perform=perform, success=_("The death has been registered."),
            details=self._state_details(prepatient))

    def verify_sample_view(self, request: HttpRequest, object_id: int,
                           sample_id: int) -> HttpResponse:
        prepatient = self._prepatient_for_action(request, object_id)
        sample = inclusion_sample_of(prepatient=prepatient, pk=sample_id)
        if sample is None:
            raise Http404
        if request.method == "GET":
            record_access(subject=prepatient, purpose=AccessPurpose.CASEWORK,
                          what="admin verify sample", user=request.user)

        def perform(data: dict[str, Any]) -> object:
            return inclusion_sample_verify(sample=sample, caseworker=request.user,
                                           note=data["note"])

        details = [
            *self._state_details(prepatient),
            (_("measure"), sample.measure),
            (_("value"), sample.value),
            (_("taken on"), sample.taken_on),
            (_("received"), f"{sample.received_at:%Y-%m-%d %H:%M}"),
            (_("source"), sample.get_source_display()),
        ]
        return self.action_form_response(
            request, prepatient, form=VerifySampleForm(request.POST or None),
            title=_("Verify a self-reported %(measure)s value of %(prepatient)s")
            % {"measure": sample.measure, "prepatient": prepatient},
            perform=perform, success=_("The value has been verified."),
            details=details)


# --- Self-reported samples awaiting verification ---------------------------------


class VerifiedFilter(DefaultChoiceFilter):
    """Defaults to "no" (self-reported and not yet verified): the caseworkers' queue."""

    title = _("verified")
    parameter_name = "verified"
    default = "no"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", _("No, awaiting verification")), ("yes", _("Yes")), ("all", _("All"))]

    def queryset(self, request: HttpRequest,
                 queryset: QuerySet[InclusionSample]) -> QuerySet[InclusionSample]:
        selected = self.selected()
        if selected == "no":
            return queryset.filter(source=SampleSource.SELF, verified_at=None)
        if selected == "yes":
            return queryset.filter(verified_at__isnull=False)
        return queryset


@admin.register(InclusionSample)
class InclusionSampleAdmin(LargeListAdmin, ReadOnlyAdmin):
    list_display = ("prepatient_link", "measure", "value", "taken_on", "received_at", "source",
                    "verification")
    list_filter = (VerifiedFilter, "source")
    list_select_related = ("prepatient", "verified_by")
    list_per_page = 50
    ordering = ("-pk",)
    sortable_by = ()
    search_fields = ("=prepatient__pseudonym",)  # shows the box; the search is exact
    search_help_text = _("A programme ID (pp-…).")
    readonly_fields = ("prepatient", "measure", "value", "taken_on", "received_at", "source",
                       "lab_reference", "verified_by", "verified_at", "verification_note")


    def get_queryset(self, request: HttpRequest) -> QuerySet[InclusionSample]:
        return (super().get_queryset(request).select_related("prepatient", "verified_by")
                .defer("prepatient__personnummer"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[InclusionSample], search_term: str
    ) -> tuple[QuerySet[InclusionSample], bool]:
        """Exact programme IDs: the pseudonym's unique index, not ``UPPER(…) = UPPER(…)``."""
        words = [word.lower() for word in search_term.split()]
        if not words:
            return queryset, False
        return queryset.filter(prepatient__pseudonym__in=words), False

    @admin.display(description=_("prepatient"), ordering="prepatient__pseudonym")
    def prepatient_link(self, sample: InclusionSample) -> str:
        return format_html('<a href="{}">{}</a>',
                           reverse("admin:registry_prepatient_change",
                                   args=[sample.prepatient_id]),
                           sample.prepatient.pseudonym)

    @admin.display(description=_("verification"))
    def verification(self, sample: InclusionSample) -> str:
        return verification_status(sample)


# --- Vulnerable-area postcodes ------------------------------------------------------


@admin.register(VulnerableAreaPostcode)
class VulnerableAreaPostcodeAdmin(admin.ModelAdmin):
    """Added through the CSV import only; a wrong row may be deleted."""

    list_display = ("postcode_display", "area_name", "programme")
    list_filter = ("programme",)
    list_select_related = ("programme",)
    search_fields = ("=postcode",)
    search_help_text = _("A postcode (5 digits, with or without the space).")
    ordering = ("programme", "postcode")
    show_full_result_count = False
    change_list_template = "admin/registry/vulnerableareapostcode/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def may_import(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    @admin.display(description=_("postcode"), ordering="postcode")
    def postcode_display(self, obj: VulnerableAreaPostcode) -> str:
        return str(obj)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[VulnerableAreaPostcode],
        search_term: str,
    ) -> tuple[QuerySet[VulnerableAreaPostcode], bool]:
        term = search_term.replace(" ", "")
        if not term:
            return queryset, False
        return queryset.filter(postcode=term), False

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "may_import": self.may_import(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=name),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.may_import(request):
            raise PermissionDenied
        form = PostcodeImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = vulnerable_postcodes_import(programme=form.cleaned_data["programme"],
                                                     text=form.cleaned_data["file"])
            except InvalidInput as error:
                form.show_domain_error(error)
            else:
                self.message_user(
                    request,
                    _("%(added)d postcodes added, %(skipped)d already listed and skipped.")
                    % {"added": result.added, "skipped": result.skipped},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                            current_app=self.admin_site.name))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import vulnerable-area postcodes"),
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(
            request, "admin/registry/vulnerableareapostcode/import.html", context)


class StarsFilter(admin.SimpleListFilter):
    """One to five stars (fixed: not the ratings' distinct values)."""

    title = _("stars")
    parameter_name = "stars"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(str(stars), str(stars)) for stars in range(1, 6)]

    def queryset(self, request: HttpRequest,
                 queryset: QuerySet[ProviderRating]) -> QuerySet[ProviderRating]:
        value = self.value()
        if value is None or value not in {str(stars) for stars in range(1, 6)}:
            return queryset
        return queryset.filter(stars=int(value))


@admin.register(ProviderRating)
class ProviderRatingAdmin(ActionFormAdmin, LargeListAdmin):
    """Prepatients' ratings of providers; caseworkers may hide an unsuitable comment.

    Newest first (the primary key); a provider's ratings by its index. The comment
    search reads every comment: it is for the moderation of a list already filtered."""

    list_display = ("provider", "stars", "comment_shown", "updated_at")
    list_filter = (StarsFilter, ("comment_hidden_at", admin.EmptyFieldListFilter), "provider")
    list_select_related = ("provider",)
    search_fields = ("comment",)
    ordering = ("-pk",)
    sortable_by = ()
    fields = ("provider", "stars", "comment", "created_at", "updated_at",
              "comment_hidden_at", "comment_hidden_by", "comment_hidden_reason", "hide_link")
    readonly_fields = fields

    @admin.display(description=_("comment"))
    def comment_shown(self, rating: ProviderRating) -> str:
        if rating.comment_hidden_at is not None:
            return format_html("<s>{}</s> ({})", rating.comment, _("hidden"))
        return rating.comment

    @admin.display(description=_("Moderation"))
    def hide_link(self, rating: ProviderRating) -> str:
        if not rating.comment or rating.comment_hidden_at is not None:
            return "—"
        url = reverse("admin:registry_providerrating_hide", args=[rating.pk],
                      current_app=self.admin_site.name)
        return format_html('<a class="button" href="{}">{}</a>', url, _("Hide the comment"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        return [path("<int:object_id>/hide/", self.admin_site.admin_view(self.hide_view),
                     name="registry_providerrating_hide"), *super().get_urls()]

    def hide_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not request.user.has_perm("registry.change_providerrating"):
            raise PermissionDenied
        rating = get_object_or_404(self.get_queryset(request).select_related("provider"),
                                   pk=object_id)
        return self.action_form_response(
            request, rating, form=HideCommentForm(request.POST or None),
            title=_("Hide the comment"),
            perform=lambda data: rating_hide_comment(rating=rating, reason=data["reason"],
                                                     caseworker=request.user),
            success=_("The comment is hidden from the marketplace."),
            details=[(_("provider"), rating.provider), (_("stars"), rating.stars),
                     (_("comment"), rating.comment)],
            submit_label=_("Hide the comment"))
