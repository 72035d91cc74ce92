from django.urls import path

from reporting import apis

urlpatterns = [
    path(
        "accounts/<str:account_id>/snapshots",
        apis.SnapshotListApi.as_view(),
        name="account-snapshots",
    ),
    path(
        "accounts/<str:account_id>/summary",
        apis.AccountSummaryApi.as_view(),
        name="account-summary",
    ),
    path("exports", apis.ExportCreateApi.as_view(), name="exports"),
    path("exports/<str:export_id>", apis.ExportDetailApi.as_view(), name="export-detail"),
    path(
        "exports/<str:export_id>/download",
        apis.ExportDownloadApi.as_view(),
        name="export-download",
    ),
]
