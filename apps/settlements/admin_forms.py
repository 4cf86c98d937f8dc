"""Forms of the settlements' back-office pages.

They only parse input: the services decide. A ``DomainError`` raised by a
service is put back onto the form with ``show_domain_error``
(``ActionFormAdmin.action_form_response``), so the caseworker sees the
service's own message on the page.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.admin_tools import DomainErrorFormMixin
from apps.settlements.models import DISPUTE_REASON_MAX, DisputeStatus, SettlementRun


class PrepareForm(forms.ModelForm):
    class Meta:
        model = SettlementRun
        fields = ("programme", "kind", "as_of", "corrects", "note")


class ComputeAgainForm(DomainErrorFormMixin, forms.Form):
    """No fields: the confirmation of "compute again", and the service's refusal if any."""


class ResolveDisputeForm(DomainErrorFormMixin, forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), widget=forms.RadioSelect,
        choices=[(DisputeStatus.UPHELD.value, _("Uphold: the provider is right")),
                 (DisputeStatus.REJECTED.value, _("Reject: the line stands"))],
    )
    reason = forms.CharField(
        label=_("Reason for the decision"), max_length=DISPUTE_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        help_text=_("Required. The provider sees it with the decision."),
    )
