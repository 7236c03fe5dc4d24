"""Docker Hub credentials: a Docker ID and a personal or organization token.

The check asks Docker Hub's token service for a pull-only token. Asking for
more than the access token allows fails with 401 "insufficient scopes", so
pull is the one scope every valid token has. A token cannot read its own
expiry on Docker Hub, so the expiry date is the one a user entered, if any.
"""

import base64
import binascii
import json
from urllib.parse import urlencode

from django.conf import settings

from registries.http import outbound_client
from registries.models import Kind, Status
from registries.validators.base import (
    CheckResult,
    Validator,
    describe_answer,
    is_transient,
    unreachable,
    upstream_message,
)

SERVICE = "registry.docker.io"
# Any repository in the login's namespace: the token service issues tokens
# for repositories that do not exist yet, since pushing a new one needs one.
PROBE_REPOSITORY = "gimlet-credential-check"
RATE_LIMIT_PHRASES = ("rate limit", "too many requests")

# Phrases of Docker Hub's 401 bodies, most specific first, with the status
# and the advice each one gets.
UNAUTHORIZED_BODIES = (
    (
        "personal access token is expired",
        Status.EXPIRED,
        "Docker Hub says the access token has expired. Create a new access "
        "token and save it here.",
    ),
    (
        "insufficient scopes",
        Status.INSUFFICIENT_SCOPE,
        "Docker Hub says the access token has insufficient scopes for pulling. "
        "Create a token with at least Read access.",
    ),
    (
        "must log in with a personal access token",
        Status.INVALID,
        "Docker Hub rejected the account password stored as the token: this "
        "account must log in with a personal access token. Create one under "
        "Account settings, Personal access tokens, and save it here.",
    ),
    (
        "incorrect username or password",
        Status.INVALID,
        "Docker Hub rejected the Docker ID and token (incorrect username or "
        "password). Check the Docker ID, or create a new access token.",
    ),
)


def jwt_claims(token):
    """Return the claims of a JWT without verifying it, or None.

    Only used to read which access Docker Hub granted; the token itself is
    never trusted for anything.
    """
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def granted_scopes(claims):
    """Return "repository:NAME:ACTIONS" strings from a token's access claim."""
    scopes = []
    access = claims.get("access") if claims else None
    for item in access if isinstance(access, list) else []:
        if not isinstance(item, dict):
            continue
        actions = ",".join(str(action) for action in item.get("actions") or [])
        scopes.append(f"{item.get('type', '')}:{item.get('name', '')}:{actions}")
    return scopes


class DockerHubValidator(Validator):
    kind = Kind.DOCKERHUB

    def run(self, registry):
        scope = f"repository:{registry.login}/{PROBE_REPOSITORY}:pull"
        query = urlencode({"service": SERVICE, "scope": scope})
        with outbound_client() as client:
            response = client.get(
                f"{settings.GIMLET_DOCKERHUB_AUTH_URL}/token?{query}",
                auth=(registry.login, registry.token),
                trusted=True,
            )
        return self.classify(response)

    def classify(self, response):
        if response.status == 200:
            return self.accepted(response)
        if response.status == 401:
            return self.unauthorized(response)
        message = upstream_message(response).lower()
        if is_transient(response) or any(p in message for p in RATE_LIMIT_PHRASES):
            return unreachable(
                response, "Docker Hub", rate_limited=response.status in (403, 429)
            )
        return CheckResult(
            status=Status.CONFIG_ERROR,
            message=f"Docker Hub's token service returned {describe_answer(response)}."
            " Check GIMLET_DOCKERHUB_AUTH_URL, or sign in to Docker Hub to check "
            "the account.",
            http_status=response.status,
        )

    @staticmethod
    def accepted(response):
        body = response.json() or {}
        issued = body.get("token") or body.get("access_token")
        claims = jwt_claims(issued)
        scopes = granted_scopes(claims) if claims else None
        message = "Docker Hub accepted the Docker ID and token for pulling."
        if scopes:
            message += f" Granted: {', '.join(scopes)}."
        result = CheckResult(
            status=Status.VALID, message=message, http_status=200, scopes=scopes
        )
        if isinstance(issued, str):
            result.secrets.append(issued)
        return result

    @staticmethod
    def unauthorized(response):
        text = (upstream_message(response) or response.text[:500]).lower()
        for phrase, status, message in UNAUTHORIZED_BODIES:
            if phrase in text:
                return CheckResult(status=status, message=message, http_status=401)
        return CheckResult(
            status=Status.INVALID,
            message="Docker Hub rejected the Docker ID and token "
            f"({describe_answer(response)}). Check the Docker ID, or create a new "
            "access token.",
            http_status=401,
        )
