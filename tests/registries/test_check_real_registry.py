"""Checks against the real CNCF distribution registry on loopback.

The registry (Debian's docker-registry) runs with bcrypt htpasswd or token
authentication and certificates the tests generate.
"""

import pytest

from registries.checking import registry_check
from registries.models import Check, Status, Trigger
from tests.factories import RegistryFactory
from tests.registries.conftest import (
    REGISTRY_LOGIN,
    REGISTRY_NAME,
    REGISTRY_PASSWORD,
)

pytestmark = [pytest.mark.django_db, pytest.mark.server]


def custom_registry(server, *, token=REGISTRY_PASSWORD, certificate=None, url=None):
    return RegistryFactory(
        custom=True,
        url=url or server.url,
        login=REGISTRY_LOGIN,
        token=token,
        certificate=certificate,
    )


def check(registry):
    registry_check(registry_id=registry.pk, trigger=Trigger.MANUAL)
    registry.refresh_from_db()
    return registry


@pytest.mark.usefixtures("allow_loopback")
class TestBasicAuth:
    def test_right_password_is_valid(self, htpasswd_registry, pki):
        registry = check(
            custom_registry(htpasswd_registry, certificate=pki.ca.cert_pem)
        )

        assert registry.status == Status.VALID
        assert registry.last_valid_at is not None
        assert Check.objects.get(registry=registry).http_status == 200

    def test_wrong_password_is_invalid(self, htpasswd_registry, pki):
        registry = check(
            custom_registry(
                htpasswd_registry, token="wrong-password-1", certificate=pki.ca.cert_pem
            )
        )

        assert registry.status == Status.INVALID
        assert registry.last_valid_at is None
        assert Check.objects.get(registry=registry).http_status == 401


@pytest.mark.usefixtures("allow_loopback")
class TestTLS:
    def test_no_ca_stored_is_unknown_authority(self, htpasswd_registry):
        registry = check(custom_registry(htpasswd_registry))

        assert registry.status == Status.TLS_ERROR
        assert "unknown authority" in registry.status_message
        assert "127.0.0.1" in registry.status_message

    def test_another_ca_stored_is_unknown_authority(self, htpasswd_registry, pki):
        registry = check(
            custom_registry(htpasswd_registry, certificate=pki.other_ca.cert_pem)
        )

        assert registry.status == Status.TLS_ERROR
        assert "unknown authority" in registry.status_message

    def test_ca_stored_is_valid(self, htpasswd_registry, pki):
        registry = check(
            custom_registry(htpasswd_registry, certificate=pki.ca.cert_pem)
        )

        assert registry.status == Status.VALID

    def test_expired_certificate_names_expiry(self, expired_registry, pki):
        registry = check(custom_registry(expired_registry, certificate=pki.ca.cert_pem))

        assert registry.status == Status.TLS_ERROR
        assert "expired" in registry.status_message
        assert "127.0.0.1" in registry.status_message

    def test_name_mismatch_names_host(self, mismatched_registry, pki):
        registry = check(
            custom_registry(mismatched_registry, certificate=pki.ca.cert_pem)
        )

        assert registry.status == Status.TLS_ERROR
        assert "name mismatch" in registry.status_message
        assert "127.0.0.1" in registry.status_message

    def test_host_name_is_verified_at_pinned_address(
        self, htpasswd_registry, pki, fake_dns
    ):
        """The socket goes to the checked address; TLS checks the name."""
        fake_dns.table[REGISTRY_NAME] = ["127.0.0.1"]
        url = f"https://{REGISTRY_NAME}:{htpasswd_registry.port}"

        registry = check(
            custom_registry(htpasswd_registry, url=url, certificate=pki.ca.cert_pem)
        )

        assert registry.status == Status.VALID
        assert fake_dns.lookups == [REGISTRY_NAME] * len(fake_dns.lookups)
        assert len(fake_dns.lookups) >= 1

    def test_host_name_mismatch_names_host(self, mismatched_registry, pki, fake_dns):
        fake_dns.table[REGISTRY_NAME] = ["127.0.0.1"]
        url = f"https://{REGISTRY_NAME}:{mismatched_registry.port}"

        registry = check(
            custom_registry(mismatched_registry, url=url, certificate=pki.ca.cert_pem)
        )

        assert registry.status == Status.TLS_ERROR
        assert f"not valid for {REGISTRY_NAME}" in registry.status_message


@pytest.mark.usefixtures("allow_loopback")
class TestBearerToken:
    def test_token_from_realm_is_valid(self, token_registry, fresh_token_server, pki):
        registry = check(custom_registry(token_registry, certificate=pki.ca.cert_pem))

        assert registry.status == Status.VALID
        assert "accepted the token it issued" in registry.status_message

    def test_realm_gets_service_and_account(
        self, token_registry, fresh_token_server, pki
    ):
        check(custom_registry(token_registry, certificate=pki.ca.cert_pem))

        [request] = fresh_token_server.requests
        assert "service=gimlet-test-registry" in request.path
        assert f"account={REGISTRY_LOGIN}" in request.path
        assert request.headers["authorization"].startswith("Basic ")

    def test_realm_on_another_port_uses_stored_ca(
        self, token_registry, fresh_token_server, pki
    ):
        assert fresh_token_server.port != token_registry.port

        registry = check(custom_registry(token_registry, certificate=pki.ca.cert_pem))

        assert registry.status == Status.VALID
        assert len(fresh_token_server.requests) == 1

    def test_wrong_password_at_realm_is_invalid(
        self, token_registry, fresh_token_server, pki
    ):
        registry = check(
            custom_registry(
                token_registry, token="wrong-password-1", certificate=pki.ca.cert_pem
            )
        )

        assert registry.status == Status.INVALID
        assert registry.status_message.startswith("The token server")

    def test_token_server_answering_401_is_invalid(
        self, token_registry, fresh_token_server, pki
    ):
        fresh_token_server.reject_all = True

        registry = check(custom_registry(token_registry, certificate=pki.ca.cert_pem))

        assert registry.status == Status.INVALID
        assert Check.objects.get(registry=registry).http_status == 401

    def test_realm_downgraded_to_http_gets_no_credentials(
        self, downgrading_registry, plain_token_server, pki
    ):
        plain_token_server.requests.clear()

        registry = check(
            custom_registry(downgrading_registry, certificate=pki.ca.cert_pem)
        )

        assert registry.status == Status.CONFIG_ERROR
        assert "plain http" in registry.status_message
        assert plain_token_server.requests == []
