"""A last line of defence that redacts token-shaped strings from logs."""

import logging
import re

# Shapes of the secrets this product stores: GitHub classic and fine-grained
# tokens, Docker Hub personal and organisation tokens, Basic and Bearer
# authorization values, and Fernet ciphertext.
TOKEN_PATTERN = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|dckr_(?:pat|oat)_[A-Za-z0-9_\-]{8,}"
    r"|gAAAAA[A-Za-z0-9_\-=]{20,}"
    r"|(?i:(?:basic|bearer))\s+[A-Za-z0-9._~+/\-=]{8,})"
)
REDACTED = "[redacted]"


def redact(text):
    return TOKEN_PATTERN.sub(REDACTED, text)


class RedactSecretsFilter(logging.Filter):
    """Replace token-shaped substrings of each record's message."""

    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted)
        return True
