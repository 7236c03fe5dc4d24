"""Redaction removes secret-shaped text from logs and check messages.

The rest of each line stays as it was.
"""

import base64
import io
import logging
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet

from gimlet.logging import REDACTED, RedactSecretsFilter, redact
from registries.validators.base import echoed_forms, scrub
from tests.factories import certificate_pem, self_signed_ca

GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
FINE_GRAINED = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
DOCKER_PAT = "dckr_pat_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1"
DOCKER_OAT = "dckr_oat_" + "Qq1Ww2Ee3Rr4Tt5Yy6Uu7Ii8Oo9"
LEGACY_HEX = "0123456789abcdef0123456789abcdef01234567"
JWT = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
    "eyJzdWIiOiJyb2JvdCIsImF1ZCI6InJlZ2lzdHJ5In0."
    "c2lnbmF0dXJlLWJ5dGVzLWFyZS1oZXJl"
)
FERNET = Fernet(Fernet.generate_key()).encrypt(b"robot-secret").decode()
FINGERPRINT = "a" * 64


@pytest.fixture(scope="module")
def pem():
    certificate, _ = self_signed_ca("Redaction Test CA")
    return certificate_pem(certificate)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"token {GITHUB} failed", GITHUB),
        (f"token {FINE_GRAINED} rejected", FINE_GRAINED),
        (f"using {DOCKER_PAT}", DOCKER_PAT),
        (f"using {DOCKER_OAT}", DOCKER_OAT),
        (f"legacy {LEGACY_HEX} token", LEGACY_HEX),
        (f"Authorization: Token {LEGACY_HEX}", LEGACY_HEX),
        (f"realm answered {JWT}", JWT),
        (f"stored {FERNET}", FERNET),
        ("Authorization: Basic cm9ib3Q6c2VjcmV0LXRva2Vu", "cm9ib3Q6c2VjcmV0LXRva2Vu"),
        ("authorization: bearer abcdefgh.ijklmnop", "abcdefgh.ijklmnop"),
        ("redis://:hunter2-password@cache:6379/0", "hunter2-password"),
        ("https://robot:s3cr3t-value@registry.test/v2/", "s3cr3t-value"),
        ("password=correct-horse-battery", "correct-horse-battery"),
        ('{"token": "custom-robot-secret"}', "custom-robot-secret"),
        ("secret: 'plain-secret-value'", "plain-secret-value"),
        ("api_key=abcdef123456", "abcdef123456"),
    ],
    ids=[
        "github-classic",
        "github-fine-grained",
        "docker-pat",
        "docker-oat",
        "github-legacy-hex",
        "drf-token-key",
        "jwt",
        "fernet",
        "basic",
        "bearer",
        "redis-url-password",
        "url-userinfo",
        "password-pair",
        "json-token",
        "quoted-secret",
        "api-key-pair",
    ],
)
def test_redact_removes_secret(text, secret):
    cleaned = redact(text)

    assert secret not in cleaned
    assert REDACTED in cleaned


def test_redact_removes_pem_block(pem):
    body = "".join(pem.strip().splitlines()[1:-1])

    cleaned = redact(f"certificate:\n{pem}done")

    assert "BEGIN CERTIFICATE" not in cleaned
    assert body[10:50] not in cleaned
    assert cleaned.endswith("done")


def test_redact_removes_json_escaped_pem(pem):
    escaped = pem.replace("\n", "\\n")

    cleaned = redact(f'{{"certificate": "{escaped}", "id": 7}}')

    assert "BEGIN CERTIFICATE" not in cleaned
    assert pem.splitlines()[1] not in cleaned
    assert cleaned.endswith('", "id": 7}')


def test_redact_removes_unterminated_pem(pem):
    cut = pem[: len(pem) // 2]

    cleaned = redact(f"partial {cut}")

    assert cut.splitlines()[1] not in cleaned


def test_redact_removes_base64_der(pem):
    body = "".join(pem.strip().splitlines()[1:-1])

    cleaned = redact(f"der {body} end")

    assert body[:60] not in cleaned
    assert cleaned.endswith(" end")


@pytest.mark.parametrize(
    "text",
    [
        f"Checked registry 7 (tenant 3, ghcr): valid; fingerprint {FINGERPRINT}",
        "Docker Hub rejected the Docker ID and token (incorrect username or "
        "password). Check the Docker ID, or create a new access token.",
        "The token server registry.example.test rejected the login and token.",
        "The registry's token settings (service, issuer) do not match.",
        "Task registries.check_registry[0b6f0a6e-2c1e-4b8a-9a57-3c2f1f7d9e10]",
        "Sweep 5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5 started: 12 credentials.",
        "token_hint=ghp_…a1b2 token_fingerprint=" + FINGERPRINT,
    ],
    ids=[
        "fingerprint",
        "dockerhub-message",
        "realm-message",
        "token-settings",
        "task-id",
        "sweep-id",
        "hint-fields",
    ],
)
def test_redact_keeps_ordinary_text(text):
    assert redact(text) == text


def make_logger(name):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger(f"tests.security.{name}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_filter_redacts_arguments():
    logger, stream = make_logger("arguments")

    logger.debug("Sending %s to %s", GITHUB, "ghcr.io")

    assert stream.getvalue() == f"DEBUG Sending {REDACTED} to ghcr.io\n"


def test_filter_redacts_exception_text():
    logger, stream = make_logger("exception")

    try:
        raise ValueError(f"upstream echoed {DOCKER_PAT}")
    except ValueError:
        logger.exception("Check failed")

    output = stream.getvalue()
    assert DOCKER_PAT not in output
    assert "ValueError: upstream echoed [redacted]" in output


def test_filter_redacts_stack_info():
    record = logging.makeLogRecord(
        {"msg": "x", "stack_info": f'  File "x.py"\n    call({GITHUB!r})'}
    )

    RedactSecretsFilter().filter(record)

    assert GITHUB not in record.stack_info
    assert 'File "x.py"' in record.stack_info


def test_filter_redacts_extra_fields():
    record = logging.makeLogRecord(
        {"msg": "Saved", "detail": f"token {GITHUB}", "registry_id": 4}
    )

    RedactSecretsFilter().filter(record)

    assert record.detail == f"token {REDACTED}"
    assert record.registry_id == 4


def test_filter_leaves_clean_record_alone():
    record = logging.makeLogRecord({"msg": "Checked %s", "args": (5,)})

    RedactSecretsFilter().filter(record)

    assert record.msg == "Checked %s"
    assert record.args == (5,)


def test_filter_survives_bad_arguments():
    record = logging.makeLogRecord({"msg": "%s and %s", "args": (1,)})

    assert RedactSecretsFilter().filter(record) is True
    assert record.args == (1,)


def test_configured_handlers_redact():
    """Every handler of the root logger carries the filter."""
    handlers = logging.getLogger().handlers
    configured = [h for h in handlers if type(h) is logging.StreamHandler]

    assert configured
    for handler in configured:
        assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters)


@pytest.mark.parametrize(
    "echo",
    [
        "{token}",
        "{quoted}",
        "{pair_base64}",
        "{pair_base64_unpadded}",
        "{token_base64}",
    ],
)
def test_check_message_drops_echoed_credentials(echo):
    """A registry that repeats the credentials gets none into the message."""
    login, token = "robot", "robot/secret+token=1"
    pair = base64.b64encode(f"{login}:{token}".encode()).decode()
    forms = {
        "token": token,
        "quoted": quote(token, safe=""),
        "pair_base64": pair,
        "pair_base64_unpadded": pair.rstrip("="),
        "token_base64": base64.b64encode(token.encode()).decode(),
    }
    message = f"rejected ({echo.format(**forms)})"

    cleaned = scrub(message, echoed_forms(login, token))

    assert cleaned == f"rejected ({REDACTED})"
