"""Settlements for providers: their own figures and, line by line, why."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.access import record_access_many
from apps.core.errors import NotFound
from apps.core.models import AccessPurpose
from apps.providers.api import (
    AUTH_ERRORS,
    PROVIDERS,
    IsProviderKey,
    ProviderListView,
    PseudonymCursorPagination,
    _caller,
    _error,
    _provider,
)
from apps.providers.models import Scope
from apps.providers.permissions import HasScope
from apps.settlements.models import PrepatientLine, ProviderLine, RunStatus

VISIBLE_STATUSES = (RunStatus.COMPUTED, RunStatus.APPROVED)


class ProviderSettlementSerializer(serializers.Serializer):
    run = serializers.IntegerField(source="run_id")
    reference = serializers.CharField(source="run.reference")
    kind = serializers.CharField(source="run.kind")
    status = serializers.CharField(source="run.status")
    as_of = serializers.DateField(source="run.as_of")
    attributed = serializers.IntegerField()
    successes = serializers.IntegerField()
    failures = serializers.IntegerField()
    pending = serializers.IntegerField()
    final = serializers.BooleanField()
    eligible = serializers.BooleanField()
    paid_count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=15, decimal_places=2, coerce_to_string=True)


DECIDING_SAMPLE = inline_serializer(
    name="DecidingSample",
    fields={
        "taken_on": serializers.DateField(),
        "value": serializers.DecimalField(max_digits=10, decimal_places=3,
                                          coerce_to_string=True),
        "unit": serializers.CharField(),
        "source": serializers.CharField(help_text="Always lab: only lab values decide."),
    },
    allow_null=True,
)


class LineSerializer(serializers.Serializer):
    prepatient = serializers.CharField(source="pseudonym")
    result = serializers.CharField(help_text="success, failure or pending.")
    reason = serializers.CharField(help_text="The rule applied, e.g. below_target, "
                                             "above_target, no_outcome_sample, "
                                             "excluded:missed_followup, not_yet_due.")
    end_date = serializers.DateField()
    deciding_sample = serializers.SerializerMethodField()

    @extend_schema_field(DECIDING_SAMPLE)
    def get_deciding_sample(self, line: PrepatientLine) -> dict[str, Any] | None:
        if line.deciding_taken_on is None or line.deciding_value is None:
            return None
        return {"taken_on": line.deciding_taken_on.isoformat(),
                "value": f"{line.deciding_value:.3f}", "unit": line.deciding_unit,
                "source": "lab"}


class SettlementListView(ProviderListView):
    """This provider's figures in each computed or approved settlement run."""

    permission_classes = [HasScope.of(Scope.SETTLEMENT_READ), IsProviderKey]
    serializer_class = ProviderSettlementSerializer
    pagination_class = None

    @extend_schema(tags=PROVIDERS, operation_id="settlements_list",
                   responses={200: ProviderSettlementSerializer(many=True), **AUTH_ERRORS})
    def get(self, request: Request) -> Response:
        lines = (ProviderLine.objects.filter(provider=_provider(request),
                                             run__status__in=VISIBLE_STATUSES)
                 .select_related("run__programme").order_by("-run__as_of", "-run_id"))
        return Response(ProviderSettlementSerializer(lines, many=True).data)


class LineCursorPagination(PseudonymCursorPagination):
    ordering = "pseudonym"


class SettlementLinesView(ProviderListView):
    """Each prepatient attributed to this provider in a run: the rule and the deciding sample."""

    permission_classes = [HasScope.of(Scope.SETTLEMENT_READ), IsProviderKey]
    serializer_class = LineSerializer
    pagination_class = LineCursorPagination

    def get_queryset(self) -> QuerySet[PrepatientLine]:
        return PrepatientLine.objects.filter(
            run_id=int(self.kwargs["run_id"]), run__status__in=VISIBLE_STATUSES,
            provider=_provider(self.request)).select_related("prepatient")

    @extend_schema(
        tags=PROVIDERS, operation_id="settlement_lines",
        parameters=[OpenApiParameter("run_id", int, OpenApiParameter.PATH)],
        responses={200: LineSerializer(many=True), **AUTH_ERRORS,
                   404: _error("No settlement run with this number has lines for you.")},
    )
    def get(self, request: Request, run_id: str) -> Response:
        if not run_id.isdigit() or not ProviderLine.objects.filter(
            run_id=int(run_id), provider=_provider(request), run__status__in=VISIBLE_STATUSES,
        ).exists():
            raise NotFound(code="settlement_not_found")
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        record_access_many(subjects=[line.prepatient for line in page],
                           purpose=AccessPurpose.SETTLEMENT, what="api settlement lines",
                           organisation=_caller(request).organisation_label)
        return self.get_paginated_response(LineSerializer(page, many=True).data)

