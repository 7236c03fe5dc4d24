"""JSON responses for API requests that no DRF view handles.

DRF reports errors inside its views in JSON. A path under /api/ that no
route matches, a request that Django rejects before routing (a Host header
outside ALLOWED_HOSTS) and a failure in middleware would get Django's HTML
pages instead, which an API client cannot read.
"""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults

API_PREFIX = "/api/"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_api_request(request):
    return request.path_info.startswith(API_PREFIX)


def _with_slash_resolves(path):
    try:
        match = resolve(f"{path}/")
    except Resolver404:
        return False
    return match.func is not api_not_found


def api_not_found(request, unmatched=""):
    """Respond to a path under /api/v1/ that no route matches.

    API paths end with a slash. A read without it is redirected, as
    Django's APPEND_SLASH does. A write is not: clients resend a redirected
    POST as a GET, and the write would be lost. It gets a 404 that names
    the path to use instead.
    """
    path = request.path_info
    if not path.endswith("/") and _with_slash_resolves(path):
        if request.method in SAFE_METHODS:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(
                f"{path}/" + (f"?{query}" if query else "")
            )
        return JsonResponse(
            {"detail": f"Not found. API paths end with a slash: {path}/"},
            status=404,
        )
    return JsonResponse({"detail": "Not found."}, status=404)


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    if is_api_request(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if is_api_request(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    if is_api_request(request):
        return JsonResponse(
            {"detail": "Server error. The server log has the details."}, status=500
        )
    return defaults.server_error(request, template_name)
