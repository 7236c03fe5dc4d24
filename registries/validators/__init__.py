"""One validator per registry kind, behind the interface in `base`."""

from registries.models import Kind
from registries.validators.base import CheckResult, Validator
from registries.validators.builtin import BuiltinValidator
from registries.validators.custom import CustomValidator
from registries.validators.dockerhub import DockerHubValidator
from registries.validators.github import GitHubValidator

VALIDATORS = {
    Kind.BUILTIN: BuiltinValidator(),
    Kind.GHCR: GitHubValidator(),
    Kind.DOCKERHUB: DockerHubValidator(),
    Kind.CUSTOM: CustomValidator(),
}


def validator_for(kind):
    """Return the validator for a registry kind; raise KeyError if unknown."""
    return VALIDATORS[kind]


__all__ = ["VALIDATORS", "CheckResult", "Validator", "validator_for"]
