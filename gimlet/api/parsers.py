from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with deep nesting reported as a parse error.

    The standard library's decoder raises RecursionError, not ValueError,
    for arrays or objects nested about a thousand levels deep (Python
    3.11), and DRF 3.18 catches only ValueError, so such a body would be a
    server error.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(
                "JSON parse error: the document is nested too deeply."
            ) from None


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, held to the limit of every other body.

    Django keeps DATA_UPLOAD_MAX_MEMORY_SIZE for the fields of a multipart
    body but streams its files to disk whatever their size, and no API
    field takes a file. A body declared larger than the limit is rejected
    before it is read, as a 413.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise RequestDataTooBig(
                    "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."
                )
        return super().parse(stream, media_type, parser_context)
