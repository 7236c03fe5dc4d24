"""Turn model-layer errors into API responses instead of server errors."""

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions, serializers, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service this request needs is unavailable. Try again later."
    default_code = "service_unavailable"


def field_errors(error):
    """Return a Django ValidationError as DRF field errors, same field names."""
    detail = serializers.as_serializer_error(error)
    if NON_FIELD_ERRORS in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
    return detail


def protected_detail(error):
    blocking = getattr(error, "protected_objects", None) or error.restricted_objects
    names = sorted({str(obj) for obj in blocking})
    listed = ", ".join(names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"This object is still used by {listed}{more}. Change or delete those first."


def exception_handler(exc, context):
    """Map validation errors to 400, large bodies to 413 and protected deletes to 409.

    The services validate with `full_clean()` and raise Django's
    ValidationError with field names; those reach the client as the same
    field errors a serializer would give.
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(field_errors(exc))
    elif isinstance(exc, RequestDataTooBig):
        # Django would reply with its HTML 400 page.
        exc = PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
            "bytes. Send a smaller body."
        )
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = Conflict(protected_detail(exc))
    return drf_exception_handler(exc, context)
