from django.contrib import admin
from django.urls import include, path

from gimlet.dashboard import dashboard_view
from gimlet.health import healthz
from gimlet.metrics import metrics_view

urlpatterns = [
    path(
        "admin/dashboard/",
        admin.site.admin_view(dashboard_view),
        name="admin_dashboard",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("gimlet.api_urls")),
    path("metrics", metrics_view, name="metrics"),
    path("healthz", healthz, name="healthz"),
]

handler400 = "gimlet.api.errors.bad_request"
handler404 = "gimlet.api.errors.page_not_found"
handler500 = "gimlet.api.errors.server_error"
