from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import ErrorSerializer
from apps.providers.authentication import ApiKeyAuthentication, OrganisationUser
from apps.providers.models import Lab, Provider, Scope
from apps.providers.permissions import IsOrganisation


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


class WhoAmIView(APIView):
    """The organisation an API key belongs to, and what the key may do."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsOrganisation]

    @extend_schema(
        operation_id="whoami",
        responses={
            200: OrganisationSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Missing or invalid API key."),
        },
    )
    def get(self, request: Request) -> Response:
        organisation: OrganisationUser = request.user  # type: ignore[assignment]
        party: Provider | Lab
        if organisation.provider is not None:
            party = organisation.provider
            status = party.authorization_status
        else:
            assert organisation.lab is not None
            party = organisation.lab
            status = "authorized" if organisation.lab.is_authorized else "not_authorized"
        return Response(OrganisationSerializer({
            "kind": organisation.kind,
            "id": party.pk,
            "name": party.name,
            "organisation_number": party.organisation_number,
            "authorization_status": status,
            "scopes": sorted(organisation.scopes),
        }).data)
