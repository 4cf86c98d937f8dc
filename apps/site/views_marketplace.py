"""The marketplace (SPEC §3.6): authorized providers with filters, each provider's
page, choosing or switching a provider (SPEC §3.1 step 5, §3.2) and ratings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from apps.core import clock
from apps.core.errors import DomainError
from apps.providers.models import Provider
from apps.providers.selectors import languages_offered, provider_get
from apps.providers.validators import ACCESSIBILITY_CHOICES, NATIONAL
from apps.registry.errors import InclusionRefused
from apps.registry.models import Prepatient
from apps.registry.selectors import (
    RATING_AFTER_MONTHS,
    RATINGS_SHOWN_FROM,
    RatingSummary,
    may_rate,
    prepatient_existing,
    rating_given,
    rating_opens_on,
    rating_summary,
    recent_comments,
    summary_of,
)
from apps.registry.services import rating_give
from apps.site import journey, selectors, services
from apps.site.forms_marketplace import (
    Language,
    ProviderFilterForm,
    RatingForm,
    Sort,
    languages,
)
from apps.site.mixins import PrepatientMixin, SubmitOnceMixin
from apps.site.selectors import Choice
from prevention_engine.dates import end_date, switch_window_end, switch_window_open

PAGE_SIZE = 24
_ACCESSIBILITY = dict(ACCESSIBILITY_CHOICES)


class NeverCacheMixin:
    """Pages about a person are never kept in a browser's or proxy's cache."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        add_never_cache_headers(response)
        return response


def long_date(day: date) -> str:
    """A date as people write it, in the page's language ("3 februari 2028")."""
    return date_format(day, "j F Y")


def step_url(prepatient: Prepatient | None) -> str:
    """Where the person continues on the way in (the page that works it out, when the
    person has no record yet)."""
    return reverse(journey.next_step(prepatient) if prepatient is not None else "site:next")


# --- What a card and a provider page show -------------------------------------------------


@dataclass(frozen=True)
class ProviderProfile:
    """A provider as the marketplace shows it, in the page's language."""

    provider: Provider
    offer: str
    offer_lang: str  # the language the offer is written in
    languages: list[Language]
    accessibility: list[str | Promise]
    reads_aloud: bool
    regions: list[str | Promise]
    national: bool
    rating: RatingSummary

    @classmethod
    def of(cls, provider: Provider, rating: RatingSummary) -> ProviderProfile:
        page_language = translation.get_language() or "sv"
        if page_language == "en" and provider.offer_en:
            offer, offer_lang = provider.offer_en, "en"
        elif provider.offer_sv:
            offer, offer_lang = provider.offer_sv, "sv"
        else:
            offer, offer_lang = provider.offer_en, "en"
        regions = list(provider.regions or [])
        return cls(
            provider=provider, offer=offer, offer_lang=offer_lang,
            languages=languages(provider.languages or []),
            accessibility=[_ACCESSIBILITY.get(key, key) for key in provider.accessibility or []],
            reads_aloud=selectors.READ_ALOUD in (provider.accessibility or []),
            regions=[gettext_lazy("The whole country") if region == NATIONAL else region
                     for region in regions],
            national=NATIONAL in regions,
            rating=rating,
        )

    @property
    def different_language(self) -> bool:
        return bool(self.offer) and self.offer_lang != (translation.get_language() or "sv")


class MarketplaceView(TemplateView):
    """Authorized providers as cards, with filters in a GET form."""

    template_name = "site/marketplace/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        programme = journey.current_programme(self.request)
        form = ProviderFilterForm(self.request.GET or None,
                                  language_codes=languages_offered())
        filters = form.filters()
        queryset = selectors.marketplace_providers(filters=filters, programme=programme,
                                                   by_rating=form.sort_order() == Sort.RATING)
        page = Paginator(queryset, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            form=form, filters_active=bool(filters), page=page,
            cards=[ProviderProfile.of(provider, summary_of(provider))
                   for provider in page.object_list],
            count=page.paginator.count, query=query.urlencode(),
            ratings_shown_from=RATINGS_SHOWN_FROM,
            rating_after_months=RATING_AFTER_MONTHS,
            switch_months=programme.switch_months if programme else None,
        )
        return context


# --- Who may choose, and what the page says to them ------------------------------------------


def existing_prepatient(request: HttpRequest) -> Prepatient | None:
    """The signed-in person's record, if there is one (never made here)."""
    user = request.user
    programme = journey.current_programme(request)
    if not user.is_authenticated or user.is_staff or programme is None:
        return None
    return prepatient_existing(programme=programme, user=user)


def choice_for(request: HttpRequest, prepatient: Prepatient | None,
               provider: Provider) -> Choice:
    """What the visitor can do with the provider (``selectors.provider_choice`` for a
    signed-in person), with the link to where a person not ready yet continues."""
    if not request.user.is_authenticated:
        return Choice(Choice.ANONYMOUS)
    if request.user.is_staff:
        return Choice(Choice.STAFF)
    choice = selectors.provider_choice(prepatient=prepatient, provider=provider)
    if choice.kind == Choice.NOT_READY:
        return replace(choice, continue_url=step_url(prepatient))
    return choice


def visible_provider(request: HttpRequest, pk: int,
                     prepatient: Prepatient | None) -> Provider:
    """Authorized providers, and any provider the person has been listed with."""
    provider = selectors.provider_visible(pk=pk, prepatient=prepatient)
    if provider is None:
        raise Http404("No such provider")
    return provider


class ProviderView(TemplateView):
    """One provider's page: offer, facts, ratings, and the way to choose it."""

    template_name = "site/marketplace/provider.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        prepatient = existing_prepatient(self.request)
        provider = visible_provider(self.request, self.kwargs["pk"], prepatient)
        summary = rating_summary(provider)
        context.update(
            profile=ProviderProfile.of(provider, summary), provider=provider,
            programme=journey.current_programme(self.request),
            choice=choice_for(self.request, prepatient, provider),
            comments=recent_comments(provider) if summary.shown else [],
            ratings_shown_from=RATINGS_SHOWN_FROM,
            rating_after_months=RATING_AFTER_MONTHS,
            may_rate=prepatient is not None and may_rate(prepatient, provider),
            my_rating=(rating_given(prepatient=prepatient, provider=provider)
                       if prepatient is not None else None),
        )
        return context


class ChooseView(SubmitOnceMixin, NeverCacheMixin, PrepatientMixin, TemplateView):
    """Confirm the choice of a provider, then enroll (first choice) or switch."""

    template_name = "site/marketplace/choose.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        provider = kwargs.get("provider") or visible_provider(
            self.request, self.kwargs["pk"], self.prepatient)
        context.update(provider=provider,
                       choice=choice_for(self.request, self.prepatient, provider),
                       programme=self.prepatient.programme,
                       ends_on=end_date(clock.today(),
                                        self.prepatient.programme.programme_months),
                       result_url=reverse("site:result"))
        return context

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        provider = provider_get(pk=pk)
        if provider is None:
            raise Http404("No such provider")
        try:
            prepatient = services.provider_choose(prepatient=self.prepatient, provider=provider,
                                                  actor=request.user)
        except InclusionRefused as refused:
            return self.render_to_response(self.get_context_data(
                provider=provider, error=refused.message, refused=True))
        except DomainError as error:
            return self.render_to_response(self.get_context_data(
                provider=provider, error=error.message))
        assert prepatient.enrolled_on is not None
        switch_months = prepatient.programme.switch_months
        window_end = switch_window_end(prepatient.enrolled_on, switch_months)
        if switch_window_open(enrolled_on=prepatient.enrolled_on, switch_months=switch_months,
                              today=clock.today()):
            messages.success(request, _(
                "You are now listed with %(provider)s. You can switch provider until "
                "%(date)s.") % {"provider": provider.name, "date": long_date(window_end)})
        else:
            messages.success(request, _("You are now listed with %(provider)s.")
                             % {"provider": provider.name})
        return redirect("site:mypage")


class RateView(SubmitOnceMixin, NeverCacheMixin, PrepatientMixin, FormView):
    """Give or change a rating of a provider the person has been listed with."""

    template_name = "site/marketplace/rate.html"
    form_class = RatingForm

    @property
    def provider(self) -> Provider:
        if not hasattr(self, "_provider"):
            self._provider = visible_provider(self.request, self.kwargs["pk"], self.prepatient)
        return self._provider

    def get_initial(self) -> dict[str, Any]:
        rating = rating_given(prepatient=self.prepatient, provider=self.provider)
        return {"stars": rating.stars, "comment": rating.comment} if rating else {}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        opens = rating_opens_on(self.prepatient, self.provider)
        context.update(
            provider=self.provider,
            may_rate=may_rate(self.prepatient, self.provider),
            opens_on=opens, rating_after_months=RATING_AFTER_MONTHS,
            consent_valid=self.prepatient.consent_valid,
            my_rating=rating_given(prepatient=self.prepatient, provider=self.provider),
        )
        return context

    def form_valid(self, form: RatingForm) -> HttpResponse:
        try:
            rating_give(prepatient=self.prepatient, provider=self.provider,
                        stars=form.cleaned_data["stars"], comment=form.cleaned_data["comment"])
        except DomainError as error:
            for field, message in error.fields.items():
                form.add_error(field if field in form.fields else None, message)
            if not error.fields:
                form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, _("Thank you. Your rating of %(provider)s is saved.")
                         % {"provider": self.provider.name})
        return redirect("site:provider", pk=self.provider.pk)
