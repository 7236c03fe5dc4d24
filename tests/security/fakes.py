"""Fake upstreams and a real worker setup for the fault and canary runs.

FakeUpstream plays GitHub's API, ghcr.io's token endpoint, Docker Hub's
token service and an OCI registry's /v2/ with Basic authentication, on
one loopback port. Its `status` makes every route return that HTTP
status, as an upstream in an outage does.
"""

import base64
import threading
import time
from contextlib import contextmanager

from kombu import pools

from gimlet.celery import app as celery_app
from gimlet.models import Role
from tests.factories import EnvironmentFactory, MembershipFactory, RegistryFactory
from tests.servers import FakeServer, Reply, basic_credentials

SCOPES = "repo, write:packages"


class FakeUpstream(FakeServer):
    """GitHub, ghcr.io, Docker Hub and an OCI registry in one fake server.

    `accepted` maps logins to the tokens the fake accepts; an empty map
    accepts any token.
    """

    def __init__(self, identity=None, *, latency=0.0):
        super().__init__(identity)
        self.latency = latency
        self.status = 200
        self.accepted = {}
        self.lock = threading.Lock()
        self.routes["/user"] = self.github_user
        self.routes["/token"] = self.token
        self.routes["/v2/"] = self.registry

    def outage(self, handler):
        if self.status == 200:
            return None
        return Reply(self.status, body={"message": "Service Unavailable"})

    def accepts(self, login, token):
        return not self.accepted or self.accepted.get(login) == token

    def github_user(self, handler):
        time.sleep(self.latency)
        failed = self.outage(handler)
        if failed:
            return failed
        token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        login = next(
            (name for name, value in self.accepted.items() if value == token),
            "octocat" if not self.accepted else None,
        )
        if login is None:
            return Reply(401, body={"message": "Bad credentials"})
        return Reply(200, {"X-OAuth-Scopes": SCOPES}, {"login": login})

    def token(self, handler):
        failed = self.outage(handler)
        if failed:
            return failed
        credentials = basic_credentials(handler)
        if credentials is None or not self.accepts(*credentials):
            return Reply(401, body={"details": "incorrect username or password"})
        return Reply(200, body={"token": "registry-token"})

    def registry(self, handler):
        failed = self.outage(handler)
        if failed:
            return failed
        headers = {"Docker-Distribution-API-Version": "registry/2.0"}
        credentials = basic_credentials(handler)
        if credentials is None:
            return Reply(401, {**headers, "WWW-Authenticate": 'Basic realm="fake"'})
        if not self.accepts(*credentials):
            return Reply(401, headers, {"errors": [{"code": "UNAUTHORIZED"}]})
        return Reply(200, headers, {})

    def calls(self, path):
        return sum(1 for request in self.requests if request.path.startswith(path))


def basic(login, token):
    return base64.b64encode(f"{login}:{token}".encode()).decode()


def tenant_with_admin(email):
    environment = EnvironmentFactory()
    MembershipFactory(tenant=environment.tenant, role=Role.ADMIN, user__email=email)
    return environment


def ghcr_registries(environment, count):
    return [
        RegistryFactory(
            ghcr=True, name=f"ghcr-{index}", login="octocat", environment=environment
        )
        for index in range(count)
    ]


@contextmanager
def celery_broker(url):
    """Point the Celery app of this process at another broker, then back."""
    original = celery_app.conf.broker_url
    _switch_broker(url)
    try:
        yield
    finally:
        _switch_broker(original)


def _switch_broker(url):
    celery_app.conf.broker_url = url
    reset_broker_pools()


def reset_broker_pools():
    """Drop this process's broker connections, whatever their state.

    kombu keeps connection and producer pools per broker URL for the whole
    process (kombu.pools). A test that closed one leaves it closed for the
    next, and every task sent through it fails with "Acquire on closed
    pool".
    """
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
