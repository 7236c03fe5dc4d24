"""REST API routes under /api/v1/: one router for every viewset."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from environments.api.views import EnvironmentViewSet, ImageSettingsViewSet
from gimlet.api.errors import api_not_found
from gimlet.api.views import AuthTokenView, MembershipViewSet, TenantViewSet
from registries.api.views import RegistryViewSet


class Router(DefaultRouter):
    # No format suffixes (.json): ?format= does the same, and user names in
    # member URLs may contain periods.
    include_format_suffixes = False


router = Router()
router.register("tenants", TenantViewSet, basename="tenant")
router.register(
    r"tenants/(?P<tenant_slug>[^/]+)/members", MembershipViewSet, basename="member"
)
router.register("environments", EnvironmentViewSet, basename="environment")
router.register("registries", RegistryViewSet, basename="registry")
router.register("image-settings", ImageSettingsViewSet, basename="imagesettings")

urlpatterns = [
    path("auth/token/", AuthTokenView.as_view(), name="auth-token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *router.urls,
    # Last: any other path under /api/v1/ gets a JSON 404.
    re_path(r"^(?P<unmatched>.*)$", api_not_found),
]
