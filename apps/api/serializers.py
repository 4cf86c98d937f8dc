"""Request and response shapes of the provider and laboratory API (v1).

Prepatients are named by their programme ID (``pseudonym``) only: never a
personnummer, a name or a birth date. Values are decimals, sent as strings or
JSON numbers (read as decimals, never through a float) and returned as strings.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from apps.api import fhir
from apps.consent.gate import PROVIDER_VISIBLE_STATES
from apps.core.api import ErrorBodySerializer
from apps.core.events import registered_kinds
from apps.measurements.models import ReporterKind
from apps.providers.models import Scope

MAX_BATCH_ITEMS = 5000
ITEM_STATUSES = ("stored", "duplicate", "error", "not_stored")


def _enum(values: tuple[str, ...] | list[str], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


def enum_field(values: tuple[str, ...] | list[str], description: str = "",
                **kwargs: Any) -> serializers.CharField:
    """A string field documented as an inline enum (no shared component, so two fields
    named ``status`` with different values do not collide)."""
    field_class = extend_schema_field(_enum(values, description))(
        type("EnumField", (serializers.CharField,), {}))
    return field_class(**kwargs)


@extend_schema_field({
    "oneOf": [
        {"type": "string", "pattern": r"^-?[0-9]{1,12}(\.[0-9]{1,8})?$", "example": "44.5"},
        {"type": "number"},
    ],
    "description": "A decimal, as a string (`\"6.1\"`) or a JSON number (read as a decimal, "
                   "never through a binary float).",
})
class DecimalValueField(serializers.DecimalField):
    """A decimal from a string or a JSON number (the API's JSON parser reads numbers as
    ``Decimal``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=20, decimal_places=8, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool | dict | list):
            self.fail("invalid")
        return super().to_internal_value(data)


class OrganisationSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["provider", "lab"],
                                   help_text="The kind of organisation the key belongs to.")
    id = serializers.IntegerField()
    name = serializers.CharField()
    organisation_number = serializers.CharField()
    authorization_status = serializers.CharField(
        help_text="A provider's status (pending, authorized, suspended, revoked, rejected); "
                  "a laboratory's is authorized or not_authorized.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.values))


# --- Uploads -------------------------------------------------------------------------


class MeasurementItemSerializer(serializers.Serializer):
    prepatient = serializers.CharField(max_length=16,
                                       help_text="The prepatient's programme ID (pseudonym).")
    type = serializers.CharField(
        max_length=32,
        help_text="A measurement type code: hba1c, triglycerides, cholesterol_total, ldl, hdl, "
                  "weight, height, waist, findrisc, bp_systolic, bp_diastolic, …")
    value = DecimalValueField()
    unit = serializers.CharField(max_length=16,
                                 help_text="The unit of `value`, e.g. mmol/mol or % for HbA1c; "
                                           "converted to the type's canonical unit.")
    taken_on = serializers.DateField(help_text="The day the sample or measurement was taken.")
    source_reference = serializers.CharField(
        max_length=100,
        help_text="Your idempotency key (a sample ID or your record's ID): a value with a "
                  "reference you have sent before is reported as `duplicate`, never stored "
                  "twice.")
    corrects = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="",
        help_text="The source reference of an earlier value of yours that this one corrects.")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class MeasurementBatchSerializer(serializers.Serializer):
    """A batch of values (documented shape)."""

    all_or_nothing = serializers.BooleanField(
        default=True,
        help_text="true (default): one bad item stores nothing. false: the good items are "
                  "stored and each bad one reports its errors.")
    items: serializers.ListSerializer = serializers.ListSerializer(
        child=MeasurementItemSerializer(), min_length=1, max_length=MAX_BATCH_ITEMS)


class _AsParsed(serializers.Field):
    """Any JSON value, as the parser read it (decimals stay ``Decimal``)."""

    def to_internal_value(self, data: Any) -> Any:
        return data


class MeasurementBatchEnvelopeSerializer(serializers.Serializer):
    """The batch's outer shape; each item is then read on its own so that a bad item is
    reported in its place rather than refusing the request."""

    all_or_nothing = serializers.BooleanField(default=True)
    items = serializers.ListField(child=_AsParsed(), min_length=1,
                                  max_length=MAX_BATCH_ITEMS)


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the request (from 0).")
    status = enum_field(ITEM_STATUSES, help_text=(
        "`stored`, `duplicate` (sent before: nothing stored again), `error`, or `not_stored` "
        "(valid, but its all-or-nothing batch had an error)."))
    measurement_id = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per-field messages (field names, or FHIR paths within the resource).")


class BatchResultSerializer(serializers.Serializer):
    committed = serializers.BooleanField(
        help_text="Whether the batch was stored (false: an all-or-nothing batch was refused).")
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]
    items = ItemResultSerializer(many=True)


class BatchRefusedSerializer(serializers.Serializer):
    """The error shape; for a refused all-or-nothing batch also every item's answer."""

    error = ErrorBodySerializer()
    committed = serializers.BooleanField(required=False, help_text="false: nothing stored.")
    stored = serializers.IntegerField(required=False)
    duplicates = serializers.IntegerField(required=False)
    errors = serializers.IntegerField(required=False)  # type: ignore[assignment]
    items = ItemResultSerializer(many=True, required=False)


# --- Prepatients ----------------------------------------------------------------------


class PrepatientSerializer(serializers.Serializer):
    pseudonym = serializers.CharField(help_text="The programme ID: the only identifier shared.")
    programme = serializers.CharField(source="programme.code")
    state = enum_field([str(s) for s in PROVIDER_VISIBLE_STATES], help_text=(
        "active, excluded (the provider may help the person back) or completed."))
    enrolled_on = serializers.DateField()
    end_date = serializers.DateField(help_text="The end of the individual programme period.")
    switch_window_end = serializers.DateField(
        help_text="The last day the prepatient may switch provider freely.")
    next_due = serializers.DateField(
        allow_null=True, help_text="The next due date (today or later) of a set not yet "
                                   "complete.")
    overdue = serializers.BooleanField(help_text="A due date has passed without a complete "
                                                 "set.")
    baseline_complete = serializers.BooleanField(help_text="The baseline set (T=0) is "
                                                           "complete.")
    safety_notice_open = serializers.BooleanField(
        help_text="A value that met a safety check of the programme's definition (a care "
                  "threshold): the prepatient should seek care.")


class FollowUpSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="0 is the baseline set (T=0).")
    due_on = serializers.DateField()
    window_start = serializers.DateField()
    window_end = serializers.DateField()
    complete = serializers.BooleanField()
    overdue = serializers.BooleanField()
    missing = serializers.ListField(child=serializers.CharField(),
                                    help_text="Type codes still missing in the window.")


class PrepatientDetailSerializer(PrepatientSerializer):
    followups = FollowUpSerializer(many=True, help_text="The follow-up schedule.")


class MeasurementHistorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField(source="type.code")
    value = serializers.DecimalField(max_digits=10, decimal_places=3,
                                     help_text="In the type's canonical unit.")
    unit = serializers.CharField(source="type.canonical_unit")
    reported_value = serializers.DecimalField(max_digits=10, decimal_places=3)
    reported_unit = serializers.CharField()
    taken_on = serializers.DateField()
    reporter_kind = enum_field(ReporterKind.values)
    source_reference = serializers.CharField(
        allow_null=True, help_text="Only for values you reported yourself.")
    superseded = serializers.BooleanField(help_text="A later correction replaces this value.")
    corrects = serializers.IntegerField(allow_null=True,
                                        help_text="The id of the value this one corrects.")


# --- Events, overdue, dashboard --------------------------------------------------------


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The event's position in the feed (the cursor).")
    kind = enum_field(list(registered_kinds()))
    subject = serializers.CharField(help_text="The prepatient's programme ID.")
    occurred_on = serializers.DateField()
    data = serializers.DictField(help_text="Details of the event.")  # type: ignore[assignment]
    created_at = serializers.DateTimeField()


class EventQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=2**62, default=0,
                                     help_text="Return events after this id (`next_after` of "
                                               "the previous call; 0 for the start).")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class EventPageSerializer(serializers.Serializer):
    events = EventSerializer(many=True)
    next_after = serializers.IntegerField(
        help_text="Pass as `after` in the next call; equal to `after` when nothing was new.")
    has_more = serializers.BooleanField(help_text="More events are waiting: call again now.")


class OverdueSerializer(serializers.Serializer):
    prepatient = serializers.CharField(source="prepatient.pseudonym")
    index = serializers.IntegerField()
    due_on = serializers.DateField()
    window_start = serializers.DateField()
    window_end = serializers.DateField()
    days_overdue = serializers.IntegerField()


class DashboardProgrammeSerializer(serializers.Serializer):
    programme = serializers.CharField(source="programme.code")
    currency = serializers.CharField(source="programme.currency")
    attributed = serializers.IntegerField(
        help_text="N: prepatients listed with you, enrolled, not deceased.")
    with_outcome_value = serializers.IntegerField(
        help_text="Of those with valid consent: how many have a current laboratory value of "
                  "the outcome measure.")
    below_target = serializers.IntegerField(
        help_text="Of those: how many have their latest value below the outcome target.")
    share_below_target = serializers.DecimalField(
        max_digits=5, decimal_places=4, allow_null=True,
        help_text="below_target / with_outcome_value (null when there is no value yet).")
    outcome_below = serializers.DecimalField(source="programme.outcome_below", max_digits=7,
                                             decimal_places=2)
    projected_successes = serializers.IntegerField(
        help_text="FORECAST: floor(share_below_target × attributed).")
    eligible = serializers.BooleanField(help_text="N reaches the programme's minimum.")
    provisional_paid_count = serializers.IntegerField(
        help_text="FORECAST: the settlement rule's paid count for the projected successes.")
    provisional_amount = serializers.DecimalField(
        max_digits=15, decimal_places=2,
        help_text="FORECAST, not a settlement: provisional_paid_count × payment per success.")


class DashboardSerializer(serializers.Serializer):
    provisional = serializers.BooleanField(
        help_text="Always true: these figures are a forecast from the values so far, not a "
                  "settlement.")
    as_of = serializers.DateField()
    programmes = DashboardProgrammeSerializer(many=True)


# --- Laboratories: plain JSON -----------------------------------------------------------


class ReferralResultSerializer(serializers.Serializer):
    referral_code = serializers.CharField(max_length=32,
                                          help_text="The code on the referral, e.g. "
                                                    "ABCD-EFGH-JKLM.")
    type = serializers.SlugField(
        max_length=32, required=False,
        help_text="The measurement type code. May be left out when the referral's "
                  "programme takes exactly one measure from a laboratory (its inclusion "
                  "criteria say which).")
    value = DecimalValueField(help_text="The value in `unit`.")
    unit = serializers.CharField(max_length=16,
                                 help_text="An accepted unit of the type (e.g. mmol/mol or "
                                           "% for hba1c, kg/m2 for bmi).")
    taken_on = serializers.DateField()
    sample_id = serializers.CharField(max_length=64, help_text="Your sample ID.")


class ReferralResultResponseSerializer(serializers.Serializer):
    status = enum_field(("stored", "duplicate"),
                         help_text="`stored`, or `duplicate` for a result sent before.")
    sample_id = serializers.CharField()
    type = serializers.CharField(help_text="The measurement type the value was taken for.")
    value = serializers.DecimalField(max_digits=10, decimal_places=3, normalize_output=True,
                                     help_text="The stored value in the type's stored unit.")
    taken_on = serializers.DateField()


# --- Laboratories: FHIR R4 (documentation of the elements read) --------------------------


class FhirCodingSerializer(serializers.Serializer):
    system = serializers.CharField(help_text=f"`{fhir.LOINC_SYSTEM}`")
    code = serializers.CharField(help_text="59261-8 (HbA1c mmol/mol), 4548-4 (HbA1c %) or "
                                           "the LOINC code of another measurement type.")
    display = serializers.CharField(required=False)


class FhirCodeableConceptSerializer(serializers.Serializer):
    coding: serializers.ListSerializer = serializers.ListSerializer(
        child=FhirCodingSerializer(), min_length=1)


class FhirIdentifierSerializer(serializers.Serializer):
    system = serializers.CharField(required=False)
    value = serializers.CharField()


class FhirSubjectSerializer(serializers.Serializer):
    identifier = FhirIdentifierSerializer(
        help_text=f"System `{fhir.PROGRAMME_ID_SYSTEM}` with the programme ID (follow-up "
                  f"results) or `{fhir.REFERRAL_CODE_SYSTEM}` with the referral code "
                  "(inclusion sample).")


class FhirQuantitySerializer(serializers.Serializer):
    value = serializers.DecimalField(max_digits=20, decimal_places=8, coerce_to_string=False)
    unit = serializers.CharField(required=False)
    system = serializers.CharField(required=False, help_text=f"`{fhir.UCUM_SYSTEM}`")
    code = serializers.CharField(help_text="The UCUM unit: mmol/mol, %, mmol/L, kg, cm, …")


class FhirPeriodSerializer(serializers.Serializer):
    start = serializers.CharField()


@extend_schema_serializer(component_name="FhirObservation")
class FhirObservationSerializer(serializers.Serializer):
    """A FHIR R4 Observation: only the elements listed are read; others are ignored."""

    resourceType = enum_field(["Observation"])
    status = enum_field(fhir.ACCEPTED_STATUSES)
    code = FhirCodeableConceptSerializer()
    subject = FhirSubjectSerializer()
    effectiveDateTime = serializers.CharField(
        help_text="The day the sample was taken: 2026-11-02 or 2026-11-02T08:30:00+01:00.")
    valueQuantity = FhirQuantitySerializer()
    identifier: serializers.ListSerializer = serializers.ListSerializer(
        child=FhirIdentifierSerializer(), min_length=1,
        help_text="identifier[0].value: your sample ID.")


class FhirBundleEntrySerializer(serializers.Serializer):
    fullUrl = serializers.CharField(required=False)
    resource = FhirObservationSerializer()


@extend_schema_serializer(component_name="FhirBundle")
class FhirBundleSerializer(serializers.Serializer):
    """A FHIR R4 Bundle of Observations: `transaction` and `collection` are stored all or
    nothing, `batch` entry by entry."""

    resourceType = enum_field(["Bundle"])
    type = enum_field(fhir.BUNDLE_TYPES)
    entry: serializers.ListSerializer = serializers.ListSerializer(
        child=FhirBundleEntrySerializer(), min_length=1, max_length=fhir.MAX_ENTRIES)

