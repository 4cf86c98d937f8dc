from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from apps.programs.models import Programme


class StartView(TemplateView):
    """The start page: what the programme is and how to join."""

    template_name = "site/start.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["programme"] = Programme.objects.order_by("start_date").first()
        return context
