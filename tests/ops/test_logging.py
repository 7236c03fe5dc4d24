"""Log lines: JSON in production, text in development, with their fields."""

import io
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from celery.signals import after_setup_task_logger
from cryptography.fernet import Fernet
from django.http import HttpResponse
from django.test import RequestFactory

from gimlet.log_context import (
    LogContextFilter,
    RequestLogContextMiddleware,
    carry_log_context,
    log_context,
)
from gimlet.log_formatting import JsonFormatter, TextFormatter
from gimlet.logging import RedactSecretsFilter
from registries.tasks import check_registry
from tests.factories import RegistryFactory

BASE_DIR = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import logging
    import django

    django.setup()
    from gimlet.log_context import log_context

    logger = logging.getLogger("registries.checking")
    token = "ghp_CANARY0123456789abcdefghijABCDEFGHIJ"
    with log_context(tenant_id=7, registry_id=9):
        logger.info("Checked registry %s: %s", 9, "valid")
        logger.info("Token %s seen", token)
        logger.info("Extra", extra={"detail": token})
        try:
            raise ValueError(f"bad {token}")
        except ValueError:
            logger.exception("Check of registry %s failed", 9)

    import warnings

    warnings.warn("A setting is deprecated.", UserWarning, stacklevel=1)
    """
)


def run_logging_script(tmp_path, **variables):
    env = {
        "PYTHONPATH": str(BASE_DIR),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "gimlet.settings",
        "DJANGO_SECRET_KEY": "s" * 50,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        **variables,
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


@pytest.fixture
def production_lines(tmp_path):
    """The script's log lines under production settings (DEBUG off)."""
    return run_logging_script(tmp_path, DJANGO_DEBUG="false")


# Production: JSON lines.


def test_production_lines_are_json(production_lines):
    records = [json.loads(line) for line in production_lines]

    assert len(records) == 5


def test_production_line_fields(production_lines):
    record = json.loads(production_lines[0])

    assert record["logger"] == "registries.checking"
    assert record["level"] == "INFO"
    assert record["message"] == "Checked registry 9: valid"
    assert record["tenant_id"] == 7
    assert record["registry_id"] == 9
    assert record["time"].endswith("+00:00")


def test_production_message_redacted(production_lines):
    record = json.loads(production_lines[1])

    assert "CANARY" not in record["message"]
    assert "[redacted]" in record["message"]


def test_production_extra_redacted(production_lines):
    record = json.loads(production_lines[2])

    assert record["detail"] == "[redacted]"


def test_production_exception_one_line(production_lines):
    record = json.loads(production_lines[3])

    assert record["level"] == "ERROR"
    assert "Traceback" in record["exception"]
    assert "ValueError" in record["exception"]
    assert "CANARY" not in record["exception"]


def test_production_warning_is_record(production_lines):
    record = json.loads(production_lines[4])

    assert record["logger"] == "py.warnings"
    assert record["level"] == "WARNING"
    assert "A setting is deprecated." in record["message"]


def test_production_no_canary_anywhere(production_lines):
    assert "CANARY" not in "\n".join(production_lines)


# Development and the switch.


def test_development_lines_are_text(tmp_path):
    lines = run_logging_script(tmp_path, DJANGO_DEBUG="true")

    assert "INFO registries.checking: Checked registry 9: valid" in lines[0]
    assert lines[0].endswith("[registry_id=9 tenant_id=7]")
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])


def test_json_switch_in_development(tmp_path):
    lines = run_logging_script(tmp_path, DJANGO_DEBUG="true", DJANGO_LOG_FORMAT="json")

    assert json.loads(lines[0])["registry_id"] == 9


def test_text_switch_in_production(tmp_path):
    lines = run_logging_script(tmp_path, DJANGO_DEBUG="false", DJANGO_LOG_FORMAT="text")

    assert "Checked registry 9" in lines[0]
    assert not lines[0].startswith("{")


def test_unknown_format_rejected(tmp_path):
    env = {
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SECRET_KEY": "s" * 50,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_LOG_FORMAT": "xml",
    }

    result = subprocess.run(
        [sys.executable, "-c", "import gimlet.settings"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "DJANGO_LOG_FORMAT is 'xml'; set it to json or text." in result.stderr


# In-process: context fields.


@pytest.fixture
def json_log():
    """Capture every record as a production handler formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous_level)


@pytest.mark.django_db
def test_task_lines_carry_task_id(json_log):
    registry = RegistryFactory()

    result = check_registry.apply(args=(registry.pk, "manual"))
    records = [r for r in json_log() if r["logger"] == "registries.checking"]

    assert records, json_log()
    assert records[-1]["task_id"] == result.id
    assert records[-1]["task_name"] == "registries.check_registry"
    assert records[-1]["registry_id"] == registry.pk
    assert records[-1]["tenant_id"] == registry.environment.tenant_id


@pytest.mark.django_db
def test_task_fields_unbound_after(json_log):
    registry = RegistryFactory()
    check_registry.apply(args=(registry.pk, "manual"))

    logging.getLogger("tests").info("after the task")
    after = json_log()[-1]

    assert after["message"] == "after the task"
    assert "task_id" not in after
    assert "registry_id" not in after


def test_nested_context_merges(json_log):
    logger = logging.getLogger("tests")

    with log_context(tenant_id=1):
        with log_context(registry_id=2):
            logger.info("inner")
        logger.info("outer")
    inner, outer = json_log()

    assert (inner["tenant_id"], inner["registry_id"]) == (1, 2)
    assert "registry_id" not in outer


def test_extra_wins_over_context(json_log):
    with log_context(registry_id=2):
        logging.getLogger("tests").info("other", extra={"registry_id": 5})

    assert json_log()[0]["registry_id"] == 5


def test_context_carried_to_thread(json_log):
    from concurrent.futures import ThreadPoolExecutor

    def work():
        logging.getLogger("tests").info("in a pool thread")

    with log_context(task_id="task-1"), ThreadPoolExecutor(1) as pool:
        pool.submit(carry_log_context(work)).result()
        pool.submit(work).result()
    carried, bare = json_log()

    assert carried["task_id"] == "task-1"
    assert "task_id" not in bare


def test_request_id_from_header(json_log):
    def view(request):
        logging.getLogger("tests").info("in the view")
        return HttpResponse()

    middleware = RequestLogContextMiddleware(view)
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="proxy-id-123")

    response = middleware(request)

    assert json_log()[0]["request_id"] == "proxy-id-123"
    assert response["X-Request-ID"] == "proxy-id-123"


def test_request_id_generated_for_odd_header(json_log):
    def view(request):
        logging.getLogger("tests").info("in the view")
        return HttpResponse()

    middleware = RequestLogContextMiddleware(view)
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="bad id\nwith newline")

    response = middleware(request)
    request_id = json_log()[0]["request_id"]

    assert request_id != "bad id\nwith newline"
    assert len(request_id) == 32
    assert response["X-Request-ID"] == request_id


def test_celery_task_logger_propagates():
    """Celery's task logger loses its own handler and uses the root's."""
    logger = logging.getLogger("tests.celery-task")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False

    after_setup_task_logger.send(sender=None, logger=logger)

    assert logger.handlers == []
    assert logger.propagate is True


def test_text_formatter_fields():
    record = logging.makeLogRecord(
        {"name": "tests", "levelname": "INFO", "msg": "hello", "tenant_id": 3}
    )

    text = TextFormatter("%(levelname)s %(name)s: %(message)s").format(record)

    assert text == "INFO tests: hello [tenant_id=3]"
