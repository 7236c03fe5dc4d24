from django.apps import AppConfig


class GimletConfig(AppConfig):
    name = "gimlet"
    verbose_name = "Tenancy"
