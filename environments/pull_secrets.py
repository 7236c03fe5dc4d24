"""Image pull secrets: an environment's credentials in Docker's config format.

The `.dockerconfigjson` format is Docker's `config.json` with only the
`auths` map: one entry per registry host with `username`, `password` and
`auth` (base64 of "username:password"), as kubelet and `docker login`
read it. Kubernetes stores it in a Secret of type
`kubernetes.io/dockerconfigjson` under the key `.dockerconfigjson`
("Pull an Image from a Private Registry", Kubernetes documentation).
"""

import base64
import json

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from gimlet.audit import audit_event_record
from gimlet.models import AuditAction
from registries.inputs import DOCKERHUB_URL
from registries.models import Kind, Registry, Status

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
SECRET_KEY = ".dockerconfigjson"
FORMAT_DOCKERCONFIG = "dockerconfigjson"
FORMAT_KUBERNETES = "kubernetes-secret"


def auth_key(registry):
    """Return the `auths` key under which Docker and kubelet look up a host.

    Docker Hub credentials live under Docker's historical index URL; every
    other registry under its host, with the path prefix of a custom URL
    (kubelet matches keys with paths as prefixes of the image name).
    """
    if registry.kind == Kind.DOCKERHUB:
        return DOCKERHUB_URL
    return registry.host


def _b64(text):
    return base64.b64encode(text.encode()).decode("ascii")


def one_per_host(registries):
    """Pick one registry per `auths` key: a valid one, else the first by name.

    A Docker config has one entry per host, so two credentials for the same
    host cannot both be exported.
    """
    chosen = {}
    ranked = sorted(registries, key=lambda r: (r.status != Status.VALID, r.name))
    for registry in ranked:
        chosen.setdefault(auth_key(registry), registry)
    return chosen


@sensitive_variables("auths")
def docker_config(registries):
    """Build {"auths": {...}} from registries that have a login and token."""
    auths = {}
    for key, registry in one_per_host(registries).items():
        auths[key] = {
            "username": registry.login,
            "password": registry.token,
            "auth": _b64(f"{registry.login}:{registry.token}"),
        }
    return {"auths": auths}


@sensitive_variables("config", "payload")
def kubernetes_secret(environment, config):
    """Wrap a Docker config in a Kubernetes Secret manifest."""
    payload = json.dumps(config, separators=(",", ":"), sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"{environment.name}-pull-secret",
            "labels": {"app.kubernetes.io/managed-by": "gimlet-registries"},
        },
        "type": SECRET_TYPE,
        "data": {SECRET_KEY: _b64(payload)},
    }


def credential_registries(environment):
    """Return the environment's registries with a login and a token."""
    return (
        Registry.objects.filter(environment=environment, token__isnull=False)
        .exclude(login="")
        .order_by("name")
    )


@sensitive_variables("config")
@transaction.atomic
def pull_secret_export(*, environment, actor, output_format=FORMAT_DOCKERCONFIG):
    """Return the environment's pull secret and record who exported it.

    `output_format` is FORMAT_DOCKERCONFIG for the bare `{"auths": ...}`
    document or FORMAT_KUBERNETES for a Secret manifest around it. The
    audit event names the registries, never a secret.
    """
    if output_format not in (FORMAT_DOCKERCONFIG, FORMAT_KUBERNETES):
        raise ValueError(f"unknown pull secret format {output_format!r}")
    registries = one_per_host(credential_registries(environment)).values()
    config = docker_config(registries)
    audit_event_record(
        tenant=environment.tenant,
        actor=actor,
        action=AuditAction.EXPORT,
        target=environment,
        changes={
            "format": output_format,
            "registries": sorted(registry.name for registry in registries),
        },
    )
    if output_format == FORMAT_KUBERNETES:
        return kubernetes_secret(environment, config)
    return config
