"""factory_boy factories; tokens are made up but of the right format."""

import secrets
import string

import factory
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
