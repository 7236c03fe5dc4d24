"""factory_boy factories; tokens are made up but of the right format."""

import secrets
import string
from datetime import UTC, datetime, timedelta

import factory
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth import get_user_model

from environments.models import Environment
from gimlet.models import Membership, Role, Tenant
from registries.models import Kind, Registry


def github_token():
    alphabet = string.ascii_letters + string.digits
    return "ghp_" + "".join(secrets.choice(alphabet) for _ in range(36))


def dockerhub_token():
    return "dckr_pat_" + secrets.token_urlsafe(20)[:27]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.ADMIN


class EnvironmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Environment

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"env-{n}")


class RegistryFactory(factory.django.DjangoModelFactory):
    """A builtin registry by default; traits give the other kinds."""

    class Meta:
        model = Registry

    environment = factory.SubFactory(EnvironmentFactory)
    kind = Kind.BUILTIN
    url = "127.0.0.1:32447"

    class Params:
        ghcr = factory.Trait(
            kind=Kind.GHCR,
            url="ghcr.io",
            login=factory.Sequence(lambda n: f"octocat{n}"),
            token=factory.LazyFunction(github_token),
        )
        dockerhub = factory.Trait(
            kind=Kind.DOCKERHUB,
            url="https://index.docker.io/v1/",
            login=factory.Sequence(lambda n: f"dockeruser{n}"),
            token=factory.LazyFunction(dockerhub_token),
        )
        custom = factory.Trait(
            kind=Kind.CUSTOM,
            url="https://registry.example.test",
            login="robot",
            token=factory.LazyFunction(lambda: secrets.token_urlsafe(24)),
        )


def self_signed_ca(common_name="Gimlet Test CA", *, valid_days=365):
    """Make a self-signed CA certificate and return it with its private key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    # X.509 validity has whole seconds; drop microseconds so that the dates
    # compare equal after a round trip through the certificate.
    now = datetime.now(UTC).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def certificate_pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
