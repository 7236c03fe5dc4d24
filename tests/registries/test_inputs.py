"""Input rules for registries, environments and image settings.

Every case goes through the model's full_clean(), which each entry point
calls before saving, and checks the field that an error is attached to.
"""

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError

from environments.models import Environment, ImageSettings
from registries.models import Kind, Registry
from registries.secrets import secret_fingerprint
from tests.factories import (
    EnvironmentFactory,
    RegistryFactory,
    TenantFactory,
    certificate_pem,
    self_signed_ca,
)

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "F6g7H8"
GITHUB_LEGACY_TOKEN = "0123456789abcdef" * 2 + "01234567"
DOCKERHUB_TOKEN = "dckr_pat_2kX9-vQ_p7LmN4rT8sYw1zB0cD5"
DOCKERHUB_UUID_TOKEN = "3f2b8c1e-9d4a-4b7e-8f60-1a2b3c4d5e6f"
CUSTOM_TOKEN = "robot-token-0123456789"

VALID_FIELDS = {
    Kind.BUILTIN: {},
    Kind.GHCR: {"login": "octocat", "token": GITHUB_TOKEN},
    Kind.DOCKERHUB: {"login": "dockeruser", "token": DOCKERHUB_TOKEN},
    Kind.CUSTOM: {
        "url": "https://registry.example.test",
        "login": "robot",
        "token": CUSTOM_TOKEN,
    },
}
KINDS_WITH_TOKEN = [Kind.GHCR, Kind.DOCKERHUB, Kind.CUSTOM]


@pytest.fixture
def environment(db):
    return EnvironmentFactory()


def build_registry(environment, kind, **fields):
    return Registry(
        environment=environment, kind=kind, **{**VALID_FIELDS[kind], **fields}
    )


def clean_registry(environment, kind, **fields):
    registry = build_registry(environment, kind, **fields)
    registry.full_clean()
    return registry


def validation_errors(instance):
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def assert_field_error(instance, field, fragment):
    errors = validation_errors(instance)
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]


# Tokens: surrounding whitespace, inner whitespace and control characters.


@pytest.mark.parametrize("kind", KINDS_WITH_TOKEN)
@pytest.mark.parametrize(
    "padding",
    [" ", "\t", "\n", "\r\n", " \n\t ", "\u00a0"],
    ids=["space", "tab", "newline", "crlf", "mixed", "no-break-space"],
)
def test_token_surrounding_whitespace_trimmed(environment, kind, padding):
    token = VALID_FIELDS[kind]["token"]

    registry = clean_registry(environment, kind, token=f"{padding}{token}{padding}")

    assert registry.token == token


INNER_CHARACTERS = [
    (" ", "whitespace or a line break"),
    ("\t", "whitespace or a line break"),
    ("\n", "whitespace or a line break"),
    ("\r", "whitespace or a line break"),
    ("\u00a0", "whitespace or a line break"),
    ("\u2028", "whitespace or a line break"),
    ("\x00", "control character U+0000"),
    ("\x07", "control character U+0007"),
    ("\x1b", "control character U+001B"),
    ("\x7f", "control character U+007F"),
    ("\u200b", "control character U+200B"),
    ("\ufeff", "control character U+FEFF"),
]


@pytest.mark.parametrize("kind", KINDS_WITH_TOKEN)
@pytest.mark.parametrize(
    ("character", "fragment"),
    INNER_CHARACTERS,
    ids=[f"U+{ord(char):04X}" for char, _ in INNER_CHARACTERS],
)
def test_token_inner_character_rejected(environment, kind, character, fragment):
    token = VALID_FIELDS[kind]["token"]
    registry = build_registry(
        environment, kind, token=token[:10] + character + token[10:]
    )

    assert_field_error(registry, "token", fragment)


@pytest.mark.parametrize("kind", KINDS_WITH_TOKEN)
@pytest.mark.parametrize("token", [None, "", "   ", "\n"], ids=repr)
def test_token_missing_rejected(environment, kind, token):
    registry = build_registry(environment, kind, token=token)

    assert_field_error(registry, "token", "Enter the token.")


def test_token_at_length_limit_accepted(environment):
    registry = clean_registry(environment, Kind.CUSTOM, token="x" * 4096)

    assert len(registry.token) == 4096


def test_token_over_length_limit_rejected(environment):
    registry = build_registry(environment, Kind.CUSTOM, token="x" * 4097)

    assert_field_error(registry, "token", "the maximum is 4096")


# GitHub Container Registry: token and login formats.

FINE_GRAINED_TOKEN = "github_pat_11ABCDEFG0" + "a1B2c3D4e5F6g7H8i9J0k1" + "_" + "Z" * 59


@pytest.mark.parametrize(
    "fragment",
    [
        "fine-grained GitHub token",
        "classic personal access token",
        "repo",
        "write:packages",
    ],
)
def test_github_fine_grained_token_rejected(environment, fragment):
    registry = build_registry(environment, Kind.GHCR, token=FINE_GRAINED_TOKEN)

    assert_field_error(registry, "token", fragment)


@pytest.mark.parametrize(
    "token",
    [GITHUB_TOKEN, "ghp_" + "Z" * 36, "ghp_" + "0" * 36, GITHUB_LEGACY_TOKEN],
    ids=["classic", "classic-upper", "classic-digits", "legacy-hex"],
)
def test_github_token_format_accepted(environment, token):
    registry = clean_registry(environment, Kind.GHCR, token=token)

    assert registry.token == token


GITHUB_TOKEN_REJECTED = [
    ("ghp_" + "a" * 35, "ghp_ followed by 36 letters and digits"),
    ("ghp_" + "a" * 37, "ghp_ followed by 36 letters and digits"),
    ("ghp_" + "a" * 35 + "-", "ghp_ followed by 36 letters and digits"),
    ("ghp_" + "é" * 36, "ghp_ followed by 36 letters and digits"),
    ("GHP_" + "a" * 36, "ghp_ followed by 36 letters and digits"),
    ("0123456789ABCDEF" * 2 + "01234567", "40 hexadecimal digits"),
    ("0" * 39, "40 hexadecimal digits"),
    ("0" * 41, "40 hexadecimal digits"),
    ("g" * 40, "40 hexadecimal digits"),
    ("gho_" + "a" * 36, "OAuth or app tokens"),
    ("ghu_" + "a" * 36, "OAuth or app tokens"),
    ("ghs_" + "a" * 36, "OAuth or app tokens"),
    ("ghr_" + "a" * 36, "OAuth or app tokens"),
    (DOCKERHUB_TOKEN, "not a GitHub classic personal access token"),
    ("correct-horse-battery", "not a GitHub classic personal access token"),
]


@pytest.mark.parametrize(
    ("token", "fragment"),
    GITHUB_TOKEN_REJECTED,
    ids=[
        "short",
        "long",
        "hyphen",
        "non-ascii",
        "upper-prefix",
        "legacy-upper",
        "legacy-short",
        "legacy-long",
        "legacy-not-hex",
        "oauth",
        "user-to-server",
        "server-to-server",
        "refresh",
        "dockerhub",
        "password",
    ],
)
def test_github_token_format_rejected(environment, token, fragment):
    registry = build_registry(environment, Kind.GHCR, token=token)

    assert_field_error(registry, "token", fragment)


@pytest.mark.parametrize(
    ("login", "stored"),
    [
        ("octocat", "octocat"),
        ("Octo-Cat", "Octo-Cat"),
        ("a", "a"),
        ("a" * 39, "a" * 39),
        ("0ctocat", "0ctocat"),
        ("x-1-y", "x-1-y"),
        ("  octocat \n", "octocat"),
    ],
)
def test_github_login_accepted(environment, login, stored):
    registry = clean_registry(environment, Kind.GHCR, login=login)

    assert registry.login == stored


@pytest.mark.parametrize(
    ("login", "fragment"),
    [
        ("", "Enter the login."),
        ("  ", "Enter the login."),
        ("-octocat", "GitHub user name"),
        ("octocat-", "GitHub user name"),
        ("octo--cat", "GitHub user name"),
        ("octo_cat", "GitHub user name"),
        ("octo.cat", "GitHub user name"),
        ("a" * 40, "GitHub user name"),
        ("octo cat", "GitHub user name"),
        ("octocat@example.com", "GitHub user name"),
        ("octo\x00cat", "GitHub user name"),
        ("öctocat", "GitHub user name"),
    ],
    ids=repr,
)
def test_github_login_rejected(environment, login, fragment):
    registry = build_registry(environment, Kind.GHCR, login=login)

    assert_field_error(registry, "login", fragment)


# Docker Hub: token formats and the Docker ID.


@pytest.mark.parametrize(
    "token",
    [
        DOCKERHUB_TOKEN,
        "dckr_oat_7Hq2-Lm9_Zx4Vb8Nc1Kd",
        DOCKERHUB_UUID_TOKEN,
        DOCKERHUB_UUID_TOKEN.upper(),
    ],
    ids=["personal", "organization", "uuid", "uuid-upper"],
)
def test_dockerhub_token_format_accepted(environment, token):
    registry = clean_registry(environment, Kind.DOCKERHUB, token=token)

    assert registry.token == token


@pytest.mark.parametrize(
    "token",
    [
        "dckr_pat_short",
        "dckr_xyz_" + "a" * 27,
        "dckr_pat_" + "a!" * 10,
        "dckr_pat_" + "é" * 20,
        DOCKERHUB_UUID_TOKEN.replace("-", ""),
        DOCKERHUB_UUID_TOKEN[:-1],
        DOCKERHUB_UUID_TOKEN.replace("a", "g"),
        "my-account-password",
        GITHUB_TOKEN,
    ],
    ids=[
        "short",
        "unknown-prefix",
        "punctuation",
        "non-ascii",
        "uuid-without-hyphens",
        "uuid-short",
        "uuid-not-hex",
        "password",
        "github",
    ],
)
def test_dockerhub_token_format_rejected(environment, token):
    registry = build_registry(environment, Kind.DOCKERHUB, token=token)

    assert_field_error(registry, "token", "not a Docker Hub access token")


@pytest.mark.parametrize(
    ("login", "stored"),
    [
        ("dockeruser", "dockeruser"),
        ("user1234", "user1234"),
        ("abcd", "abcd"),
        ("a" * 30, "a" * 30),
        ("DockerUser", "dockeruser"),
        (" dockeruser\n", "dockeruser"),
    ],
)
def test_docker_id_accepted(environment, login, stored):
    registry = clean_registry(environment, Kind.DOCKERHUB, login=login)

    assert registry.login == stored


@pytest.mark.parametrize(
    ("login", "fragment"),
    [
        ("me@example.com", "not an email address"),
        ("First.Last@example.co.uk", "not an email address"),
        ("@dockeruser", "not an email address"),
        ("abc", "4 to 30 lowercase letters and digits"),
        ("a" * 31, "4 to 30 lowercase letters and digits"),
        ("docker-user", "4 to 30 lowercase letters and digits"),
        ("docker_user", "4 to 30 lowercase letters and digits"),
        ("docker.user", "4 to 30 lowercase letters and digits"),
        ("dockér", "4 to 30 lowercase letters and digits"),
        ("", "Enter the login."),
    ],
    ids=repr,
)
def test_docker_id_rejected(environment, login, fragment):
    registry = build_registry(environment, Kind.DOCKERHUB, login=login)

    assert_field_error(registry, "login", fragment)


# Custom registries: login and URL.


@pytest.mark.parametrize(
    ("login", "stored"),
    [
        ("robot", "robot"),
        ("robot$ci+push", "robot$ci+push"),
        ("CI User", "CI User"),
        ("ci@example.com", "ci@example.com"),
        (" robot\n", "robot"),
    ],
)
def test_custom_login_accepted(environment, login, stored):
    registry = clean_registry(environment, Kind.CUSTOM, login=login)

    assert registry.login == stored


@pytest.mark.parametrize(
    ("login", "fragment"),
    [
        ("", "Enter the login."),
        ("robot:ci", "contains a colon"),
        ("robot\x00", "without control characters"),
        ("ro\x1bbot", "without control characters"),
        ("a" * 256, "at most 255 characters"),
    ],
    ids=repr,
)
def test_custom_login_rejected(environment, login, fragment):
    registry = build_registry(environment, Kind.CUSTOM, login=login)

    assert_field_error(registry, "login", fragment)


CUSTOM_URL_ACCEPTED = [
    ("https://registry.example.test", "https://registry.example.test"),
    ("https://registry.example.test/", "https://registry.example.test"),
    ("https://registry.example.test/v2/", "https://registry.example.test"),
    ("https://registry.example.test/v2", "https://registry.example.test"),
    ("https://registry.example.test:5000/v2/", "https://registry.example.test:5000"),
    ("https://registry.example.test/team/v2/", "https://registry.example.test/team"),
    ("https://registry.example.test/team/", "https://registry.example.test/team"),
    ("https://registry.example.test/v2x", "https://registry.example.test/v2x"),
    ("https://registry.example.test/a%2Fb", "https://registry.example.test/a%2Fb"),
    ("HTTPS://Registry.Example.TEST/Team", "https://registry.example.test/Team"),
    ("  https://registry.example.test \n", "https://registry.example.test"),
    ("https://registry.example.test:", "https://registry.example.test"),
    ("https://registry", "https://registry"),
    ("https://registry.example.test.", "https://registry.example.test."),
    ("https://bücher.example", "https://xn--bcher-kva.example"),
    ("https://192.0.2.10:443", "https://192.0.2.10:443"),
    ("https://[2001:db8::1]:5000", "https://[2001:db8::1]:5000"),
    ("https://[2001:DB8:0:0::1]/v2/", "https://[2001:db8::1]"),
    ("https://[::ffff:192.0.2.10]", "https://[::ffff:c000:20a]"),
]


@pytest.mark.parametrize(("url", "stored"), CUSTOM_URL_ACCEPTED)
def test_custom_url_accepted(environment, url, stored):
    registry = clean_registry(environment, Kind.CUSTOM, url=url)

    assert registry.url == stored


CUSTOM_URL_REJECTED = [
    ("", "Enter the registry URL"),
    ("http://registry.example.test", "must be https, not http"),
    ("ftp://registry.example.test", "must be https, not ftp"),
    ("registry.example.test", "has no scheme"),
    ("registry.example.test:5000", "has no scheme"),
    ("https:registry.example.test", "has no scheme"),
    ("https://user:secret@registry.example.test", "Remove the user name and password"),
    ("https://user@registry.example.test", "Remove the user name and password"),
    ("https://@registry.example.test", "Remove the user name and password"),
    ("https://registry.example.test/?tag=1", "Remove the query string and fragment"),
    ("https://registry.example.test?", "Remove the query string and fragment"),
    ("https://registry.example.test/#top", "Remove the query string and fragment"),
    ("https://registry.example.test#", "Remove the query string and fragment"),
    ("https://registry.example.test:0", "port between 1 and 65535"),
    ("https://registry.example.test:65536", "port between 1 and 65535"),
    ("https://registry.example.test:99999", "port between 1 and 65535"),
    ("https://registry.example.test:http", "port between 1 and 65535"),
    ("https://registry.example.test:-1", "port between 1 and 65535"),
    ("https://registry.example.test:+443", "port between 1 and 65535"),
    ("https://", "no host name"),
    ("https:///v2/", "no host name"),
    ("https://-registry.example.test", "not a valid host name"),
    ("https://registry-.example.test", "not a valid host name"),
    ("https://reg_istry.example.test", "not a valid host name"),
    ("https://registry..example.test", "not a valid host name"),
    ("https://" + "a" * 64 + ".example.test", "not a valid host name"),
    ("https://" + ".".join(["a" * 60] * 5), "not a valid host name"),
    ("https://registry.example.test\\evil.test", "not a valid host name"),
    ("https://registry.example.test\\@evil.test", "Remove the user name and password"),
    ("https://256.1.1.1", "neither a valid IPv4 address nor a host name"),
    ("https://192.0.2.010", "neither a valid IPv4 address nor a host name"),
    ("https://127.1", "neither a valid IPv4 address nor a host name"),
    ("https://0x7f.1", "neither a valid IPv4 address nor a host name"),
    ("https://2130706433", "neither a valid IPv4 address nor a host name"),
    ("https://[2001:db8::zz]", "malformed"),
    ("https://[2001:db8::1", "malformed"),
    ("https://2001:db8::1", "port between 1 and 65535"),
    ("https://[fe80::1%25eth0]", "IPv6 zone index"),
    ("https://registry.example.test/a b", "whitespace or control characters"),
    ("https://registry.exa\tmple.test", "whitespace or control characters"),
    ("https://registry.example.test/v2/\n/x", "whitespace or control characters"),
    ("https://registry\x00.example.test", "whitespace or control characters"),
    ("https://registry.example.test/a<b>", "cannot contain"),
    ("https://registry.example.test/bücher", "cannot contain"),
    ("https://registry.example.test/%zz", "cannot contain"),
]


@pytest.mark.parametrize(("url", "fragment"), CUSTOM_URL_REJECTED, ids=repr)
def test_custom_url_rejected(environment, url, fragment):
    registry = build_registry(environment, Kind.CUSTOM, url=url)

    assert_field_error(registry, "url", fragment)


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://registry.example.test:5000/v2/", "http://registry.example.test:5000"),
        ("HTTP://Registry.Example.Test", "http://registry.example.test"),
        ("https://registry.example.test", "https://registry.example.test"),
    ],
)
def test_custom_url_http_allowed_by_setting(environment, settings, url, stored):
    settings.GIMLET_ALLOW_HTTP_REGISTRIES = True

    registry = clean_registry(environment, Kind.CUSTOM, url=url)

    assert registry.url == stored


def test_custom_url_ftp_rejected_with_http(environment, settings):
    settings.GIMLET_ALLOW_HTTP_REGISTRIES = True
    registry = build_registry(
        environment, Kind.CUSTOM, url="ftp://registry.example.test"
    )

    assert_field_error(registry, "url", "must be https, not ftp")


# Built-in registry: default address, editing, nothing else accepted.


@pytest.mark.parametrize("url", ["", "   "], ids=["empty", "blank"])
def test_builtin_url_defaults_to_setting(environment, url):
    registry = clean_registry(environment, Kind.BUILTIN, url=url)

    assert registry.url == "127.0.0.1:32447"


def test_builtin_url_default_follows_setting(environment, settings):
    settings.GIMLET_BUILTIN_REGISTRY_URL = "registry.cluster.local:5000"

    registry = clean_registry(environment, Kind.BUILTIN, url="")

    assert registry.url == "registry.cluster.local:5000"


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("127.0.0.1:32447", "127.0.0.1:32447"),
        ("registry.cluster.local:5000", "registry.cluster.local:5000"),
        ("Registry.Cluster.Local", "registry.cluster.local"),
        ("registry.cluster.local:5000/v2/", "registry.cluster.local:5000"),
        ("registry.cluster.local:5000/", "registry.cluster.local:5000"),
        ("http://registry.cluster.local:5000", "registry.cluster.local:5000"),
        ("https://registry.cluster.local", "registry.cluster.local"),
        ("[::1]:5000", "[::1]:5000"),
        (" 10.0.0.5:32447 ", "10.0.0.5:32447"),
    ],
)
def test_builtin_url_edit_accepted(environment, url, stored):
    registry = clean_registry(environment, Kind.BUILTIN, url=url)

    assert registry.url == stored


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("registry.cluster.local/team", "Use host[:port]"),
        ("ftp://registry.cluster.local", "Use host[:port]"),
        ("user:secret@registry.cluster.local", "no user name, query or fragment"),
        ("@registry.cluster.local", "no user name, query or fragment"),
        ("registry.cluster.local?x=1", "no user name, query or fragment"),
        ("registry.cluster.local?", "no user name, query or fragment"),
        ("registry.cluster.local#", "no user name, query or fragment"),
        ("registry.cluster.local:0", "port between 1 and 65535"),
        ("registry.cluster.local:99999", "malformed"),
        ("registry.cluster.local:port", "malformed"),
        ("registry_cluster.local", "not a valid host name"),
        ("127.1:5000", "neither a valid IPv4 address nor a host name"),
        ("registry.cluster.local:50\n00", "whitespace or control characters"),
        ("registry cluster", "whitespace or control characters"),
    ],
    ids=repr,
)
def test_builtin_url_edit_rejected(environment, url, fragment):
    registry = build_registry(environment, Kind.BUILTIN, url=url)

    assert_field_error(registry, "url", fragment)


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("login", "admin", "takes no login"),
        ("token", CUSTOM_TOKEN, "takes no token"),
    ],
)
def test_builtin_credentials_rejected(environment, field, value, fragment):
    registry = build_registry(environment, Kind.BUILTIN, **{field: value})

    assert_field_error(registry, field, fragment)


# GitHub Container Registry and Docker Hub have fixed URLs.


@pytest.mark.parametrize(
    ("kind", "url", "stored"),
    [
        (Kind.GHCR, "", "ghcr.io"),
        (Kind.GHCR, "ghcr.io", "ghcr.io"),
        (Kind.GHCR, "ghcr.io/", "ghcr.io"),
        (Kind.DOCKERHUB, "", "https://index.docker.io/v1/"),
        (Kind.DOCKERHUB, "https://index.docker.io/v1/", "https://index.docker.io/v1/"),
        (Kind.DOCKERHUB, "https://index.docker.io/v1", "https://index.docker.io/v1/"),
    ],
)
def test_fixed_url_accepted(environment, kind, url, stored):
    registry = clean_registry(environment, kind, url=url)

    assert registry.url == stored


@pytest.mark.parametrize(
    ("kind", "url", "fragment"),
    [
        (Kind.GHCR, "https://registry.example.test", "fixed to ghcr.io"),
        (Kind.GHCR, "docker.io", "fixed to ghcr.io"),
        (Kind.GHCR, "ghcr.io/octocat", "fixed to ghcr.io"),
        (
            Kind.DOCKERHUB,
            "https://registry-1.docker.io",
            "fixed to https://index.docker.io/v1/",
        ),
        (Kind.DOCKERHUB, "ghcr.io", "fixed to https://index.docker.io/v1/"),
    ],
)
def test_fixed_url_rejected(environment, kind, url, fragment):
    registry = build_registry(environment, kind, url=url)

    assert_field_error(registry, "url", fragment)


# CA certificates of custom registries.


@pytest.fixture(scope="module")
def long_ca():
    return self_signed_ca("Gimlet Long CA", valid_days=730)


@pytest.fixture(scope="module")
def short_ca():
    return self_signed_ca("Gimlet Short CA", valid_days=30)


def saved_custom_registry(environment, certificate):
    registry = clean_registry(environment, Kind.CUSTOM, certificate=certificate)
    registry.save()
    registry.refresh_from_db()
    return registry


def test_certificate_single_stored(environment, long_ca):
    certificate, _ = long_ca
    pem = certificate_pem(certificate)

    registry = saved_custom_registry(environment, pem)

    assert registry.certificate == pem
    assert registry.certificate_subject == "CN=Gimlet Long CA"
    assert (
        registry.certificate_fingerprint
        == certificate.fingerprint(hashes.SHA256()).hex()
    )
    assert registry.certificate_expires_at == certificate.not_valid_after_utc


@pytest.mark.parametrize("order", ["long-first", "short-first"])
def test_certificate_bundle_earliest_expiry(environment, long_ca, short_ca, order):
    first, second = (
        (long_ca, short_ca) if order == "long-first" else (short_ca, long_ca)
    )
    pem = certificate_pem(first[0]) + certificate_pem(second[0])

    registry = saved_custom_registry(environment, pem)

    assert registry.certificate_expires_at == short_ca[0].not_valid_after_utc
    assert registry.certificate_subject == first[0].subject.rfc4514_string()
    assert (
        registry.certificate_fingerprint == first[0].fingerprint(hashes.SHA256()).hex()
    )


def test_certificate_surrounding_whitespace_trimmed(environment, long_ca):
    pem = certificate_pem(long_ca[0])

    registry = clean_registry(environment, Kind.CUSTOM, certificate=f"\n  {pem}\n\n")

    assert registry.certificate == pem


@pytest.mark.parametrize("certificate", ["", "  \n", None], ids=repr)
def test_certificate_blank_stored_as_none(environment, certificate):
    registry = saved_custom_registry(environment, certificate)

    assert registry.certificate is None
    assert registry.certificate_subject == ""
    assert registry.certificate_expires_at is None


def test_certificate_cleared_resets_metadata(environment, long_ca):
    registry = saved_custom_registry(environment, certificate_pem(long_ca[0]))

    registry.certificate = ""
    registry.full_clean()
    registry.save()
    registry.refresh_from_db()

    assert registry.certificate is None
    assert registry.certificate_subject == ""
    assert registry.certificate_fingerprint == ""
    assert registry.certificate_expires_at is None


def test_certificate_bundle_at_limit_accepted(environment, long_ca):
    pem = certificate_pem(long_ca[0])
    count = 64 * 1024 // len(pem)

    registry = clean_registry(environment, Kind.CUSTOM, certificate=pem * count)

    assert len(registry.certificate) <= 64 * 1024


def private_key_pem(key, private_format, encryption=None):
    return key.private_bytes(
        serialization.Encoding.PEM,
        private_format,
        encryption or serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def rejected_bundles(long_ca):
    """Map a case name to a rejected certificate input and its error fragment."""
    certificate, key = long_ca
    pem = certificate_pem(certificate)
    der = certificate.public_bytes(serialization.Encoding.DER)
    lines = pem.splitlines(keepends=True)
    corrupt = "".join([lines[0], lines[1][:10] + "!!!!" + lines[1][14:], *lines[2:]])
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registry.example.test")])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .sign(key, hashes.SHA256())
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(certificate.subject)
        .last_update(certificate.not_valid_before_utc)
        .next_update(certificate.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    public_key = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs8 = private_key_pem(key, serialization.PrivateFormat.PKCS8)

    return {
        "not-pem": ("just some text", "Enter one or more PEM certificates"),
        "der-as-base64": (
            base64.b64encode(der).decode(),
            "Enter one or more PEM certificates",
        ),
        "missing-end": (
            pem.replace("-----END CERTIFICATE-----", ""),
            "Enter one or more PEM",
        ),
        "corrupt-body": (corrupt, "not a valid X.509 certificate"),
        "empty-body": (
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
            "not a valid X.509 certificate",
        ),
        "second-cut-short": (
            pem + "".join(lines[:3]),
            "BEGIN line without its END line",
        ),
        "oversized": (pem * (64 * 1024 // len(pem) + 1), "the maximum is 65536 bytes"),
        "pkcs8-key": (pkcs8, "This is a private key"),
        "ec-key": (
            private_key_pem(key, serialization.PrivateFormat.TraditionalOpenSSL),
            "This is a private key",
        ),
        "encrypted-key": (
            private_key_pem(
                key,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            ),
            "This is a private key",
        ),
        "openssh-key": (
            private_key_pem(key, serialization.PrivateFormat.OpenSSH),
            "This is a private key",
        ),
        "certificate-and-key": (pem + pkcs8, "This is a private key"),
        "public-key": (public_key.decode(), "PEM block of type PUBLIC KEY"),
        "csr": (
            csr.public_bytes(serialization.Encoding.PEM).decode(),
            "PEM block of type CERTIFICATE REQUEST",
        ),
        "crl": (
            crl.public_bytes(serialization.Encoding.PEM).decode(),
            "PEM block of type X509 CRL",
        ),
        "certificate-and-crl": (
            pem + crl.public_bytes(serialization.Encoding.PEM).decode(),
            "PEM block of type X509 CRL",
        ),
        "trusted-certificate": (
            pem.replace("CERTIFICATE", "TRUSTED CERTIFICATE"),
            "PEM block of type TRUSTED CERTIFICATE",
        ),
    }


REJECTED_BUNDLE_CASES = [
    "not-pem",
    "der-as-base64",
    "missing-end",
    "corrupt-body",
    "empty-body",
    "second-cut-short",
    "oversized",
    "pkcs8-key",
    "ec-key",
    "encrypted-key",
    "openssh-key",
    "certificate-and-key",
    "public-key",
    "csr",
    "crl",
    "certificate-and-crl",
    "trusted-certificate",
]


@pytest.mark.parametrize("case", REJECTED_BUNDLE_CASES)
def test_certificate_rejected(environment, rejected_bundles, case):
    certificate, fragment = rejected_bundles[case]
    registry = build_registry(environment, Kind.CUSTOM, certificate=certificate)

    assert_field_error(registry, "certificate", fragment)


def test_certificate_rejection_cases_all_run(rejected_bundles):
    assert sorted(rejected_bundles) == sorted(REJECTED_BUNDLE_CASES)


@pytest.mark.parametrize("kind", [Kind.BUILTIN, Kind.GHCR, Kind.DOCKERHUB])
def test_certificate_on_other_kinds_rejected(environment, long_ca, kind):
    registry = build_registry(
        environment, kind, certificate=certificate_pem(long_ca[0])
    )

    assert_field_error(registry, "certificate", "take no CA certificate")


# Kind and name of a registry.


def test_kind_change_of_stored_registry_rejected(environment):
    stored = RegistryFactory(environment=environment)
    registry = Registry.objects.get(pk=stored.pk)
    registry.kind = Kind.CUSTOM
    registry.url = "https://registry.example.test"

    assert_field_error(registry, "kind", "never changes")


def test_kind_change_rejected_on_save(environment):
    stored = RegistryFactory(environment=environment)
    registry = Registry.objects.get(pk=stored.pk)
    registry.kind = Kind.GHCR

    with pytest.raises(ValidationError, match="never changes"):
        registry.save()

    assert Registry.objects.get(pk=stored.pk).kind == Kind.BUILTIN


def test_kind_change_after_create_rejected(environment):
    registry = RegistryFactory(environment=environment)
    registry.kind = Kind.GHCR

    with pytest.raises(ValidationError, match="never changes"):
        registry.save()


def test_kind_unknown_rejected(environment):
    registry = Registry(environment=environment, kind="quay")

    assert_field_error(
        registry, "kind", "Choose one of: builtin, ghcr, dockerhub, custom"
    )


@pytest.mark.parametrize("kind", list(Kind))
def test_name_defaults_to_kind(environment, kind):
    registry = clean_registry(environment, kind)

    assert registry.name == kind.value


def test_name_taken_in_environment_rejected(environment):
    RegistryFactory(environment=environment, name="mirror")
    registry = build_registry(environment, Kind.CUSTOM, name="mirror")

    assert_field_error(registry, "name", "already has a registry named mirror")


def test_default_name_taken_rejected(environment):
    RegistryFactory(environment=environment)
    registry = build_registry(environment, Kind.BUILTIN)

    assert_field_error(registry, "name", "already has a registry named builtin")


def test_name_taken_elsewhere_accepted(environment):
    RegistryFactory(name="mirror")

    registry = clean_registry(environment, Kind.CUSTOM, name="mirror")

    assert registry.name == "mirror"


def test_name_of_registry_itself_accepted(environment):
    stored = RegistryFactory(environment=environment, name="mirror")
    registry = Registry.objects.get(pk=stored.pk)

    registry.full_clean()

    assert registry.name == "mirror"


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Mirror", "Use a DNS label"),
        ("my mirror", "Use a DNS label"),
        ("-mirror", "Use a DNS label"),
        ("mirror-", "Use a DNS label"),
        ("mirror.eu", "Use a DNS label"),
        ("mirror\n", "Use a DNS label"),
        ("a" * 64, "at most 63 characters"),
    ],
    ids=repr,
)
def test_name_not_dns_label_rejected(environment, name, fragment):
    registry = build_registry(environment, Kind.CUSTOM, name=name)

    assert_field_error(registry, "name", fragment)


# Environments: DNS label names, unique within the tenant only.


@pytest.mark.parametrize(
    "name", ["staging", "a", "0", "staging-eu", "prod-2", "a" * 63, "9lives"]
)
def test_environment_name_accepted(db, name):
    environment = Environment(tenant=TenantFactory(), name=name)

    environment.full_clean()

    assert environment.name == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "cannot be blank"),
        ("Staging", "Use a DNS label"),
        ("-staging", "Use a DNS label"),
        ("staging-", "Use a DNS label"),
        ("staging_eu", "Use a DNS label"),
        ("staging.eu", "Use a DNS label"),
        ("staging eu", "Use a DNS label"),
        ("staging\n", "Use a DNS label"),
        ("stäging", "Use a DNS label"),
        ("a" * 64, "at most 63 characters"),
    ],
    ids=repr,
)
def test_environment_name_rejected(db, name, fragment):
    environment = Environment(tenant=TenantFactory(), name=name)

    assert_field_error(environment, "name", fragment)


def test_environment_name_taken_rejected(db):
    existing = EnvironmentFactory(name="staging")
    environment = Environment(tenant=existing.tenant, name="staging")

    assert_field_error(environment, "name", "already has an environment named staging")


def test_environment_name_other_tenant_accepted(db):
    EnvironmentFactory(name="staging")
    environment = Environment(tenant=TenantFactory(), name="staging")

    environment.full_clean()
    environment.save()

    assert Environment.objects.filter(name="staging").count() == 2


def test_environment_name_of_itself_accepted(db):
    environment = EnvironmentFactory(name="staging")

    environment.full_clean()

    assert environment.name == "staging"


# Image settings: the registry's environment and the default repository.


def test_foreign_registry_rejected(environment):
    registry = RegistryFactory()
    image_settings = ImageSettings(
        environment=environment, app="web", registry=registry
    )

    assert_field_error(image_settings, "registry", "same environment")


def test_foreign_registry_rejected_on_save(environment):
    registry = RegistryFactory()
    image_settings = ImageSettings(
        environment=environment, app="web", registry=registry
    )

    with pytest.raises(ValidationError, match="another environment"):
        image_settings.save()

    assert not ImageSettings.objects.exists()


def test_same_environment_registry_accepted(environment):
    registry = RegistryFactory(environment=environment)
    image_settings = ImageSettings(
        environment=environment, app="web", registry=registry
    )

    image_settings.full_clean()
    image_settings.save()

    assert image_settings.pk is not None


DEFAULT_REPOSITORIES = [
    (Kind.BUILTIN, {}, "127.0.0.1:32447/web"),
    (
        Kind.BUILTIN,
        {"url": "registry.cluster.local:5000"},
        "registry.cluster.local:5000/web",
    ),
    (Kind.DOCKERHUB, {"login": "dockeruser"}, "dockeruser/web"),
    (Kind.DOCKERHUB, {"login": "DockerUser"}, "dockeruser/web"),
    (Kind.GHCR, {"login": "octocat"}, "ghcr.io/octocat/web"),
    (Kind.GHCR, {"login": "OctoCat"}, "ghcr.io/octocat/web"),
    (Kind.CUSTOM, {}, "registry.example.test/robot/web"),
    (
        Kind.CUSTOM,
        {"url": "https://registry.example.test:5000/team/v2/", "login": "Robot"},
        "registry.example.test:5000/team/robot/web",
    ),
]


@pytest.fixture
def saved_registry(environment):
    def save(kind, **fields):
        registry = clean_registry(environment, kind, **fields)
        registry.save()
        return registry

    return save


@pytest.mark.parametrize(("kind", "fields", "repository"), DEFAULT_REPOSITORIES)
def test_default_repository(environment, saved_registry, kind, fields, repository):
    registry = saved_registry(kind, **fields)
    image_settings = ImageSettings(
        environment=environment, app="web", registry=registry
    )

    image_settings.full_clean()

    assert image_settings.repository == repository


@pytest.mark.parametrize(("kind", "fields", "repository"), DEFAULT_REPOSITORIES)
def test_default_repository_on_save(
    environment, saved_registry, kind, fields, repository
):
    registry = saved_registry(kind, **fields)
    image_settings = ImageSettings(
        environment=environment, app="web", registry=registry
    )

    image_settings.save()

    assert image_settings.repository == repository


def test_explicit_repository_kept(environment, saved_registry):
    registry = saved_registry(Kind.GHCR)
    image_settings = ImageSettings(
        environment=environment,
        app="web",
        registry=registry,
        repository="ghcr.io/org/site",
    )

    image_settings.full_clean()

    assert image_settings.repository == "ghcr.io/org/site"


# Derived token metadata.


@pytest.mark.parametrize(
    ("kind", "token", "hint"),
    [
        (Kind.GHCR, GITHUB_TOKEN, "ghp_…g7H8"),
        (Kind.GHCR, GITHUB_LEGACY_TOKEN, "…4567"),
        (Kind.DOCKERHUB, DOCKERHUB_TOKEN, "dckr_pat_…0cD5"),
        (Kind.DOCKERHUB, "dckr_oat_7Hq2-Lm9_Zx4Vb8Nc1Kd", "dckr_oat_…c1Kd"),
        (Kind.DOCKERHUB, DOCKERHUB_UUID_TOKEN, "…5e6f"),
        (Kind.CUSTOM, CUSTOM_TOKEN, "…6789"),
        (Kind.CUSTOM, "short-pw", "…"),
    ],
    ids=["ghp", "legacy", "dckr-pat", "dckr-oat", "uuid", "custom", "custom-short"],
)
def test_token_hint_derived(environment, saved_registry, kind, token, hint):
    registry = saved_registry(kind, token=token)

    assert registry.token_hint == hint


@pytest.mark.parametrize("kind", KINDS_WITH_TOKEN)
def test_token_fingerprint_derived(environment, saved_registry, kind):
    token = VALID_FIELDS[kind]["token"]

    registry = saved_registry(kind)

    assert registry.token_fingerprint == secret_fingerprint(token)


def test_token_metadata_follows_new_token(environment, saved_registry):
    registry = saved_registry(Kind.GHCR)
    new_token = "ghp_" + "Q" * 32 + "WXYZ"

    registry.token = new_token
    registry.full_clean()
    registry.save()
    registry.refresh_from_db()

    assert registry.token_fingerprint == secret_fingerprint(new_token)
    assert registry.token_hint == "ghp_…WXYZ"


def test_token_metadata_empty_without_token(environment, saved_registry):
    registry = saved_registry(Kind.BUILTIN)

    assert registry.token is None
    assert registry.token_fingerprint == ""
    assert registry.token_hint == ""


def test_token_metadata_restored_on_save(environment, saved_registry):
    registry = saved_registry(Kind.CUSTOM)

    Registry.objects.filter(pk=registry.pk).update(
        token_hint="forged", token_fingerprint="0"
    )
    registry = Registry.objects.get(pk=registry.pk)
    registry.save()
    registry.refresh_from_db()

    assert registry.token_hint == "…" + CUSTOM_TOKEN[-4:]
    assert registry.token_fingerprint == secret_fingerprint(CUSTOM_TOKEN)


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        (Kind.GHCR, "read from the registry"),
        (Kind.BUILTIN, "read from the registry"),
    ],
)
def test_user_expiry_rejected(environment, kind, fragment):
    registry = build_registry(environment, kind, expires_at_source="user")

    assert_field_error(registry, "expires_at", fragment)


@pytest.mark.parametrize("kind", [Kind.DOCKERHUB, Kind.CUSTOM])
def test_user_expiry_accepted(environment, kind):
    registry = clean_registry(environment, kind, expires_at_source="user")

    assert registry.expires_at_source == "user"


def test_valid_fields_table_covers_each_kind():
    assert set(VALID_FIELDS) == set(Kind)
