"""Settlements for providers: their own figures, line by line why, and their disputes."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.api.permissions import HasScope
from apps.api.serializers import enum_field
from apps.api.views import (
    AUTH_ERRORS,
    BAD_CURSOR,
    BAD_QUERY,
    EXAMPLE_PSEUDONYM,
    PROVIDERS,
    DecimalJSONParser,
    IsProviderKey,
    OrganisationView,
    ProviderListView,
    PseudonymCursorPagination,
    caller_of,
    error_response,
    provider_of,
)
from apps.core.access import record_access, record_access_many
from apps.core.models import AccessPurpose
from apps.providers.models import Scope
from apps.settlements import selectors
from apps.settlements.errors import SettlementNotFound
from apps.settlements.explain import explain
from apps.settlements.models import (
    DISPUTE_REASON_MAX,
    Dispute,
    DisputeStatus,
    PrepatientLine,
)
from apps.settlements.services import dispute_raise_for


def _is_run_number(text: str) -> bool:
    """A run number the database can hold (a bigger one names no run: 404)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


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


EVIDENCE_SAMPLE = inline_serializer(
    name="EvidenceSample",
    fields={
        "taken_on": serializers.DateField(),
        "value": serializers.CharField(help_text="As reported (a decimal string)."),
        "unit": serializers.CharField(),
        "measurement": serializers.IntegerField(help_text="The stored value's id."),
    },
    many=True,
)
EVIDENCE = inline_serializer(
    name="Evidence",
    fields={
        "rule": serializers.CharField(help_text="criterion or disqualifier"),
        "measure": serializers.CharField(),
        "quantity": serializers.CharField(
            allow_null=True, help_text="The compared quantity: a sample as reported, or "
                                       "computed and rounded to 4 decimals."),
        "unit": serializers.CharField(),
        "samples": EVIDENCE_SAMPLE,
        "baseline": serializers.CharField(allow_null=True),
        "met": serializers.BooleanField(),
        "op": serializers.CharField(),
        "threshold": serializers.CharField(),
    },
    many=True,
)


class LineSerializer(serializers.Serializer):
    prepatient = serializers.CharField(source="pseudonym")
    result = serializers.CharField(help_text="success, failure, pending (or excluded).")
    reason = serializers.CharField(help_text="The rule applied, e.g. target_met, "
                                             "target_not_met:hba1c, no_outcome_sample:hba1c, "
                                             "disqualified:developed_diabetes, "
                                             "excluded:missed_followup, not_yet_due.")
    end_date = serializers.DateField()
    decided_on = serializers.DateField(allow_null=True, help_text=(
        "The day of the deciding event (dropping out, withdrawal, exclusion)."))
    evidence = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField(help_text="Which rule decided, in words "
                                                              "(in the request's language).")

    @extend_schema_field(EVIDENCE)
    def get_evidence(self, line: PrepatientLine) -> list[dict[str, Any]]:
        return list(line.evidence or [])

    def get_explanation(self, line: PrepatientLine) -> str:
        if "measure_names" not in self.context:
            self.context["measure_names"] = selectors.measure_names()
        names = self.context["measure_names"]
        return explain(line, names, window_days=line.run.programme.outcome_window_days)


class SettlementListView(ProviderListView):
    """This provider's figures in each computed or approved settlement run."""

    permission_classes = [HasScope.of(Scope.SETTLEMENT_READ), IsProviderKey]
    serializer_class = ProviderSettlementSerializer
    pagination_class = None

    @extend_schema(tags=PROVIDERS, operation_id="settlements_list",
                   responses={200: ProviderSettlementSerializer(many=True), **AUTH_ERRORS})
    def get(self, request: Request) -> Response:
        lines = selectors.provider_settlements(provider_of(request))
        return Response(ProviderSettlementSerializer(lines, many=True).data)


class LineCursorPagination(PseudonymCursorPagination):
    ordering = "pseudonym"


class SettlementLinesView(ProviderListView):
    """Each prepatient attributed to this provider in a run: the rule and the deciding sample."""

    permission_classes = [HasScope.of(Scope.SETTLEMENT_READ), IsProviderKey]
    serializer_class = LineSerializer
    pagination_class = LineCursorPagination

    def get_queryset(self) -> QuerySet[PrepatientLine]:
        return selectors.provider_settlement_lines(provider_of(self.request),
                                                   int(self.kwargs["run_id"]))

    @extend_schema(
        tags=PROVIDERS, operation_id="settlement_lines",
        parameters=[OpenApiParameter("run_id", int, OpenApiParameter.PATH)],
        responses={200: LineSerializer(many=True), **AUTH_ERRORS,
                   404: error_response("No settlement run with this number has lines for you.")},
    )
    def get(self, request: Request, run_id: str) -> Response:
        if not _is_run_number(run_id) or not selectors.provider_has_settlement(
                provider_of(request), int(run_id)):
            raise SettlementNotFound()
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        record_access_many(subjects=[line.prepatient for line in page],
                           purpose=AccessPurpose.SETTLEMENT, what="api settlement lines",
                           organisation=caller_of(request).organisation_label)
        return self.get_paginated_response(LineSerializer(page, many=True).data)



# --- Disputes ------------------------------------------------------------------------------


class DisputeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    run = serializers.IntegerField(source="run_id")
    run_reference = serializers.CharField(source="run.reference")
    prepatient = serializers.CharField(source="line.pseudonym", help_text="The programme ID.")
    line_result = serializers.CharField(source="line.result",
                                        help_text="The disputed line's result (unchanged).")
    line_reason = serializers.CharField(source="line.reason",
                                        help_text="The rule the disputed line applied.")
    reason = serializers.CharField(help_text="Why you dispute the line.")
    raised_at = serializers.DateTimeField()
    status = enum_field(DisputeStatus.values, "open until a caseworker decides; then upheld "
                                               "or rejected.")
    resolution_reason = serializers.SerializerMethodField()
    resolved_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.CharField(
        allow_null=True, help_text="The caseworker's reason for the decision; null while open."))
    def get_resolution_reason(self, dispute: Dispute) -> str | None:
        return dispute.resolution_reason or None


class DisputeRaiseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=DISPUTE_REASON_MAX,
                                   help_text="Why the line is wrong, e.g. which sample or event "
                                             "the settlement missed. Required.")


class DisputeQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DisputeStatus.values, required=False)
    run = serializers.IntegerField(min_value=1, max_value=2**62, required=False)
    prepatient = serializers.CharField(max_length=32, required=False)


class DisputeCursorPagination(PseudonymCursorPagination):
    ordering = ("-raised_at", "-id")


DISPUTE_LINE_NOT_FOUND = error_response(
    "No line for this programme ID in a computed or approved run of this number is "
    "attributed to you (`settlement_line_not_found`).")
RUN_ID = OpenApiParameter("run_id", int, OpenApiParameter.PATH,
                          description="The settlement run's number.")
PROGRAMME_ID = OpenApiParameter("pseudonym", str, OpenApiParameter.PATH,
                                description="The prepatient's programme ID.",
                                examples=[OpenApiExample("A programme ID",
                                                         value=EXAMPLE_PSEUDONYM)])


class DisputeListView(ProviderListView):
    """Your disputes of settlement lines, newest first, with their status and decision.

    A caseworker upholds or rejects each dispute with a reason; the decision is also
    announced in your event feed (kind `dispute_resolved`). A decision never changes
    the line: an upheld dispute on an approved run is corrected by a new adjustment
    run, which then appears in `GET /api/v1/settlements/`.
    """

    permission_classes = [HasScope.of(Scope.SETTLEMENT_READ), IsProviderKey]
    serializer_class = DisputeSerializer
    pagination_class = DisputeCursorPagination

    @extend_schema(
        tags=PROVIDERS, operation_id="settlement_disputes_list",
        parameters=[
            OpenApiParameter("status", str, enum=DisputeStatus.values, required=False,
                             description="Only disputes with this status."),
            OpenApiParameter("run", int, required=False,
                             description="Only disputes of lines in this run."),
            OpenApiParameter("prepatient", str, required=False,
                             description="Only disputes of this programme ID's lines."),
        ],
        responses={200: DisputeSerializer(many=True), 400: BAD_QUERY, 404: BAD_CURSOR,
                   **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = DisputeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        wanted = query.validated_data
        rows = selectors.provider_disputes(provider_of(request), status=wanted.get("status"),
                                           run_id=wanted.get("run"),
                                           pseudonym=wanted.get("prepatient"))
        page = self.paginate_queryset(rows) or []
        record_access_many(
            subjects=list({d.line.prepatient_id: d.line.prepatient for d in page}.values()),
            purpose=AccessPurpose.SETTLEMENT, what="api settlement disputes",
            organisation=caller_of(request).organisation_label)
        return self.get_paginated_response(DisputeSerializer(page, many=True).data)


class DisputeRaiseView(OrganisationView):
    """Dispute one of your lines in a computed or approved settlement run.

    State why the line is wrong in `reason`. A line has at most one open dispute;
    once it is decided you may dispute the line again. The line itself never
    changes (approved runs are immutable): an upheld dispute on an approved run is
    corrected by a new adjustment run. Needs the scopes `settlement:read` and
    `settlement:dispute`.
    """

    permission_classes = [HasScope.of(Scope.SETTLEMENT_READ, Scope.SETTLEMENT_DISPUTE),
                          IsProviderKey]
    parser_classes = [DecimalJSONParser]

    @extend_schema(
        tags=PROVIDERS, operation_id="settlement_line_dispute",
        parameters=[RUN_ID, PROGRAMME_ID],
        request=DisputeRaiseSerializer,
        examples=[OpenApiExample("A missed sample", request_only=True, value={
            "reason": "The 24-month HbA1c taken on 2028-08-01 (sample LAB-2028-0042) is "
                      "missing from the line."})],
        responses={
            201: DisputeSerializer,
            400: error_response("Not valid: `fields.reason` says what to correct."),
            404: DISPUTE_LINE_NOT_FOUND,
            409: error_response("The line already has an open dispute (`dispute_already_open`)."),
            415: error_response("The body is not application/json."),
            **AUTH_ERRORS,
        },
    )
    def post(self, request: Request, run_id: str, pseudonym: str) -> Response:
        body = DisputeRaiseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        caller = caller_of(request)
        dispute = dispute_raise_for(provider=provider_of(request),
                                    run_id=int(run_id) if _is_run_number(run_id) else None,
                                    pseudonym=pseudonym, reason=body.validated_data["reason"],
                                    credential=caller.credential)
        record_access(subject=dispute.line.prepatient, purpose=AccessPurpose.SETTLEMENT,
                      what="api settlement dispute raised",
                      organisation=caller.organisation_label)
        dispute = selectors.provider_dispute(provider_of(request), dispute.pk)
        return Response(DisputeSerializer(dispute).data, status=201)
