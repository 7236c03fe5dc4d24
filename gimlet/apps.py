from django.apps import AppConfig


class GimletConfig(AppConfig):
    name = "gimlet"
    verbose_name = "Tenancy"

    def ready(self):
        # Registers the stored-secrets system check.
        from gimlet import checks  # noqa: F401
