"""Fixtures for the credential-check tests: DNS, sockets, servers, PKI."""

import socket
from types import SimpleNamespace

import pytest

from tests.conftest import require_server
from tests.servers import (
    DistributionRegistry,
    FakeServer,
    TokenServer,
    htpasswd_auth,
    make_ca,
    make_server_cert,
    registry_available,
    token_auth,
)

REGISTRY_NAME = "registry.gimlet.test"
REGISTRY_LOGIN = "robot"
REGISTRY_PASSWORD = "robot-password-for-tests-1"
TOKEN_SERVICE = "gimlet-test-registry"
TOKEN_ISSUER = "gimlet-test-token-issuer"
# Ports of the databases and brokers the suite itself may connect to.
SUITE_PORTS = {5432, 6379}


@pytest.fixture
def allow_loopback(settings):
    """Let user-entered URLs reach loopback, where the test servers run."""
    settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]


@pytest.fixture
def fake_dns(monkeypatch):
    """Resolve names from a table that a test fills; never ask a DNS server.

    Numeric hosts and localhost resolve as usual; any other name fails as
    unknown. A table value is a list of addresses, or a callable returning
    one, for answers that change between lookups.
    """
    table = {}
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if isinstance(host, bytes):
            host = host.decode()
        if host in table:
            lookups.append(host)
            answer = table[host]
            addresses = answer() if callable(answer) else answer
            return [_address_info(address, port) for address in addresses]
        if host == "localhost":
            return real_getaddrinfo(host, port, family, type, proto, flags)
        return real_getaddrinfo(
            host, port, family, type, proto, flags | socket.AI_NUMERICHOST
        )

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(table=table, lookups=lookups)


def _address_info(address, port):
    port = int(port or 0)
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


class ConnectionLog(list):
    """Connections a test attempted, and the loopback ports it may reach."""

    def __init__(self):
        super().__init__()
        self.allowed_ports = set(SUITE_PORTS)


@pytest.fixture
def connection_attempts(monkeypatch):
    """Record and fail every socket connection the test did not allow.

    Only loopback ports in `allowed_ports` connect: the suite's PostgreSQL
    and Redis, and the test servers a test adds.
    """
    log = ConnectionLog()
    real_connect = socket.socket.connect

    def connect(sock, address):
        if address[0] in {"127.0.0.1", "::1"} and address[1] in log.allowed_ports:
            return real_connect(sock, address)
        log.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", connect)
    return log


@pytest.fixture(scope="session")
def pki():
    """A test CA and server certificates it issued."""
    ca = make_ca()
    names = ["127.0.0.1", REGISTRY_NAME]
    return SimpleNamespace(
        ca=ca,
        good=make_server_cert(ca, names),
        expired=make_server_cert(ca, names, expired=True),
        other_name=make_server_cert(ca, ["other.gimlet.test"]),
        other_ca=make_ca("Another test CA"),
    )


@pytest.fixture
def tls_server(pki):
    """A FakeServer on https with a certificate from the test CA."""
    with FakeServer(pki.good) as server:
        yield server


@pytest.fixture
def http_server():
    with FakeServer() as server:
        yield server


def _start_htpasswd_registry(folder, identity):
    require_server("docker-registry (CNCF distribution)", registry_available())
    auth = htpasswd_auth(folder, REGISTRY_LOGIN, REGISTRY_PASSWORD)
    return DistributionRegistry(folder, identity, auth).start()


@pytest.fixture(scope="session")
def htpasswd_registry(tmp_path_factory, pki):
    """The real registry with bcrypt htpasswd auth and a valid certificate."""
    server = _start_htpasswd_registry(tmp_path_factory.mktemp("htpasswd"), pki.good)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def expired_registry(tmp_path_factory, pki):
    server = _start_htpasswd_registry(tmp_path_factory.mktemp("expired"), pki.expired)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mismatched_registry(tmp_path_factory, pki):
    """The real registry with a certificate for another host name."""
    folder = tmp_path_factory.mktemp("mismatched")
    server = _start_htpasswd_registry(folder, pki.other_name)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_server(pki):
    """A Bearer token server on https, on its own port."""
    server = TokenServer(
        login=REGISTRY_LOGIN,
        password=REGISTRY_PASSWORD,
        service=TOKEN_SERVICE,
        issuer=TOKEN_ISSUER,
        identity=pki.good,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_token_server(token_server):
    """The session's token server, with its request log and switches reset."""
    token_server.requests.clear()
    token_server.reject_all = False
    yield token_server
    token_server.reject_all = False


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory, pki, token_server):
    """The real registry with token auth; its realm is the token server."""
    require_server("docker-registry (CNCF distribution)", registry_available())
    folder = tmp_path_factory.mktemp("token")
    auth = token_auth(folder, token_server, f"{token_server.url}/token")
    server = DistributionRegistry(folder, pki.good, auth).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plain_token_server():
    """A token server on plain http, for realm downgrade cases."""
    server = TokenServer(
        login=REGISTRY_LOGIN,
        password=REGISTRY_PASSWORD,
        service=TOKEN_SERVICE,
        issuer=TOKEN_ISSUER,
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def downgrading_registry(tmp_path_factory, pki, plain_token_server):
    """The real registry on https whose token realm is on plain http."""
    require_server("docker-registry (CNCF distribution)", registry_available())
    folder = tmp_path_factory.mktemp("downgrade")
    realm = f"{plain_token_server.url}/token"
    auth = token_auth(folder, plain_token_server, realm)
    server = DistributionRegistry(folder, pki.good, auth).start()
    yield server
    server.stop()
