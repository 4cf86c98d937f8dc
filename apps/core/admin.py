"""The core's back-office: users, the access log, the organisations' event feed.

Users, e-mail addresses and the two logs grow with the number of prepatients, so
their lists use ``LargeListAdmin`` (an estimated count, no facets), filters with fixed
choices, an indexed default ordering and exact searches that use an index. The user
and e-mail admins of Django and allauth are registered again here on those terms.
"""

from __future__ import annotations

from typing import Any

from allauth.account.admin import EmailAddressAdmin as AllauthEmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.mfa.admin import AuthenticatorAdmin as AllauthAuthenticatorAdmin
from allauth.mfa.models import Authenticator
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from apps.core.admin_tools import LargeListAdmin, ReadOnlyAdmin
from apps.core.events import kind_label, registered_kinds
from apps.core.models import AccessLogEntry, OrganisationEvent, User

# The kinds of record whose reads are logged (``apps.core.access``), by model label: the
# subject-type filter offers these instead of reading the log for its distinct values.
LOGGED_SUBJECTS = ("registry.prepatient",)


def exact_terms(search_term: str) -> list[str]:
    """The words of a search, each looked up exactly (an index, not a scan)."""
    return search_term.split()


@admin.register(User)
class UserAdmin(LargeListAdmin, DjangoUserAdmin):
    """Django's user admin, with every prepatient's account in mind: searched by exact
    username or e-mail address (both indexed)."""

    search_help_text = _("An exact username or e-mail address.")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any],
                           search_term: str) -> tuple[QuerySet[Any], bool]:
        terms = exact_terms(search_term)
        if not terms:
            return queryset, False
        return queryset.filter(Q(username__in=terms) | Q(email__in=terms)
                               | Q(email__in=[term.lower() for term in terms])), False


admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class EmailAddressAdmin(LargeListAdmin, AllauthEmailAddressAdmin):
    """allauth's, with the user joined and an exact (indexed) search by address."""

    list_select_related = ("user",)
    search_help_text = _("An exact e-mail address.")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any],
                           search_term: str) -> tuple[QuerySet[Any], bool]:
        terms = exact_terms(search_term)
        if not terms:
            return queryset, False
        return queryset.filter(email__in=[*terms, *(term.lower() for term in terms)]), False


admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(LargeListAdmin, AllauthAuthenticatorAdmin):
    """allauth's, with the user joined (one query for the page, not one per row)."""

    list_select_related = ("user",)


class SubjectTypeFilter(admin.SimpleListFilter):
    """The kinds of record whose reads are logged (fixed: not read from the log)."""

    title = _("subject type")
    parameter_name = "subject_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(label, capfirst(apps.get_model(label)._meta.verbose_name))
                for label in LOGGED_SUBJECTS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(subject_type=self.value()) if self.value() else queryset


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(LargeListAdmin, ReadOnlyAdmin):
    """Read-only: the log is append-only and may be large. Newest first by id (the order
    of writing); a period filter with fixed choices instead of a date hierarchy, which
    would read every entry's date."""

    list_display = ("at", "actor_user", "actor_organisation", "subject_type", "subject_id",
                    "purpose", "what")
    list_filter = ("purpose", SubjectTypeFilter, ("at", admin.DateFieldListFilter))
    search_fields = ("=subject_id",)  # shows the box; get_search_results does the lookups
    search_help_text = _("A subject's id, an organisation or a username (exact).")
    list_select_related = ("actor_user",)
    ordering = ("-pk",)
    sortable_by = ()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any],
                           search_term: str) -> tuple[QuerySet[Any], bool]:
        """Each branch uses an index: (subject type, subject), (organisation), (actor)."""
        terms = exact_terms(search_term)
        if not terms:
            return queryset, False
        actors = list(User.objects.filter(username__in=terms).values_list("pk", flat=True))
        return queryset.filter(Q(subject_type__in=LOGGED_SUBJECTS, subject_id__in=terms)
                               | Q(actor_organisation__in=terms)
                               | Q(actor_user__in=actors)), False


class EventKindFilter(admin.SimpleListFilter):
    """The kinds the apps register (not a scan of the feed for its distinct values)."""

    title = _("event")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(registered_kinds().items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(OrganisationEvent)
class OrganisationEventAdmin(LargeListAdmin, ReadOnlyAdmin):
    """What each organisation has been told (read-only), newest first; found by the
    organisation's exact name in the feed (its index)."""

    list_display = ("id", "organisation", "kind_shown", "subject", "occurred_on", "created_at")
    list_filter = (EventKindFilter,)
    search_fields = ("=organisation",)  # shows the box; the search is exact
    search_help_text = _("An organisation (exact).")
    ordering = ("-id",)
    sortable_by = ("id",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any],
                           search_term: str) -> tuple[QuerySet[Any], bool]:
        terms = exact_terms(search_term)
        if not terms:
            return queryset, False
        return queryset.filter(organisation__in=terms), False

    @admin.display(description=_("event"), ordering="kind")
    def kind_shown(self, event: OrganisationEvent) -> str:
        return str(kind_label(event.kind))
