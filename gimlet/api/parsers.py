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
