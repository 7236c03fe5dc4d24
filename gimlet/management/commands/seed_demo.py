"""Create a demo tenant, its environments and users, once."""

import os
import secrets
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from environments.models import Environment
from environments.services import environment_create
from gimlet.models import Membership, Role, Tenant
from gimlet.services import membership_add, tenant_create
from registries.models import Kind, Registry
from registries.services import registry_create

DEMO_ENVIRONMENTS = ("staging", "production")


def demo_ca_certificate(*, days):
    """Return a PEM self-signed CA certificate valid for `days` more days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gimlet demo CA")])
    now = timezone.now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


class Command(BaseCommand):
    help = (
        "Create the demo tenant with two environments and a builtin registry, "
        "a superuser and a tenant-admin staff user. Passwords come from "
        "GIMLET_DEMO_ADMIN_PASSWORD and GIMLET_DEMO_TENANT_ADMIN_PASSWORD, or "
        "are generated and printed once. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument("--tenant-admin-username", default="demo-admin")

    @scopes_disabled()
    @transaction.atomic
    def handle(self, *args, admin_username, tenant_admin_username, **options):
        superuser = self.ensure_user(
            admin_username, "GIMLET_DEMO_ADMIN_PASSWORD", superuser=True
        )
        tenant = Tenant.objects.filter(slug="demo").first() or tenant_create(
            actor=superuser, name="Demo", slug="demo"
        )
        tenant_admin = self.ensure_user(
            tenant_admin_username, "GIMLET_DEMO_TENANT_ADMIN_PASSWORD", superuser=False
        )
        if not Membership.objects.filter(tenant=tenant, user=tenant_admin).exists():
            membership_add(
                tenant=tenant, actor=superuser, user=tenant_admin, role=Role.ADMIN
            )
        for name in DEMO_ENVIRONMENTS:
            environment = Environment.objects.filter(tenant=tenant, name=name).first()
            if environment is None:
                environment = environment_create(
                    tenant=tenant, actor=superuser, name=name
                )
            if not Registry.objects.filter(environment=environment).exists():
                registry_create(
                    environment=environment, actor=superuser, kind=Kind.BUILTIN
                )
        self.ensure_custom_registry(tenant, superuser)
        self.stdout.write(f"Demo tenant {tenant.slug!r} is ready.")

    def ensure_custom_registry(self, tenant, actor):
        """Add a custom registry whose made-up CA and token expire soon.

        It shows expiry countdowns, the dashboard timeline and an alert
        email. Its host name ends in .invalid, which never resolves, so its
        checks stay unreachable and send nothing anywhere.
        """
        environment = Environment.objects.get(tenant=tenant, name="staging")
        if Registry.objects.filter(
            environment=environment, name="demo-custom"
        ).exists():
            return
        registry_create(
            environment=environment,
            actor=actor,
            kind=Kind.CUSTOM,
            name="demo-custom",
            url="https://registry.demo.invalid",
            login="demo",
            token="demo-" + secrets.token_urlsafe(18),
            certificate=demo_ca_certificate(days=10),
            expires_at=timezone.now() + timedelta(days=20),
        )

    def ensure_user(self, username, password_variable, *, superuser):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None:
            self.stdout.write(f"User {username!r} exists; its password is unchanged.")
            return user
        password = os.environ.get(password_variable) or secrets.token_urlsafe(12)
        create = (
            User.objects.create_superuser if superuser else User.objects.create_user
        )
        user = create(
            username=username, email=f"{username}@localhost", password=password
        )
        if not superuser:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        role = "superuser" if superuser else "tenant admin (staff)"
        if os.environ.get(password_variable):
            self.stdout.write(f"Created {role} {username!r} with ${password_variable}.")
        else:
            self.stdout.write(
                f"Created {role} {username!r} with password: {password}  "
                "(shown once; set it again with `manage.py changepassword`)"
            )
        return user
