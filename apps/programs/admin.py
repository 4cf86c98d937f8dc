from __future__ import annotations

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.programs.models import Programme


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "start_date", "cap", "payment_per_success", "currency")
    search_fields = ("name", "code")
    readonly_fields = ("charts", "recruitment_end", "priority_end", "max_outcome_payments",
                       "evaluator_share", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "charts")}),
        (_("Time line"), {"fields": (
            "start_date", "recruitment_months", "priority_months", "recruitment_end",
            "priority_end", "cap", "programme_months", "switch_months",
            "followup_interval_months", "followup_measures", "followup_grace_days",
            "reminder_days_before",
        )}),
        (_("Screening and inclusion"), {"fields": (
            "findrisc_referral_threshold", "inclusion_hba1c_min", "inclusion_hba1c_max",
            "seek_care_hba1c", "priority_bmi_above", "priority_age_min", "priority_age_max",
            "referral_valid_days",
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

    @admin.display(description=_("Charts"))
    def charts(self, programme: Programme) -> str:
        if programme.pk is None:
            return "—"
        try:
            url = reverse("admin:measurements_measurement_charts", args=[programme.pk])
        except NoReverseMatch:
            return "—"
        return format_html('<a href="{}">{}</a>', url, _("HbA1c and follow-up charts"))
