"""A last line of defence that redacts secrets from logs by their shape.

Code logs ids, hints and fingerprints, never a secret. The patterns here
catch what slips through anyway: tokens of the kinds this product stores,
Authorization values, Fernet ciphertext, JWTs, PEM blocks and base64 DER,
passwords in URLs and `token=...` pairs. A secret without a known shape,
such as a custom registry's password, is only caught in a `key=value` pair
or a URL, so the first defence stays not logging it at all.
"""

import logging
import re

REDACTED = "[redacted]"

# Whole matches are replaced.
TOKEN_PATTERN = re.compile(
    # GitHub classic, OAuth, user-to-server, server-to-server and refresh
    # tokens, and fine-grained tokens.
    r"(gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    # Docker Hub personal and organisation access tokens.
    r"|dckr_(?:pat|oat)_[A-Za-z0-9_\-]{8,}"
    # Fernet ciphertext: version byte 0x80 and a timestamp, base64url.
    r"|gAAAAA[A-Za-z0-9_\-=]{20,}"
    # JSON Web Tokens, such as the Bearer tokens a registry's realm issues.
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"
    r"|(?i:(?:basic|bearer))\s+[A-Za-z0-9._~+/\-=]{8,}"
    # PEM blocks, also with JSON-escaped line breaks, and unterminated ones.
    r"|-----BEGIN [A-Z0-9 ]+-----(?:\\[nr]|[A-Za-z0-9+/=\s])*"
    r"(?:-----END [A-Z0-9 ]+-----)?"
    # Base64 DER (certificates and keys start with a SEQUENCE, "MII").
    r"|\bMII[A-Za-z0-9+/]{60,}={0,2}"
    # GitHub's legacy 40-hex tokens and DRF API token keys. Fingerprints
    # are 64 hex digits and stay.
    r"|\b[0-9a-f]{40}\b)"
)
# Only the second group is replaced, so the key or scheme stays readable.
PAIR_PATTERN = re.compile(
    r"""(?ix)
    (["']?\b(?:password|passwd|secret|token|api_?key|authorization)["']?
     \s*[:=]\s*["']?)
    ([^\s"',;&}]{6,})
    """
)
URL_USERINFO_PATTERN = re.compile(r"(://)[^/\s:@]*:[^/\s@]+(@)")

# Attributes every LogRecord has; others came from `extra=` or a filter.
STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
}


def redact(text):
    """Replace every secret-shaped part of `text` with REDACTED."""
    text = TOKEN_PATTERN.sub(REDACTED, text)
    text = PAIR_PATTERN.sub(lambda match: match.group(1) + REDACTED, text)
    return URL_USERINFO_PATTERN.sub(rf"\1{REDACTED}\2", text)


class RedactSecretsFilter(logging.Filter):
    """Redact secret-shaped text in a record's message, fields and tracebacks.

    It changes records in place, so add it to handlers: a filter on a
    logger does not see records that child loggers propagate.
    """

    def filter(self, record):
        self._redact_message(record)
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, key, redact(value))
        return True

    @staticmethod
    def _redact_message(record):
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # The arguments do not match the format string. The handler
            # reports that when it formats the record.
            return
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
