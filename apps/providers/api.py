from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import ErrorSerializer
from apps.providers.authentication import ApiKeyAuthentication, OrganisationUser
from apps.providers.permissions import IsOrganisation


class OrganisationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    organisation_number = serializers.CharField()
    authorization_status = serializers.CharField()


class WhoAmIView(APIView):
    """The organisation an API key belongs to."""

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
        provider = organisation.provider
        return Response(OrganisationSerializer({
            "id": provider.pk,
            "name": provider.name,
            "organisation_number": provider.organisation_number,
            "authorization_status": provider.authorization_status,
        }).data)
