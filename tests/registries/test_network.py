"""The outbound network policy: address guard, limits, redirects, CA files.

No test here reaches a host other than 127.0.0.1. Names resolve from a
table (fake_dns), and every socket connection outside loopback fails the
test (connection_attempts), so a refusal is proven to come before any
connection is made.
"""

import os
import socket
import stat
import threading
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from registries import http
from registries.http import (
    BlockedAddressError,
    NetworkError,
    RedirectError,
    ResponseTooLargeError,
    TLSError,
    forbidden_reason,
    outbound_client,
)
from registries.models import Status
from registries.validators import validator_for
from tests.factories import RegistryFactory
from tests.registries.conftest import REGISTRY_NAME
from tests.servers import FakeServer, Reply

pytestmark = pytest.mark.usefixtures("fake_dns")

SSRF_CORPUS = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://[::ffff:127.0.0.1]/",
    "http://loopback.gimlet.test/",
]


@pytest.fixture
def loopback_name(fake_dns):
    fake_dns.table["loopback.gimlet.test"] = ["127.0.0.1"]


def get(url, **kwargs):
    with outbound_client() as client:
        return client.get(url, **kwargs)


@pytest.mark.usefixtures("loopback_name")
class TestSSRFCorpus:
    @pytest.mark.parametrize("url", SSRF_CORPUS)
    def test_refused_before_connecting(self, url, connection_attempts):
        with pytest.raises(BlockedAddressError):
            get(url)

        assert connection_attempts == []

    @pytest.mark.parametrize("url", SSRF_CORPUS)
    def test_custom_registry_is_config_error(self, url, connection_attempts, db):
        registry = RegistryFactory(custom=True, url=url.replace("http:", "https:"))

        result = validator_for(registry.kind).validate(registry)

        assert result.status == Status.CONFIG_ERROR
        assert "GIMLET_REGISTRY_ALLOWED_NETWORKS" in result.message
        assert connection_attempts == []

    def test_message_names_resolved_address(self, connection_attempts):
        with pytest.raises(BlockedAddressError) as caught:
            get("http://loopback.gimlet.test/")

        assert "loopback.gimlet.test resolves to 127.0.0.1" in str(caught.value)
        assert "loopback" in str(caught.value)

    def test_mixed_public_and_private_answer_is_refused(
        self, fake_dns, connection_attempts
    ):
        fake_dns.table["mixed.gimlet.test"] = ["93.184.215.14", "10.1.2.3"]

        with pytest.raises(BlockedAddressError):
            get("http://mixed.gimlet.test/")

        assert connection_attempts == []


class TestForbiddenReason:
    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "::1",
            "::",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "169.254.1.1",
            "fd00:ec2::254",
            "fe80::1",
            "fc00::1",
            "224.0.0.1",
            "ff02::1",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
        ],
    )
    def test_non_public_addresses(self, address):
        assert forbidden_reason(address) is not None

    @pytest.mark.parametrize(
        "address", ["93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8"]
    )
    def test_public_addresses(self, address):
        assert forbidden_reason(address) is None

    def test_mapped_loopback_is_named_loopback(self):
        assert forbidden_reason("::ffff:127.0.0.1") == "a loopback address"


class TestAllowlist:
    @pytest.mark.usefixtures("allow_loopback")
    def test_allowlisted_loopback_works(self, http_server):
        http_server.routes["/"] = Reply(200, body="hello")

        response = get(f"{http_server.url}/")

        assert response.status == 200
        assert response.body == b"hello"

    @pytest.mark.usefixtures("allow_loopback")
    def test_allowlisted_name_resolving_to_loopback_works(self, http_server, fake_dns):
        fake_dns.table["loopback.gimlet.test"] = ["127.0.0.1"]
        http_server.routes["/"] = Reply(200, body="hello")

        response = get(f"http://loopback.gimlet.test:{http_server.port}/")

        assert response.status == 200

    def test_only_listed_network_is_allowed(self, settings, connection_attempts):
        settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = ["10.20.0.0/16"]

        assert forbidden_reason("10.20.1.1") is None
        assert forbidden_reason("10.21.1.1") == "a private address"

    @pytest.mark.parametrize(
        "networks",
        [
            ["169.254.0.0/16"],
            ["169.254.169.254/32"],
            ["0.0.0.0/0"],
            ["::/0"],
            ["fd00:ec2::/32"],
            ["0.0.0.0/0", "::/0"],
        ],
    )
    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
        ],
    )
    def test_metadata_stays_refused(self, settings, connection_attempts, networks, url):
        settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = networks

        with pytest.raises(BlockedAddressError, match="metadata"):
            get(url)

        assert connection_attempts == []

    def test_invalid_cidr_is_a_configuration_error(self, settings):
        settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = ["10.0.0.0/33"]

        with pytest.raises(ImproperlyConfigured, match="10.0.0.0/33"):
            forbidden_reason("10.0.0.1")


class TestResolveOnce:
    def test_connects_to_the_checked_address(self, settings, http_server, fake_dns):
        """A rebinding name cannot swap in a forbidden address after the check."""
        settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
        fake_dns.table["rebinding.gimlet.test"] = lambda: next(answers)
        http_server.routes["/"] = Reply(200, body="ok")

        response = get(f"http://rebinding.gimlet.test:{http_server.port}/")

        assert response.status == 200
        assert fake_dns.lookups == ["rebinding.gimlet.test"]
        assert (
            http_server.requests[0].headers["host"].startswith("rebinding.gimlet.test")
        )

    @pytest.mark.usefixtures("allow_loopback")
    def test_tls_verifies_the_host_name(self, pki, fake_dns):
        fake_dns.table[REGISTRY_NAME] = ["127.0.0.1"]
        with (
            FakeServer(pki.good) as server,
            outbound_client(ca_pem=pki.ca.cert_pem) as client,
        ):
            server.routes["/"] = Reply(200, body="ok")

            response = client.get(f"https://{REGISTRY_NAME}:{server.port}/")

        assert response.status == 200

    @pytest.mark.usefixtures("allow_loopback")
    def test_tls_rejects_other_host_name(self, pki, fake_dns):
        fake_dns.table["elsewhere.gimlet.test"] = ["127.0.0.1"]
        with (
            FakeServer(pki.good) as server,
            outbound_client(ca_pem=pki.ca.cert_pem) as client,
        ):
            with pytest.raises(TLSError, match="name mismatch"):
                client.get(f"https://elsewhere.gimlet.test:{server.port}/")


@pytest.mark.usefixtures("allow_loopback")
class TestRedirects:
    def test_redirects_are_followed_by_hand(self, http_server):
        http_server.routes["/old"] = Reply(302, {"Location": "/new"})
        http_server.routes["/new"] = Reply(200, body="moved")

        response = get(f"{http_server.url}/old")

        assert response.body == b"moved"
        assert [r.path for r in http_server.requests] == ["/old", "/new"]

    def test_redirect_to_loopback_is_refused(
        self, http_server, settings, connection_attempts
    ):
        """A trusted base URL skips the guard, but its redirects do not."""
        settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = []
        connection_attempts.allowed_ports.add(http_server.port)
        http_server.routes["/user"] = Reply(
            302, {"Location": "http://127.0.0.1:9/internal"}
        )

        with pytest.raises(BlockedAddressError):
            get(f"{http_server.url}/user", trusted=True)

        assert connection_attempts == []

    def test_redirect_to_metadata_is_refused(self, http_server, connection_attempts):
        connection_attempts.allowed_ports.add(http_server.port)
        http_server.routes["/v2/"] = Reply(
            307, {"Location": "http://169.254.169.254/latest/meta-data/"}
        )

        with pytest.raises(BlockedAddressError, match="metadata"):
            get(f"{http_server.url}/v2/")

        assert connection_attempts == []

    def test_https_to_http_redirect_is_refused(self, tls_server, pki):
        tls_server.routes["/"] = Reply(301, {"Location": "http://127.0.0.1/"})

        with outbound_client(ca_pem=pki.ca.cert_pem) as client:
            with pytest.raises(RedirectError, match="drops https"):
                client.get(f"{tls_server.url}/")

    def test_redirect_loop_ends(self, http_server):
        http_server.routes["/loop"] = Reply(302, {"Location": "/loop"})

        with pytest.raises(RedirectError, match="More than 5 redirects"):
            get(f"{http_server.url}/loop")

        assert len(http_server.requests) == 6

    def test_cross_origin_redirect_drops_credentials(self, http_server):
        with FakeServer() as other:
            other.routes["/landing"] = Reply(200, body="ok")
            http_server.routes["/start"] = Reply(
                302, {"Location": f"{other.url}/landing"}
            )

            get(
                f"{http_server.url}/start",
                auth=("robot", "password-1"),
                headers={"Authorization": "Bearer abc"},
            )

            assert "authorization" in http_server.requests[0].headers
            assert "authorization" not in other.requests[0].headers

    def test_same_origin_redirect_keeps_credentials(self, http_server):
        http_server.routes["/start"] = Reply(302, {"Location": "/landing"})
        http_server.routes["/landing"] = Reply(200, body="ok")

        get(f"{http_server.url}/start", auth=("robot", "password-1"))

        assert "authorization" in http_server.requests[1].headers


class TestTrustedBaseUrl:
    def test_trusted_url_skips_guard(self, http_server):
        http_server.routes["/user"] = Reply(200, body="{}")

        with outbound_client() as client:
            response = client.get(f"{http_server.url}/user", trusted=True)

        assert response.status == 200

    def test_untrusted_loopback_is_refused(self, http_server):
        with pytest.raises(BlockedAddressError):
            get(f"{http_server.url}/user")

        assert http_server.requests == []


@pytest.mark.usefixtures("allow_loopback")
class TestLimits:
    def test_body_over_cap_is_refused(self, http_server, settings):
        settings.GIMLET_MAX_RESPONSE_BYTES = 1024
        http_server.routes["/big"] = Reply(200, body=b"x" * 4096)

        with pytest.raises(ResponseTooLargeError):
            get(f"{http_server.url}/big")

    def test_body_at_cap_is_read(self, http_server, settings):
        settings.GIMLET_MAX_RESPONSE_BYTES = 1024
        http_server.routes["/exact"] = Reply(200, body=b"x" * 1024)

        assert len(get(f"{http_server.url}/exact").body) == 1024

    def test_default_cap_is_one_mebibyte(self, settings):
        assert settings.GIMLET_MAX_RESPONSE_BYTES == 1024 * 1024

    def test_default_timeouts(self, settings):
        assert settings.GIMLET_CONNECT_TIMEOUT == 5.0
        assert settings.GIMLET_READ_TIMEOUT == 10.0

    def test_silent_server_times_out(self, settings):
        settings.GIMLET_READ_TIMEOUT = 0.3
        with SilentServer() as server:
            started = time.monotonic()
            with pytest.raises(NetworkError, match="no response within 0.3 s"):
                get(f"http://127.0.0.1:{server.port}/")

        assert time.monotonic() - started < 5

    def test_refused_connection_is_network_error(self):
        port = _closed_port()

        with pytest.raises(NetworkError, match="refused"):
            get(f"http://127.0.0.1:{port}/")

    def test_unknown_name_is_network_error(self):
        with pytest.raises(NetworkError, match="Could not resolve"):
            get("http://unknown.gimlet.test/")


class SilentServer:
    """Accept connections on loopback and never send a response."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.accepted = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(connection)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        self.thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()
        self.listener.close()


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.usefixtures("allow_loopback")
class TestStoredCA:
    def test_ca_file_is_private_and_removed(self, tls_server, pki, monkeypatch):
        seen = {}
        real_mkstemp = http.tempfile.mkstemp

        def mkstemp(*args, **kwargs):
            descriptor, path = real_mkstemp(*args, **kwargs)
            seen["path"] = path
            return descriptor, path

        monkeypatch.setattr(http.tempfile, "mkstemp", mkstemp)

        def inspect(handler):
            seen["mode"] = stat.S_IMODE(os.stat(seen["path"]).st_mode)
            with open(seen["path"]) as handle:
                seen["content"] = handle.read()
            return Reply(200, body="ok")

        tls_server.routes["/"] = inspect

        with outbound_client(ca_pem=pki.ca.cert_pem) as client:
            client.get(f"{tls_server.url}/")

        assert seen["mode"] == 0o600
        assert seen["content"] == pki.ca.cert_pem
        assert not os.path.exists(seen["path"])

    def test_ca_file_is_removed_after_error(self, pki, monkeypatch):
        seen = {}
        real_mkstemp = http.tempfile.mkstemp

        def mkstemp(*args, **kwargs):
            descriptor, path = real_mkstemp(*args, **kwargs)
            seen["path"] = path
            return descriptor, path

        monkeypatch.setattr(http.tempfile, "mkstemp", mkstemp)

        with pytest.raises(NetworkError):
            with outbound_client(ca_pem=pki.ca.cert_pem) as client:
                client.get(f"https://127.0.0.1:{_closed_port()}/")

        assert not os.path.exists(seen["path"])

    def test_pools_using_the_file_are_closed(self, tls_server, pki):
        tls_server.routes["/"] = Reply(200, body="ok")

        with outbound_client(ca_pem=pki.ca.cert_pem) as client:
            client.get(f"{tls_server.url}/")
            path = client.ca_file

        pools = http.sessions.adapter(True).poolmanager.pools
        assert all(getattr(key, "key_ca_certs", None) != path for key in pools.keys())

    def test_without_ca_public_roots_reject_test_ca(self, tls_server):
        with pytest.raises(TLSError, match="unknown authority"):
            get(f"{tls_server.url}/")


@pytest.mark.usefixtures("allow_loopback")
class TestEnvironmentIgnored:
    def test_proxy_variables_are_ignored(self, http_server, monkeypatch):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{_closed_port()}")
        http_server.routes["/"] = Reply(200, body="direct")

        response = get(f"{http_server.url}/")

        assert response.body == b"direct"

    def test_ca_bundle_variables_cannot_add_trust(
        self, tls_server, pki, tmp_path, monkeypatch
    ):
        bundle = tmp_path / "bundle.pem"
        bundle.write_text(pki.ca.cert_pem)
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.setenv(name, str(bundle))
        tls_server.routes["/"] = Reply(200, body="ok")

        with pytest.raises(TLSError, match="unknown authority"):
            get(f"{tls_server.url}/")

    def test_ca_bundle_variables_cannot_replace_stored_ca(
        self, tls_server, pki, tmp_path, monkeypatch
    ):
        bundle = tmp_path / "bundle.pem"
        bundle.write_text(pki.other_ca.cert_pem)
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.setenv(name, str(bundle))
        tls_server.routes["/"] = Reply(200, body="ok")

        with outbound_client(ca_pem=pki.ca.cert_pem) as client:
            response = client.get(f"{tls_server.url}/")

        assert response.status == 200

    def test_sessions_do_not_trust_environment(self):
        assert http.sessions.session(True).trust_env is False
        assert http.sessions.session(False).trust_env is False


@pytest.mark.usefixtures("allow_loopback")
class TestPooling:
    def test_connections_are_reused_per_host(self, http_server):
        ports = []

        def remember(handler):
            ports.append(handler.client_address[1])
            return Reply(200, body="ok")

        http_server.routes["/"] = remember

        get(f"{http_server.url}/")
        get(f"{http_server.url}/")

        assert len(ports) == 2
        assert ports[0] == ports[1]

    def test_cookies_are_not_kept(self, http_server):
        http_server.routes["/set"] = Reply(200, {"Set-Cookie": "session=abc; Path=/"})
        http_server.routes["/next"] = Reply(200, body="ok")

        get(f"{http_server.url}/set")
        get(f"{http_server.url}/next")

        assert "cookie" not in http_server.requests[1].headers


def test_bearer_realm_at_metadata_is_refused(db, pki, connection_attempts, settings):
    settings.GIMLET_REGISTRY_ALLOWED_NETWORKS = ["127.0.0.0/8", "169.254.0.0/16"]
    with FakeServer(pki.good) as server:
        connection_attempts.allowed_ports.add(server.port)
        server.routes["/v2/"] = Reply(
            401,
            {
                "Docker-Distribution-API-Version": "registry/2.0",
                "WWW-Authenticate": 'Bearer realm="https://169.254.169.254/token",'
                'service="x"',
            },
        )
        registry = RegistryFactory(
            custom=True, url=server.url, certificate=pki.ca.cert_pem
        )

        result = validator_for(registry.kind).validate(registry)

    assert result.status == Status.CONFIG_ERROR
    assert "metadata" in result.message
    assert connection_attempts == []
    assert [request.path for request in server.requests] == ["/v2/"]
