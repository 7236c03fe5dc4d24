"""The OpenAPI schema class: every operation also documents its errors."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERROR_RESPONSES = {
    "400": OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Invalid input. Field names, or non_field_errors, map to "
        "lists of messages; a body that cannot be parsed gives detail.",
    ),
    "401": OpenApiResponse(ErrorSerializer, description="No valid credentials."),
    "403": OpenApiResponse(
        ErrorSerializer, description="The caller's role does not allow this."
    ),
    "404": OpenApiResponse(
        ErrorSerializer,
        description="No such object in the caller's tenants, or no such page.",
    ),
    "409": OpenApiResponse(
        ErrorSerializer, description="The object's current state prevents this."
    ),
    "429": OpenApiResponse(
        ErrorSerializer, description="Too many requests; see Retry-After."
    ),
}


class AutoSchema(BaseAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ERROR_RESPONSES[code], code, direction=direction
                )
        return responses

    def error_codes(self):
        """Return the error statuses this operation can respond with."""
        codes = ["400"]
        if self.view.permission_classes:
            codes += ["401", "403", "404"]
        if self.method == "DELETE" or getattr(self.view, "action", None) == "validate":
            codes.append("409")
        if getattr(self.view, "throttle_scope", None):
            codes.append("429")
        return codes
