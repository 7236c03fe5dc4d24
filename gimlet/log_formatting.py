"""Log formatters: JSON lines for production, text for people.

Both print the fields that LogContextFilter or `extra=` put on a record
(tenant_id, registry_id, task_id, request_id and the like). The JSON
formatter writes one object per line, so a log collector can parse each
line on its own.
"""

import json
import logging
import logging.config
from datetime import UTC, datetime

from gimlet.logging import redact


def configure_logging(config):
    """Apply the LOGGING setting and send warnings through it.

    Python prints warnings to stderr by default; captured, they become
    records of the py.warnings logger and are formatted like every line.
    """
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


# Attributes that every LogRecord has; anything else on a record is a field
# that a filter or `extra=` added.
STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
}


def record_fields(record):
    """Return the non-standard attributes of `record`, in a stable order."""
    return {
        key: value
        for key, value in sorted(vars(record).items())
        if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON.

    Keys: time (ISO 8601, UTC), level, logger, message, the record's
    fields, and exception or stack where present. The whole line passes
    through the secret redaction once more, because fields given with
    `extra=` are not covered by RedactSecretsFilter, which redacts the
    message and the exception text.
    """

    def format(self, record):
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(payload, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """Format a record as text, followed by its fields in brackets."""

    def format(self, record):
        text = super().format(record)
        fields = " ".join(
            f"{key}={value}"
            for key, value in record_fields(record).items()
            if isinstance(value, str | int | float)
        )
        if not fields:
            return text
        first_line, newline, rest = text.partition("\n")
        return f"{first_line} [{fields}]{newline}{rest}"
