"""What every page of the signed-in site shares."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

from apps.registry.models import Prepatient
from apps.registry.services import prepatient_register
from apps.site import journey, selectors, services


class PrepatientMixin(LoginRequiredMixin):
    """The signed-in person's record in the programme (made on the first visit)."""

    request: HttpRequest
    _prepatient: Prepatient | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and request.user.is_staff:
            # Staff accounts are never prepatients; their place is the back-office.
            return redirect("admin:index")
        return super().dispatch(request, *args, **kwargs)

    @property
    def prepatient(self) -> Prepatient:
        if self._prepatient is None:
            programme = journey.current_programme(self.request)
            if programme is None:
                raise Http404("No programme")
            self._prepatient = prepatient_register(programme=programme, user=self.request.user)
        return self._prepatient

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["prepatient"] = self.prepatient
        if not self.prepatient.is_enrolled:
            context["steps"] = journey.steps(self.prepatient)
        return context


class SubmitOnceMixin:
    """A POST is handled once per form token (see ``{% submit_once %}``).

    The token is recorded before the form is handled. A repeat of a handled
    submission goes where the first one went; a repeat while the first is
    still being handled goes back to the page; a submission that ended in
    errors frees its token (the re-rendered form carries a new one).
    """

    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = request.POST.get("once", "") if request.method == "POST" else ""
        if not token or not request.user.is_authenticated:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        token = token[:32]
        record = services.form_submission_claim(token=token, user=request.user,
                                                path=request.path)
        if record is None:
            earlier = selectors.form_submission_earlier(token=token, user=request.user)
            return HttpResponseRedirect(earlier.result_url if earlier and earlier.result_url
                                        else request.path)
        response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        redirected = response.status_code in (301, 302, 303)
        services.form_submission_finish(
            submission=record, result_url=response["Location"] if redirected else None)
        return response
