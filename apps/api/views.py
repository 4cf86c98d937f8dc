"""Version 1 of the provider and laboratory API.

Thin views: they parse, call a selector or a service, and render. Who may see
what is decided by the consent gate (``prepatients_for_provider``) underneath
every provider view: a prepatient not listed with the provider, without valid
consent or switched away is answered with 404, exactly like an unknown one,
never 403. Every read of a prepatient's data writes the access log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import json
from rest_framework.views import APIView

from apps.api import fhir
from apps.api.authentication import ApiKeyAuthentication, OrganisationUser
from apps.api.permissions import HasScope, IsOrganisation
from apps.api.serializers import (
    BatchRefusedSerializer,
    BatchResultSerializer,
    DashboardSerializer,
    EventPageSerializer,
    EventQuerySerializer,
    FhirBundleSerializer,
    FhirObservationSerializer,
    MeasurementBatchEnvelopeSerializer,
    MeasurementBatchSerializer,
    MeasurementHistorySerializer,
    MeasurementItemSerializer,
    OrganisationSerializer,
    OverdueSerializer,
    PrepatientDetailSerializer,
    PrepatientSerializer,
    ReferralResultResponseSerializer,
    ReferralResultSerializer,
)
from apps.core import clock
from apps.core.access import record_access, record_access_many
from apps.core.api import ErrorSerializer
from apps.core.errors import DomainError
from apps.core.models import AccessPurpose
from apps.measurements import selectors
from apps.measurements.models import Measurement
from apps.measurements.services import (
    MeasurementInput,
    Reporter,
    UnreadableItem,
    measurements_record_batch,
)
from apps.providers.models import Lab, Provider, Scope
from apps.providers.selectors import provider_events
from apps.registry.errors import PrepatientNotFound
from apps.registry.models import InclusionSample, Prepatient
from apps.registry.selectors import (
    prepatients_by_pseudonym,
    questionnaire_responses_fhir,
    switch_window_end_of,
)
from apps.registry.services import inclusion_sample_receive_lab

# --- Parsing and negotiation ----------------------------------------------------------


class DecimalJSONParser(JSONParser):
    """JSON whose numbers with a fraction are read as ``Decimal``, never as a float."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json.loads(text, parse_float=Decimal, parse_constant=json.strict_constant)
        except ValueError as exc:
            raise ParseError(_("The body is not valid JSON: %(error)s") % {"error": exc}) from exc


class FhirJSONParser(DecimalJSONParser):
    media_type = "application/fhir+json"


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Responses are always JSON, whatever ``Accept`` asks for (a laboratory sending
    ``Accept: application/fhir+json`` gets its answer rather than a 406)."""

    def select_renderer(self, request: Request, renderers: Any,
                        format_suffix: Any = None) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


# --- Permissions ------------------------------------------------------------------------


class IsProviderKey(BasePermission):
    message = "This endpoint is for a provider's API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        self.message = _("This endpoint is for a provider's API key.")
        return isinstance(request.user, OrganisationUser) and request.user.provider is not None


class IsLabKey(BasePermission):
    message = "This endpoint is for a laboratory's API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        self.message = _("This endpoint is for a laboratory's API key.")
        return isinstance(request.user, OrganisationUser) and request.user.lab is not None


def caller_of(request: Request) -> OrganisationUser:
    """The organisation calling (the view's permissions have checked it is one)."""
    user = request.user
    assert isinstance(user, OrganisationUser)  # the permissions ran first
    return user


def provider_of(request: Request) -> Provider:
    """The provider calling (in a view for provider keys only)."""
    provider = caller_of(request).provider
    assert provider is not None
    return provider


def _lab(request: Request) -> Lab:
    lab = caller_of(request).lab
    assert lab is not None
    return lab


# --- Documentation helpers ----------------------------------------------------------------


def error_response(description: str) -> OpenApiResponse:
    """A documented error answer: the one error shape, with its meaning here."""
    return OpenApiResponse(ErrorSerializer, description=description)


AUTH_ERRORS = {
    401: error_response("No API key, or a key that is not valid or has been revoked."),
    403: error_response("The key lacks the scope this endpoint needs, or belongs to the other kind "
                "of organisation."),
    429: error_response("Too many requests for this key; retry after the `Retry-After` seconds."),
}
NOT_VISIBLE = error_response("No prepatient with this programme ID is visible to you: unknown, not "
                     "listed with you, switched away or without valid consent (never 403, so "
                     "that existence is not revealed).")
BAD_CURSOR = error_response("The cursor is not valid.")
EXAMPLE_PSEUDONYM = "pp-0a1b2c3d4e"
PSEUDONYM = OpenApiParameter(
    "pseudonym", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="The prepatient's programme ID.",
    examples=[OpenApiExample("A programme ID", value=EXAMPLE_PSEUDONYM)],
)
PROVIDERS, LABORATORIES = ["providers"], ["laboratories"]
BAD_QUERY = error_response("A query parameter is not valid.")
UNSUPPORTED_MEDIA_TYPE = error_response("The body is neither application/json nor "
                                "application/fhir+json.")


# --- Base classes -----------------------------------------------------------------------


class OrganisationView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    content_negotiation_class = JSONOnlyNegotiation
    renderer_classes = [JSONRenderer]
    parser_classes = [DecimalJSONParser, FhirJSONParser]


class ProviderReadView(OrganisationView):
    permission_classes = [HasScope.of(Scope.PREPATIENTS_READ), IsProviderKey]


class ProviderListView(GenericAPIView, ProviderReadView):
    filter_backends: list[Any] = []


class PseudonymCursorPagination(CursorPagination):
    ordering: str | list[str] | tuple[str, ...] = "pseudonym"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class HistoryCursorPagination(PseudonymCursorPagination):
    ordering = ("-taken_on", "-id")


class OverdueCursorPagination(PseudonymCursorPagination):
    ordering = ("due_on", "id")


def _log_reads(request: Request, subjects: Sequence[Prepatient], what: str) -> None:
    record_access_many(subjects=subjects, purpose=AccessPurpose.CARE,
                       organisation=caller_of(request).organisation_label, what=what)


# --- Who am I -------------------------------------------------------------------------------


class WhoAmIView(OrganisationView):
    """The organisation an API key belongs to, and what the key may do."""

    permission_classes = [IsOrganisation]

    @extend_schema(
        operation_id="whoami", tags=["organisation"],
        responses={200: OrganisationSerializer, 401: AUTH_ERRORS[401], 429: AUTH_ERRORS[429]},
    )
    def get(self, request: Request) -> Response:
        organisation = caller_of(request)
        party = organisation.organisation
        return Response(OrganisationSerializer({
            "kind": organisation.kind,
            "id": party.pk,
            "name": party.name,
            "organisation_number": party.organisation_number,
            "authorization_status": party.authorization_status,
            "scopes": sorted(organisation.scopes),
        }).data)


# --- Prepatients ------------------------------------------------------------------------------


class PrepatientQuerySerializer(serializers.Serializer):
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)


def _prepatient_row(prepatient: Prepatient) -> dict[str, Any]:
    assert prepatient.enrolled_on is not None
    return {
        "pseudonym": prepatient.pseudonym,
        "programme": prepatient.programme,
        "state": prepatient.state,
        "enrolled_on": prepatient.enrolled_on,
        "end_date": prepatient.end_date,
        "switch_window_end": switch_window_end_of(prepatient=prepatient),
        "next_due": prepatient.next_due,  # type: ignore[attr-defined]
        "overdue": selectors.is_overdue(prepatient),
        "baseline_complete": prepatient.baseline_complete,  # type: ignore[attr-defined]
        "safety_notice_open": prepatient.safety_notice_open,  # type: ignore[attr-defined]
    }


class PrepatientListView(ProviderListView):
    """Your prepatients: listed with you, with valid consent, by programme ID only."""

    pagination_class = PseudonymCursorPagination
    serializer_class = PrepatientSerializer

    @extend_schema(
        operation_id="prepatients_list", tags=PROVIDERS,
        parameters=[OpenApiParameter("overdue", OpenApiTypes.BOOL, required=False,
                                     description="true: only those with a missed due date; "
                                                 "false: only those without.")],
        responses={200: PrepatientSerializer(many=True), 400: BAD_QUERY, 404: BAD_CURSOR,
                   **AUTH_ERRORS},
    )
    def get(self, request: Request) -> Response:
        query = PrepatientQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.provider_prepatients(provider_of(request),
                                              overdue=query.validated_data["overdue"])
        page = self.paginate_queryset(rows) or []
        _log_reads(request, page, "api prepatient list")
        return self.get_paginated_response(
            PrepatientSerializer([_prepatient_row(p) for p in page], many=True).data)


def _visible(request: Request, pseudonym: str) -> Prepatient:
    prepatient = selectors.provider_prepatient(provider_of(request), pseudonym)
    if prepatient is None:
        raise PrepatientNotFound(_("No prepatient with this programme ID is visible to you."))
    return prepatient


class PrepatientDetailView(ProviderReadView):
    """One of your prepatients with the follow-up schedule."""

    @extend_schema(operation_id="prepatients_retrieve", tags=PROVIDERS, parameters=[PSEUDONYM],
                   responses={200: PrepatientDetailSerializer, 404: NOT_VISIBLE, **AUTH_ERRORS})
    def get(self, request: Request, pseudonym: str) -> Response:
        prepatient = _visible(request, pseudonym)
        record_access(subject=prepatient, purpose=AccessPurpose.CARE,
                      organisation=caller_of(request).organisation_label,
                      what="api prepatient detail")
        row = _prepatient_row(prepatient)
        row["followups"] = selectors.followup_status(prepatient=prepatient)
        return Response(PrepatientDetailSerializer(row).data)


class HistoryQuerySerializer(serializers.Serializer):
    type = serializers.CharField(required=False, max_length=32)


class PrepatientMeasurementsView(ProviderListView):
    """A prepatient's values, newest first, corrections included (a corrected value is
    marked ``superseded``)."""

    pagination_class = HistoryCursorPagination
    serializer_class = MeasurementHistorySerializer

    @extend_schema(
        operation_id="prepatients_measurements", tags=PROVIDERS,
        parameters=[PSEUDONYM, OpenApiParameter("type", OpenApiTypes.STR, required=False,
                                     description="Only values of this type code.")],
        responses={200: MeasurementHistorySerializer(many=True), 400: BAD_QUERY,
                   404: NOT_VISIBLE, **AUTH_ERRORS},
    )
    def get(self, request: Request, pseudonym: str) -> Response:
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        prepatient = _visible(request, pseudonym)
        rows: QuerySet[Measurement] = selectors.prepatient_history(
            prepatient, type_code=query.validated_data.get("type"),
            provider=provider_of(request))
        page = self.paginate_queryset(rows) or []
        record_access(subject=prepatient, purpose=AccessPurpose.CARE,
                      organisation=caller_of(request).organisation_label,
                      what="api measurement history")
        return self.get_paginated_response(MeasurementHistorySerializer([{
            "id": m.pk, "type": m.type, "value": m.value, "reported_value": m.reported_value,
            "reported_unit": m.reported_unit, "taken_on": m.taken_on,
            "reporter_kind": m.reporter_kind,
            "source_reference": m.shown_source_reference,
            "superseded": m.superseded,
            "corrects": m.supersedes_id,
        } for m in page], many=True).data)


class PrepatientQuestionnaireResponsesView(ProviderReadView):
    """A prepatient's answers to the programme's questionnaires, newest first, as a FHIR R4
    `Bundle` of `QuestionnaireResponse` resources: the person by programme ID only
    (`subject.identifier`, system `urn:prevention:programme-id`), the questionnaire as
    `urn:prevention:questionnaire:<code>|<version>`, each answer a `valueCoding` (a
    choice) or `valueDecimal`, and the score in the extension
    `urn:prevention:questionnaire-score`."""

    @extend_schema(
        operation_id="prepatients_questionnaire_responses", tags=PROVIDERS,
        parameters=[PSEUDONYM],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT,
                                        description="A FHIR R4 Bundle (searchset)."),
                   404: NOT_VISIBLE, **AUTH_ERRORS},
    )
    def get(self, request: Request, pseudonym: str) -> Response:
        prepatient = _visible(request, pseudonym)
        bundle = questionnaire_responses_fhir(prepatient)
        record_access(subject=prepatient, purpose=AccessPurpose.CARE,
                      organisation=caller_of(request).organisation_label,
                      what="api questionnaire responses")
        return Response(bundle)


# --- Events, overdue, dashboard ----------------------------------------------------------------


class EventsView(ProviderReadView):
    """Your event feed: what happened to your prepatients, in order, each event once.

    Keep the `next_after` of each answer and pass it as `after` next time; call
    again at once while `has_more` is true. Kinds: new_listing, switched_away,
    consent_withdrawn, excluded, reinstated, dropped_out, deceased, completed,
    safety_notice.
    """

    @extend_schema(operation_id="events_list", tags=PROVIDERS,
                   parameters=[EventQuerySerializer],
                   responses={200: EventPageSerializer, 400: BAD_QUERY, **AUTH_ERRORS})
    def get(self, request: Request) -> Response:
        query = EventQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        events = provider_events(provider_of(request), after=after, limit=limit + 1)
        has_more = len(events) > limit
        events = events[:limit]
        subjects = prepatients_by_pseudonym({e.subject for e in events})
        _log_reads(request, subjects, "api event feed")
        return Response(EventPageSerializer({
            "events": events, "next_after": events[-1].pk if events else after,
            "has_more": has_more,
        }).data)


class OverdueView(ProviderListView):
    """Due dates passed without a complete set, for your active prepatients; oldest first."""

    pagination_class = OverdueCursorPagination
    serializer_class = OverdueSerializer

    @extend_schema(operation_id="overdue_list", tags=PROVIDERS,
                   responses={200: OverdueSerializer(many=True), 404: BAD_CURSOR,
                              **AUTH_ERRORS})
    def get(self, request: Request) -> Response:
        today = clock.today()
        page = self.paginate_queryset(selectors.followups_overdue(provider=provider_of(request),
                                                        today=today)) or []
        _log_reads(request, list({due.prepatient_id: due.prepatient for due in page}.values()),
                   "api overdue follow-ups")
        return self.get_paginated_response(OverdueSerializer([{
            "prepatient": due.prepatient, "index": due.index, "due_on": due.due_on,
            "window_start": due.window_start, "window_end": due.window_end,
            "days_overdue": (today - due.due_on).days,
        } for due in page], many=True).data)


class DashboardView(ProviderReadView):
    """PROVISIONAL figures per programme: a forecast from the values so far, never a
    settlement.

    N is the prepatients listed with you, enrolled and not deceased. The share
    below target is taken among those with valid consent and a current
    laboratory value of the outcome measure (their latest value). Projected
    successes = floor(share × N); the provisional payout applies the
    settlement rule (unpaid floor, paid ceiling, minimum N) to them.
    """

    @extend_schema(operation_id="dashboard", tags=PROVIDERS,
                   responses={200: DashboardSerializer, **AUTH_ERRORS})
    def get(self, request: Request) -> Response:
        return Response(DashboardSerializer({
            "provisional": True, "as_of": clock.today(),
            "programmes": selectors.provider_dashboard(provider_of(request)),
        }).data)


# --- Uploads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedItem:
    """One item as read: an input for the intake, or the reasons it cannot be read."""

    value: MeasurementInput | UnreadableItem
    paths: fhir.Observation | None = None  # FHIR: where each field sits


def read_plain_batch(data: Any) -> tuple[list[ParsedItem], bool]:
    envelope = MeasurementBatchEnvelopeSerializer(data=data)
    envelope.is_valid(raise_exception=True)
    parsed = []
    for raw in envelope.validated_data["items"]:
        item = MeasurementItemSerializer(data=raw)
        if item.is_valid():
            parsed.append(ParsedItem(MeasurementInput(**item.validated_data)))
        else:
            parsed.append(ParsedItem(UnreadableItem(errors={
                name: [str(message) for message in messages]
                for name, messages in item.errors.items()})))
    return parsed, envelope.validated_data["all_or_nothing"]


def read_fhir_batch(data: Any) -> tuple[list[ParsedItem], bool]:
    observations, all_or_nothing = fhir.read_results(data, catalogue=catalogue())
    return [ParsedItem(MeasurementInput(
        prepatient=o.subject, type=o.type, value=o.value, unit=o.unit, taken_on=o.taken_on,
        source_reference=o.source_reference), paths=o) for o in observations], all_or_nothing


def catalogue() -> fhir.Catalogue:
    """The LOINC codes and units the platform accepts, from the measurement types (data)."""
    codes = selectors.accepted_loinc_codes()
    return fhir.Catalogue(loinc=codes.loinc, units=codes.units)


def record(parsed: list[ParsedItem], *, all_or_nothing: bool, reporter: Reporter) -> Response:
    """Stores through the intake service; answers 200 when committed, else 400 with every
    item's status."""
    batch = measurements_record_batch(items=[item.value for item in parsed], reporter=reporter,
                                      all_or_nothing=all_or_nothing)
    body: dict[str, Any] = {
        "committed": batch.committed, "stored": batch.stored, "duplicates": batch.duplicates,
        "errors": batch.errors, "items": [{
            "index": r.index, "status": r.status, "measurement_id": r.measurement_id,
            "errors": _item_errors(parsed[r.index], r.errors),
        } for r in batch.items],
    }
    if batch.committed:
        return Response(BatchResultSerializer(body).data)
    body["error"] = {
        "code": "batch_refused",
        "message": _("Nothing was stored: at least one item has an error and the batch is "
                     "all or nothing. Correct the items with errors and send the batch again."),
        "fields": {_error_path(parsed[r.index], r.index, name): messages
                   for r in batch.items for name, messages in _item_errors(
                       parsed[r.index], r.errors).items()},
    }
    return Response(BatchRefusedSerializer(body).data, status=400)


def _item_errors(item: ParsedItem, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    if item.paths is None:
        return {name: [str(m) for m in messages] for name, messages in errors.items()}
    return {item.paths.field_path(name): [str(m) for m in messages]
            for name, messages in errors.items()}


def _error_path(item: ParsedItem, index: int, name: str) -> str:
    """Where a field sits in the request: ``items[3].value`` or
    ``entry[3].resource.valueQuantity.value`` (``name`` is already a FHIR path there)."""
    if item.paths is not None:
        return f"{item.paths.path}{name}"
    return f"items[{index}].{name}"


BATCH_EXAMPLE = OpenApiExample(
    "Two values, all or nothing",
    value={"all_or_nothing": True, "items": [
        {"prepatient": EXAMPLE_PSEUDONYM, "type": "hba1c", "value": "41.5", "unit": "mmol/mol",
         "taken_on": "2026-11-02", "source_reference": "visit-881-hba1c"},
        {"prepatient": EXAMPLE_PSEUDONYM, "type": "weight", "value": 82.4, "unit": "kg",
         "taken_on": "2026-11-02", "source_reference": "visit-881-weight"},
    ]},
    request_only=True,
)


class MeasurementUploadView(OrganisationView):
    """Report values for your prepatients (bulk, idempotent on `source_reference`).

    Each item is answered in its place: `stored`, `duplicate` (sent before,
    not stored twice), `error` with per-field messages, or `not_stored`. A
    value for a prepatient not listed with you or without valid consent is
    refused per item. 200 when the batch was committed; 400 when an
    all-or-nothing batch was refused (the body still lists every item).
    """

    permission_classes = [HasScope.of(Scope.MEASUREMENTS_WRITE), IsProviderKey]

    @extend_schema(
        operation_id="measurements_upload", tags=PROVIDERS,
        request=MeasurementBatchSerializer,
        examples=[BATCH_EXAMPLE],
        responses={
            200: BatchResultSerializer,
            400: OpenApiResponse(BatchRefusedSerializer, description=(
                "The error shape. For a refused all-or-nothing batch the body also lists "
                "every item (`committed` false).")),
            415: UNSUPPORTED_MEDIA_TYPE,
            **AUTH_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        parsed, all_or_nothing = read_plain_batch(request.data)
        return record(parsed, all_or_nothing=all_or_nothing,
                      reporter=Reporter.for_provider(provider_of(request)))


# --- Laboratories ---------------------------------------------------------------------------------


class LabView(OrganisationView):
    permission_classes = [HasScope.of(Scope.LAB_RESULTS), IsLabKey]


FHIR_BUNDLE_EXAMPLE = OpenApiExample(
    "FHIR Bundle (HbA1c in %)",
    media_type="application/fhir+json",
    value={"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": fhir.LOINC_SYSTEM, "code": "4548-4",
                             "display": "Hemoglobin A1c/Hemoglobin.total in Blood"}]},
        "subject": {"identifier": {"system": fhir.PROGRAMME_ID_SYSTEM,
                                   "value": EXAMPLE_PSEUDONYM}},
        "effectiveDateTime": "2026-11-02T08:30:00+01:00",
        "valueQuantity": {"value": 5.9, "unit": "%", "system": fhir.UCUM_SYSTEM,
                          "code": "%"},
        "identifier": [{"system": "urn:oid:1.2.752.0.0.1", "value": "LAB-2026-118811"}],
    }}]},
    request_only=True,
)


class LabResultsView(LabView):
    """Follow-up results for enrolled prepatients (by programme ID), as the plain JSON
    batch of `POST /api/v1/measurements/` or as FHIR R4: one `Observation` or a `Bundle`
    of them (`transaction`/`collection`: all or nothing; `batch`: entry by entry).

    FHIR: `code.coding` with system `http://loinc.org` (59261-8 HbA1c mmol/mol,
    4548-4 HbA1c %, or another measurement type's LOINC code); `subject.identifier`
    with system `urn:prevention:programme-id`; `effectiveDateTime`;
    `valueQuantity.value` with its UCUM `code`; `identifier[0].value` is the
    sample ID (idempotency key). A % HbA1c is stored in mmol/mol. Results may be
    sent for any prepatient with valid consent.
    """

    @extend_schema(
        operation_id="lab_results", tags=LABORATORIES,
        request={
            "application/json": PolymorphicProxySerializer(
                component_name="LabResults",
                serializers=[MeasurementBatchSerializer, FhirObservationSerializer,
                             FhirBundleSerializer],
                resource_type_field_name=None),
            "application/fhir+json": PolymorphicProxySerializer(
                component_name="LabResultsFhir",
                serializers=[FhirObservationSerializer, FhirBundleSerializer],
                resource_type_field_name=None),
        },
        examples=[BATCH_EXAMPLE, FHIR_BUNDLE_EXAMPLE],
        responses={
            200: BatchResultSerializer,
            400: OpenApiResponse(BatchRefusedSerializer, description=(
                "The error shape (FHIR paths in `fields`, e.g. "
                "`entry[2].resource.code.coding`). For a refused all-or-nothing batch the "
                "body also lists every item.")),
            415: UNSUPPORTED_MEDIA_TYPE,
            **AUTH_ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        data = request.data
        parsed, all_or_nothing = (read_fhir_batch(data) if fhir.is_fhir(data)
                                  else read_plain_batch(data))
        return record(parsed, all_or_nothing=all_or_nothing,
                      reporter=Reporter.for_lab(str(_lab(request).pk)))


REFERRAL_FHIR_EXAMPLE = OpenApiExample(
    "FHIR Observation",
    media_type="application/fhir+json",
    value={"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": fhir.LOINC_SYSTEM, "code": "59261-8"}]},
           "subject": {"identifier": {"system": fhir.REFERRAL_CODE_SYSTEM,
                                      "value": "ABCD-EFGH-JKLM"}},
           "effectiveDateTime": "2026-03-02",
           "valueQuantity": {"value": 44, "unit": "mmol/mol", "system": fhir.UCUM_SYSTEM,
                             "code": "mmol/mol"},
           "identifier": [{"value": "LAB-2026-000123"}]},
    request_only=True,
)


@dataclass(frozen=True)
class ReferralResult:
    code: str
    measure: str | None
    value: Decimal | int
    unit: str
    taken_on: Any
    sample_id: str
    paths: dict[str, str]


PLAIN_REFERRAL_PATHS = {"code": "referral_code", "type": "type", "value": "value",
                        "unit": "unit", "taken_on": "taken_on", "lab_reference": "sample_id"}
FHIR_REFERRAL_PATHS = {"code": "subject.identifier.value", "type": "code.coding",
                       "value": "valueQuantity.value", "unit": "valueQuantity.code",
                       "taken_on": "effectiveDateTime", "lab_reference": "identifier[0].value"}


def _read_referral(data: Any) -> ReferralResult:
    if fhir.is_fhir(data):
        found = fhir.read_referral_result(data, catalogue=catalogue())
        return ReferralResult(code=found.subject, measure=found.type, value=found.value,
                              unit=found.unit,
                              taken_on=found.taken_on, sample_id=found.source_reference,
                              paths={**FHIR_REFERRAL_PATHS, "unit": found.unit_path,
                                     "taken_on": found.taken_on_path})
    plain = ReferralResultSerializer(data=data)
    plain.is_valid(raise_exception=True)
    values = plain.validated_data
    return ReferralResult(code=values["referral_code"], measure=values.get("type"),
                          value=values["value"],
                          unit=values["unit"], taken_on=values["taken_on"],
                          sample_id=values["sample_id"], paths=PLAIN_REFERRAL_PATHS)


class ReferralResultView(LabView):
    """An inclusion sample against a referral code (single use), of a measure the
    referral's programme's inclusion criteria take from a laboratory (`type`).

    Plain JSON, or a FHIR R4 Observation whose `subject.identifier` has system
    `urn:prevention:referral-code` and the code as value, coded with the measure's
    LOINC code (e.g. 59261-8 for hba1c in mmol/mol, or 4548-4 in %, converted to
    mmol/mol). Sending the same result again
    (same code and sample ID) answers 200 `duplicate`.
    """

    @extend_schema(
        operation_id="lab_referral_results", tags=LABORATORIES,
        request={
            "application/json": PolymorphicProxySerializer(
                component_name="ReferralResultInput",
                serializers=[ReferralResultSerializer, FhirObservationSerializer],
                resource_type_field_name=None),
            "application/fhir+json": FhirObservationSerializer,
        },
        examples=[OpenApiExample("Plain JSON", value={
            "referral_code": "ABCD-EFGH-JKLM", "value": "6.3", "unit": "%",
            "taken_on": "2026-03-02", "sample_id": "LAB-2026-000123"}, request_only=True),
            REFERRAL_FHIR_EXAMPLE],
        responses={
            201: ReferralResultResponseSerializer,
            200: OpenApiResponse(ReferralResultResponseSerializer,
                                 description="The same result was stored before."),
            400: error_response("Not valid: a field (or FHIR path) names what to correct."),
            404: error_response("No referral has this code (`referral_code_unknown`)."),
            409: error_response("The code has been used for another sample (`referral_code_used`) "
                        "or has expired (`referral_code_expired`)."),
            415: UNSUPPORTED_MEDIA_TYPE,
            401: AUTH_ERRORS[401], 403: AUTH_ERRORS[403], 429: AUTH_ERRORS[429],
        },
    )
    def post(self, request: Request) -> Response:
        result = _read_referral(request.data)
        try:
            receipt = inclusion_sample_receive_lab(
                code=result.code, measure=result.measure, value=result.value,
                unit=result.unit, taken_on=result.taken_on, lab_reference=result.sample_id)
        except DomainError as refused:
            # A unit the type does not take is the unit's fault, not the value's.
            paths = ({**result.paths, "value": result.paths["unit"]}
                     if refused.code == "unknown_unit" else result.paths)
            refused.fields = {paths.get(name, name): value
                              for name, value in refused.fields.items()}
            raise
        if receipt.duplicate:
            return Response(_referral_body(receipt.sample, "duplicate"))
        return Response(_referral_body(receipt.sample, "stored"), status=201)


def _referral_body(sample: InclusionSample, status: str) -> Any:
    return ReferralResultResponseSerializer({
        "status": status, "sample_id": sample.lab_reference, "type": sample.measure,
        "value": sample.value, "taken_on": sample.taken_on}).data
