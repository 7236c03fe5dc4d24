"""Input rules for each registry kind, applied by Registry.clean().

Every entry point (admin forms, the API, services, management commands)
saves through `Registry.full_clean()`, so these rules run once for all.
Each rejection names the value's problem and how to fix it.
"""

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from registries.certificates import parse_bundle

MAX_TOKEN_LENGTH = 4096
GHCR_URL = "ghcr.io"
DOCKERHUB_URL = "https://index.docker.io/v1/"

GITHUB_CLASSIC_TOKEN = re.compile(r"ghp_[A-Za-z0-9]{36}")
GITHUB_LEGACY_TOKEN = re.compile(r"[0-9a-f]{40}")
GITHUB_OTHER_TOKEN = re.compile(r"gh[ousr]_[A-Za-z0-9]+")
# GitHub user names: alphanumerics and single inner hyphens, at most 39.
GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
DOCKERHUB_TOKEN = re.compile(r"dckr_(?:pat|oat)_[A-Za-z0-9_\-]{16,}")
DOCKERHUB_LEGACY_TOKEN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)
# Docker IDs: 4 to 30 lowercase letters and digits.
DOCKER_ID = re.compile(r"[a-z0-9]{4,30}")
HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# A last label that is a decimal or hexadecimal number makes the name an
# IPv4 address to URL parsers (WHATWG URL) and to getaddrinfo (inet_aton
# forms such as 127.1), never a DNS name (RFC 1123, section 2.1).
NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*", re.IGNORECASE)
# RFC 3986 path: segments of unreserved and sub-delimiter characters, ":",
# "@" and percent-encoded octets.
URL_PATH = re.compile(r"(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*")


def clean_secret_text(value):
    """Trim a pasted secret; reject inner whitespace and control characters."""
    value = value.strip()
    if len(value) > MAX_TOKEN_LENGTH:
        raise ValidationError(
            f"The token is {len(value)} characters long; the maximum is "
            f"{MAX_TOKEN_LENGTH}. Paste the token alone."
        )
    for char in value:
        if char.isspace():
            raise ValidationError(
                "The token contains whitespace or a line break. Paste the "
                "token alone, on one line."
            )
        if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            raise ValidationError(
                f"The token contains the control character U+{ord(char):04X}. "
                "Paste the token again, as plain text."
            )
    return value


def clean_github_token(value):
    value = clean_secret_text(value)
    if value.startswith("github_pat_"):
        raise ValidationError(
            "This is a fine-grained GitHub token, which GitHub Packages does "
            "not accept. Create a classic personal access token with the "
            "repo and write:packages scopes."
        )
    if GITHUB_OTHER_TOKEN.fullmatch(value):
        raise ValidationError(
            f"Tokens starting with {value[:4]} are OAuth or app tokens. Create "
            "a classic personal access token (ghp_…) with the repo and "
            "write:packages scopes."
        )
    if not (
        GITHUB_CLASSIC_TOKEN.fullmatch(value) or GITHUB_LEGACY_TOKEN.fullmatch(value)
    ):
        raise ValidationError(
            "This is not a GitHub classic personal access token: expected "
            "ghp_ followed by 36 letters and digits (or 40 hexadecimal digits "
            "for an older token). Check that the whole token was copied."
        )
    return value


def clean_dockerhub_token(value):
    value = clean_secret_text(value)
    if not (
        DOCKERHUB_TOKEN.fullmatch(value) or DOCKERHUB_LEGACY_TOKEN.fullmatch(value)
    ):
        raise ValidationError(
            "This is not a Docker Hub access token: expected dckr_pat_… or "
            "dckr_oat_… (or an older token in UUID form). Create an access "
            "token under Account settings, Personal access tokens; an account "
            "password is not accepted."
        )
    return value


def clean_github_login(value):
    value = value.strip()
    if not GITHUB_LOGIN.fullmatch(value):
        raise ValidationError(
            "Enter a GitHub user name: up to 39 letters, digits and single "
            "inner hyphens, as shown on the GitHub profile."
        )
    return value


def clean_docker_id(value):
    value = value.strip()
    if "@" in value:
        raise ValidationError(
            "Enter your Docker ID, not an email address. It is shown in the "
            "top right corner of Docker Hub once you are signed in."
        )
    value = value.lower()
    if not DOCKER_ID.fullmatch(value):
        raise ValidationError(
            "Enter a Docker ID: 4 to 30 lowercase letters and digits."
        )
    return value


def clean_host(host):
    """Validate the host part of a URL: a DNS name or an IP address."""
    if not host:
        raise ValidationError("The URL has no host name. Use https://host[:port].")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if getattr(address, "scope_id", None):
            raise ValidationError(
                f"{host!r} contains an IPv6 zone index, which names an "
                "interface of this machine only. Remove the %zone part."
            )
        return str(address)
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(
            f"{host!r} is not a valid host name. Use the registry's DNS name."
        ) from None
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(HOST_LABEL.fullmatch(lab) for lab in labels):
        raise ValidationError(
            f"{host!r} is not a valid host name. Use the registry's DNS name."
        )
    if NUMERIC_LABEL.fullmatch(labels[-1]):
        raise ValidationError(
            f"{host!r} is neither a valid IPv4 address nor a host name. Write "
            "an IPv4 address as four decimal numbers from 0 to 255, such as "
            "192.0.2.10, or use the registry's DNS name."
        )
    return ascii_host.lower()


def reject_whitespace_and_controls(value):
    # urlsplit() silently drops tabs and line breaks anywhere in a URL
    # (Python 3.11, bpo-43882), so they must be caught before parsing.
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError(
            "The URL contains whitespace or control characters. Remove them "
            "and enter the URL on one line."
        )


def clean_custom_url(value):
    """Normalise a custom registry URL to https://host[:port][/path]."""
    value = value.strip()
    if not value:
        raise ValidationError("Enter the registry URL, as https://host[:port][/path].")
    reject_whitespace_and_controls(value)
    if "://" not in value:
        raise ValidationError(
            f"The URL {value!r} has no scheme. Write it as https://host[:port][/path]."
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise ValidationError(
            f"The URL is malformed ({error}). Use https://host[:port][/path] with "
            "a port between 1 and 65535."
        ) from None
    allowed_schemes = {"https"}
    if settings.GIMLET_ALLOW_HTTP_REGISTRIES:
        allowed_schemes.add("http")
    if parts.scheme.lower() not in allowed_schemes:
        raise ValidationError(
            f"The URL scheme must be https, not {parts.scheme or 'missing'}. "
            "Write it as https://host[:port][/path]."
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValidationError(
            "Remove the user name and password from the URL; enter them in the "
            "login and token fields."
        )
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValidationError(
            "Remove the query string and fragment from the URL; use "
            "https://host[:port][/path]."
        )
    if port == 0:
        raise ValidationError("Use a port between 1 and 65535.")
    host = clean_host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    if not URL_PATH.fullmatch(parts.path):
        raise ValidationError(
            f"The URL path {parts.path!r} contains characters that a URL path "
            "cannot contain. Percent-encode them or remove them."
        )
    path = re.sub(r"/v2/?$", "", parts.path.rstrip("/") + "/").rstrip("/")
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme.lower()}://{netloc}{path}"


def clean_builtin_url(value):
    """Normalise the builtin registry's address, host[:port]."""
    value = value.strip() or settings.GIMLET_BUILTIN_REGISTRY_URL
    reject_whitespace_and_controls(value)
    probe = value if "://" in value else f"//{value}"
    try:
        parts = urlsplit(probe)
        port = parts.port
    except ValueError as error:
        raise ValidationError(
            f"The address is malformed ({error}). Use host[:port], for example "
            "127.0.0.1:32447."
        ) from None
    if parts.scheme not in {"", "http", "https"}:
        raise ValidationError("Use host[:port], for example 127.0.0.1:32447.")
    # An empty user name ("@host"), query ("host?") or fragment ("host#")
    # parses as empty, so look for the delimiters themselves.
    if "@" in parts.netloc or "?" in value or "#" in value:
        raise ValidationError(
            "Use host[:port] with no user name, query or fragment, for example "
            "127.0.0.1:32447."
        )
    if port == 0:
        raise ValidationError("Use a port between 1 and 65535.")
    if parts.path.strip("/") not in {"", "v2"}:
        raise ValidationError("Use host[:port], for example 127.0.0.1:32447.")
    host = clean_host(parts.hostname or "")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


class KindRules:
    """The input rules of one registry kind; subclasses set the fields."""

    requires_login = False
    requires_token = False
    accepts_certificate = False
    accepts_expiry = False

    def clean(self, registry):
        """Normalise the registry's fields in place; raise field errors."""
        errors = {}
        for field in ("url", "login", "token"):
            cleaner = getattr(self, f"clean_{field}")
            try:
                setattr(registry, field, cleaner(getattr(registry, field)))
            except ValidationError as error:
                errors[field] = error.messages
        if registry.certificate and not self.accepts_certificate:
            errors["certificate"] = [
                f"{registry.get_kind_display()} registries take no CA "
                "certificate; leave it empty."
            ]
        if registry.expires_at_source == "user" and not self.accepts_expiry:
            errors["expires_at"] = [
                f"The expiry date of a {registry.get_kind_display()} token is "
                "read from the registry; leave it empty."
            ]
        if errors:
            raise ValidationError(errors)

    def clean_url(self, value):
        return value

    def clean_login(self, value):
        if not self.requires_login:
            if value:
                raise ValidationError("This kind of registry takes no login.")
            return ""
        if not value or not value.strip():
            raise ValidationError("Enter the login.")
        return self.clean_required_login(value)

    def clean_required_login(self, value):
        value = value.strip()
        if len(value) > 255 or any(unicodedata.category(c) == "Cc" for c in value):
            raise ValidationError(
                "Enter a login of at most 255 characters without control characters."
            )
        if ":" in value:
            # HTTP Basic authentication joins login and token with a colon,
            # so a login cannot contain one (RFC 7617, section 2).
            raise ValidationError(
                "The login contains a colon, which HTTP Basic authentication "
                "cannot send. Use the registry's user or robot account name."
            )
        return value

    def clean_token(self, value):
        if not self.requires_token:
            if value:
                raise ValidationError("This kind of registry takes no token.")
            return None
        if value is None or not value.strip():
            raise ValidationError("Enter the token.")
        return self.clean_required_token(value)

    def clean_required_token(self, value):
        return clean_secret_text(value)


class BuiltinRules(KindRules):
    def clean_url(self, value):
        return clean_builtin_url(value or "")


class FixedUrlRules(KindRules):
    fixed_url = ""
    requires_login = True
    requires_token = True

    def clean_url(self, value):
        value = (value or "").strip()
        if value and value.rstrip("/") != self.fixed_url.rstrip("/"):
            raise ValidationError(
                f"The URL of this kind of registry is fixed to {self.fixed_url}; "
                "leave it empty or use a custom registry."
            )
        return self.fixed_url


class GhcrRules(FixedUrlRules):
    fixed_url = GHCR_URL

    def clean_required_login(self, value):
        return clean_github_login(value)

    def clean_required_token(self, value):
        return clean_github_token(value)


class DockerHubRules(FixedUrlRules):
    fixed_url = DOCKERHUB_URL
    accepts_expiry = True

    def clean_required_login(self, value):
        return clean_docker_id(value)

    def clean_required_token(self, value):
        return clean_dockerhub_token(value)


class CustomRules(KindRules):
    requires_login = True
    requires_token = True
    accepts_certificate = True
    accepts_expiry = True

    def clean_url(self, value):
        return clean_custom_url(value or "")

    def clean(self, registry):
        errors = {}
        try:
            super().clean(registry)
        except ValidationError as error:
            errors = error.message_dict
        if registry.certificate is not None and "certificate" not in errors:
            pem = registry.certificate.strip()
            if not pem:
                registry.certificate = None
            else:
                try:
                    parse_bundle(pem)
                except ValidationError as error:
                    errors["certificate"] = error.messages
                else:
                    registry.certificate = pem + "\n"
        if errors:
            raise ValidationError(errors)


KIND_RULES = {
    "builtin": BuiltinRules(),
    "ghcr": GhcrRules(),
    "dockerhub": DockerHubRules(),
    "custom": CustomRules(),
}
