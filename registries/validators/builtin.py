"""The built-in registry, which takes no credentials."""

from registries.models import Kind, Status
from registries.validators.base import CheckResult, Validator


class BuiltinValidator(Validator):
    kind = Kind.BUILTIN

    def run(self, registry):
        # The built-in registry is reached from inside the cluster, not from
        # this service, and stores no login or token, so nothing is sent.
        return CheckResult(
            status=Status.UNCHECKED,
            message="The built-in registry takes no credentials, so there is "
            "nothing to check.",
        )
