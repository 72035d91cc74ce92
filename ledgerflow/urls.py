from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from ledgerflow import health, problem_docs, problems

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("ledger.urls")),
    path("", include("reporting.urls")),
    path("", include("orders.urls")),
    path("", include("webhooks.urls")),
]

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", health.metrics, name="metrics"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # Where problem+json `type` URIs point: every error code explained.
    path("docs/problems/", problem_docs.problem_index, name="problem-docs"),
    path("docs/problems/<slug:code>", problem_docs.problem_detail, name="problem-doc"),
    path("admin/", admin.site.urls),
    # Unknown API paths answer problem+json even with DEBUG on (handler404 needs DEBUG off).
    re_path(r"^api/", problems.api_not_found),
]

handler400 = "ledgerflow.problems.bad_request_view"
handler403 = "ledgerflow.problems.permission_denied_view"
handler404 = "ledgerflow.problems.not_found_view"
handler500 = "ledgerflow.problems.server_error_view"
