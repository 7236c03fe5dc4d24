"""Custom registries that speak the OCI distribution API.

The check follows what `docker login` does: GET /v2/ without credentials,
then respond to the challenge in WWW-Authenticate. A Basic challenge gets the
login and token; a Bearer challenge sends them to the token server named
by `realm` and then calls /v2/ with the token it issued ("Token
Authentication Specification", CNCF distribution documentation).
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from registries.http import outbound_client
from registries.models import Kind, Status
from registries.validators.base import (
    CheckResult,
    Validator,
    describe_answer,
    error_codes,
    is_transient,
    unreachable,
)

API_VERSION_HEADER = "Docker-Distribution-API-Version"
# OCI error codes with which token servers deny bad credentials.
DENIED_CODES = {"DENIED", "UNAUTHORIZED"}

SCHEME = re.compile(r"[\s,]*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?=\s|$)\s*")
PARAMETER = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?\s*')


@dataclass(frozen=True)
class Challenge:
    scheme: str
    params: dict


def parse_challenges(header):
    """Parse a WWW-Authenticate value into challenges (RFC 9110, 11.6.1)."""
    challenges = []
    position = 0
    while position < len(header):
        match = SCHEME.match(header, position)
        if not match or match.end() == position:
            break
        position = match.end()
        params = {}
        while parameter := PARAMETER.match(header, position):
            if parameter.end() == position:
                break
            name, value = parameter.groups()
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[name.lower()] = value
            position = parameter.end()
        challenges.append(Challenge(match.group(1).lower(), params))
    return challenges


def with_query(url, extra):
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


class CustomValidator(Validator):
    kind = Kind.CUSTOM

    def run(self, registry):
        endpoint = f"{registry.url.rstrip('/')}/v2/"
        with outbound_client(ca_pem=registry.certificate) as client:
            check = RegistryCheck(client, registry, endpoint)
            return check.run()


class RegistryCheck:
    """One check of a custom registry, step by step."""

    def __init__(self, client, registry, endpoint):
        self.client = client
        self.registry = registry
        self.endpoint = endpoint
        self.host = urlsplit(endpoint).netloc
        self.secrets = []

    def run(self):
        anonymous = self.client.get(self.endpoint)
        result = self.classify_anonymous(anonymous)
        result.secrets.extend(self.secrets)
        return result

    def classify_anonymous(self, response):
        if is_transient(response):
            return unreachable(response, self.host)
        if response.status == 404 or API_VERSION_HEADER not in response.headers:
            return CheckResult(
                status=Status.CONFIG_ERROR,
                message=f"{self.endpoint} returned {describe_answer(response)} "
                f"without a {API_VERSION_HEADER} header, so it is not an OCI "
                "registry API. Check the URL: it is the registry's address, "
                "without /v2/.",
                http_status=response.status,
            )
        if response.status == 200:
            return CheckResult(
                status=Status.VALID,
                message=f"{self.host} returns 200 for /v2/ without credentials, so it "
                "does not check them there; the login and token could not be "
                "verified.",
                http_status=200,
            )
        if response.status != 401:
            return self.unexpected(response, "/v2/ without credentials")
        header = response.headers.get("WWW-Authenticate", "")
        challenges = {item.scheme: item for item in parse_challenges(header)}
        if "bearer" in challenges:
            return self.bearer(challenges["bearer"])
        if "basic" in challenges:
            return self.basic()
        return CheckResult(
            status=Status.CONFIG_ERROR,
            message=f"{self.host} returned 401 without a Basic or Bearer challenge "
            "in WWW-Authenticate, so there is no known way to log in.",
            http_status=401,
        )

    def basic(self):
        response = self.client.get(
            self.endpoint, auth=(self.registry.login, self.registry.token)
        )
        if response.status == 200:
            return CheckResult(
                status=Status.VALID,
                message=f"{self.host} accepted the login and token.",
                http_status=200,
            )
        if response.status == 401:
            return CheckResult(
                status=Status.INVALID,
                message=f"{self.host} rejected the login and token "
                f"({describe_answer(response)}). Check both, or create a new token.",
                http_status=401,
            )
        if is_transient(response):
            return unreachable(response, self.host)
        return self.unexpected(response, "/v2/ with the login and token")

    def bearer(self, challenge):
        realm = challenge.params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            return CheckResult(
                status=Status.CONFIG_ERROR,
                message=f"{self.host} sent a Bearer challenge whose realm "
                f"{realm!r} is not an absolute http(s) URL.",
                http_status=401,
            )
        if parts.scheme == "http" and self.endpoint.startswith("https://"):
            return CheckResult(
                status=Status.CONFIG_ERROR,
                message=f"{self.host} names the token server {realm}, which uses "
                "plain http behind an https registry. The login and token were "
                "not sent; configure the registry's token realm on https.",
                http_status=401,
            )
        extra = {"account": self.registry.login}
        for name in ("service", "scope"):
            if challenge.params.get(name):
                extra[name] = challenge.params[name]
        response = self.client.get(
            with_query(realm, extra), auth=(self.registry.login, self.registry.token)
        )
        return self.token_answer(response, realm)

    def token_answer(self, response, realm):
        realm_host = urlsplit(realm).netloc
        if response.status == 401 or (
            response.status == 403 and error_codes(response) & DENIED_CODES
        ):
            return CheckResult(
                status=Status.INVALID,
                message=f"The token server {realm_host} rejected the login and "
                f"token ({describe_answer(response)}). Check both, or create a "
                "new token.",
                http_status=response.status,
            )
        if is_transient(response):
            return unreachable(response, f"The token server {realm_host}")
        if response.status != 200:
            return self.unexpected(response, f"the token request to {realm_host}")
        body = response.json() or {}
        issued = body.get("token") or body.get("access_token")
        if not isinstance(issued, str) or not issued:
            return CheckResult(
                status=Status.CONFIG_ERROR,
                message=f"The token server {realm_host} returned 200 without a "
                "token in its JSON body.",
                http_status=200,
            )
        self.secrets.append(issued)
        return self.confirm_token(issued, realm_host)

    def confirm_token(self, issued, realm_host):
        response = self.client.get(
            self.endpoint, headers={"Authorization": f"Bearer {issued}"}
        )
        if response.status == 200:
            return CheckResult(
                status=Status.VALID,
                message=f"The token server {realm_host} accepted the login and "
                f"token, and {self.host} accepted the token it issued.",
                http_status=200,
            )
        if is_transient(response):
            return unreachable(response, self.host)
        if response.status == 401:
            return CheckResult(
                status=Status.CONFIG_ERROR,
                message=f"The token server {realm_host} accepted the login and "
                f"token, but {self.host} rejected the token it issued. The "
                "registry's token settings (service, issuer, signing "
                "certificate) do not match the token server.",
                http_status=401,
            )
        return self.unexpected(response, "/v2/ with the issued token")

    def unexpected(self, response, request):
        return CheckResult(
            status=Status.CONFIG_ERROR,
            message=f"{self.host} returned {describe_answer(response)} to "
            f"{request}, which a registry does not send there.",
            http_status=response.status,
        )
