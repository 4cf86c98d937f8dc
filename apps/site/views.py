from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.views import View
from django.views.generic import TemplateView

from apps.site import journey, selectors
from apps.site.mixins import PrepatientMixin


class StartView(TemplateView):
    """The start page: the programmes open to join, in their definitions' words, and
    how to join."""

    template_name = "site/start.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        programme = journey.current_programme(self.request)
        context.update(programme=programme,
                       cards=selectors.programme_cards(
                           translation.get_language() or "sv",
                           selectors.known_birth_date(self.request.user)),
                       chosen=(programme if journey.PROGRAMME_SESSION_KEY in self.request.session
                               else None))
        return context


class AboutView(TemplateView):
    """About the programme (the chosen one, in its definition's words), who sees which
    data, and how to leave."""

    template_name = "site/about.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        programme = journey.current_programme(self.request)
        language = translation.get_language() or "sv"
        context.update(programme=programme, programmes_open=len(selectors.programmes_open()),
                       about=selectors.programme_about(programme, language)
                       if programme is not None else None)
        return context


class NextStepView(PrepatientMixin, LoginRequiredMixin, View):
    """Where a signed-in person continues (the target after signing in)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect(journey.next_step(self.prepatient))
