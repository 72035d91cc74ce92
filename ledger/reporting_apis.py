from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import account_for
from ledger import reporting
from ledger.reporting_models import Export
from ledger.reporting_serializers import (
    AccountSummarySerializer,
    BalanceSnapshotSerializer,
    ExportCreateSerializer,
    ExportSerializer,
    SnapshotQuerySerializer,
    SummaryQuerySerializer,
)
from ledgerflow.api import ApiView, parse
from ledgerflow.pagination import NewestFirstCursorPagination
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses

EXAMPLE_EXPORT = {
    "id": "exp_4b1d0c9e8f7a6b5c4d3e2f1a",
    "status": "completed",
    "kind": "entries",
    "account": "acc_1f0c2b5e9a7d4c3b2a1f0e9d",
    "from": "2025-01-01T00:00:00Z",
    "to": "2025-02-01T00:00:00Z",
    "row_count": 1042,
    "error": None,
    "download_url": "https://ledger.example.com/api/v1/exports/exp_4b1d0c9e8f7a6b5c4d3e2f1a/download",
    "created_at": "2025-02-01T08:00:00Z",
    "completed_at": "2025-02-01T08:00:03Z",
}
EXAMPLE_SNAPSHOT = {
    "account": EXAMPLE_EXPORT["account"],
    "balance": "87.50",
    "pending_debits": "12.50",
    "pending_credits": "0.00",
    "taken_at": "2025-01-02T15:00:00Z",
}


class SnapshotPagination(NewestFirstCursorPagination):
    ordering = ("-taken_at", "-id")


class SnapshotListApi(ApiView, generics.ListAPIView):
    serializer_class = BalanceSnapshotSerializer
    pagination_class = SnapshotPagination
    filter_backends: list = []

    def get_queryset(self):
        self.account = account_for(self.request.user, self.kwargs["account_id"])
        query = parse(SnapshotQuerySerializer, self.request, data=self.request.query_params)
        return reporting.snapshots_of(self.account, since=query.get("from"), until=query.get("to"))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "account": self.account}

    @extend_schema(
        operation_id="list_account_snapshots",
        summary="Balance snapshots of an account, newest first",
        description=(
            "Snapshots of one of your accounts (staff: any), written by the `take-snapshots` beat "
            "task whenever the balances changed; filter with [`from`, `to`). Someone else's "
            "account is 404 `not_found`."
        ),
        parameters=[SnapshotQuerySerializer],
        responses={200: BalanceSnapshotSerializer(many=True), **problem_responses(400, 401, 404)},
        examples=[OpenApiExample("A snapshot", response_only=True, value=EXAMPLE_SNAPSHOT)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class AccountSummaryApi(ApiView):
    @extend_schema(
        operation_id="get_account_summary",
        summary="Money in, out and net over a period, by category and by kind",
        description=(
            "Totals of the posted entries of one of your accounts (staff: any) created in "
            "[`from`, `to`); someone else's account is 404 `not_found`. Reads may lag a replica "
            "slightly."
        ),
        parameters=[SummaryQuerySerializer],
        responses={200: AccountSummarySerializer, **problem_responses(400, 401, 404, 422)},
        examples=[
            OpenApiExample(
                "January",
                response_only=True,
                value={
                    "account": "acc_1f0c2b5e9a7d4c3b2a1f0e9d",
                    "asset": "USD",
                    "from": "2025-01-01T00:00:00Z",
                    "to": "2025-02-01T00:00:00Z",
                    "total_in": "100.00",
                    "total_out": "32.50",
                    "net": "67.50",
                    "by_category": [
                        {"category": "", "in": "100.00", "out": "0.00", "net": "100.00"},
                        {"category": "food", "in": "0.00", "out": "32.50", "net": "-32.50"},
                    ],
                    "by_kind": [
                        {"kind": "deposit", "in": "100.00", "out": "0.00", "net": "100.00"},
                        {"kind": "transfer", "in": "0.00", "out": "32.50", "net": "-32.50"},
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, account_id: str) -> Response:
        account = account_for(request.user, account_id)
        query = parse(SummaryQuerySerializer, request, data=request.query_params)
        summary = reporting.summary_of(account, since=query.get("from"), until=query.get("to"))
        return Response(AccountSummarySerializer(summary).data)


def _export_response(request: Request, export: Export, status_code: int = 200) -> Response:
    url = request.build_absolute_uri(reverse("export-download", args=[export.public_id]))
    return Response(
        ExportSerializer(export, context={"download_url": url}).data, status=status_code
    )


class ExportCreateApi(ApiView):
    @extend_schema(
        operation_id="create_export",
        summary="Request an asynchronous CSV export of entries or transactions",
        description=(
            "Answers 202 at once; poll `GET /exports/{id}` until `status` is `completed`, then "
            "follow `download_url`. Without `account`, covers all your accounts; naming someone "
            "else's account is 404 `not_found`."
        ),
        request=ExportCreateSerializer,
        responses={202: ExportSerializer, **problem_responses(400, 401, 404, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "January statement",
                request_only=True,
                value={
                    "kind": "entries",
                    "account": EXAMPLE_EXPORT["account"],
                    "from": "2025-01-01T00:00:00Z",
                    "to": "2025-02-01T00:00:00Z",
                },
            ),
            OpenApiExample(
                "Accepted",
                response_only=True,
                status_codes=["202"],
                value={
                    **EXAMPLE_EXPORT,
                    "status": "pending",
                    "row_count": None,
                    "download_url": None,
                    "completed_at": None,
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(ExportCreateSerializer, request)
        account = account_for(request.user, data["account"]) if "account" in data else None
        export = reporting.request_export(
            actor=request.user,
            kind=data["kind"],
            account=account,
            since=data.get("from"),
            until=data.get("to"),
        )
        return _export_response(request, export, status.HTTP_202_ACCEPTED)


class ExportDetailApi(ApiView):
    @extend_schema(
        operation_id="get_export",
        summary="An export's status; `download_url` once completed",
        description=(
            "One of your exports: `pending`, `running`, `completed` (with `row_count` and "
            "`download_url`) or `failed` (with `error`). Someone else's export is 404 `not_found`."
        ),
        responses={200: ExportSerializer, **problem_responses(401, 404)},
        examples=[OpenApiExample("Completed", response_only=True, value=EXAMPLE_EXPORT)],
    )
    def get(self, request: Request, export_id: str) -> Response:
        return _export_response(request, reporting.export_for(request.user, export_id))


class IgnoreAcceptNegotiation(BaseContentNegotiation):
    """The download is CSV whatever the client accepts; errors stay problem+json."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportDownloadApi(ApiView):
    content_negotiation_class = IgnoreAcceptNegotiation

    @extend_schema(
        operation_id="download_export",
        summary="Download a completed export as CSV",
        description=(
            "Streams `text/csv` as an attachment. Exports are visible to their owner only "
            "(others: 404 `not_found`); one not yet completed is 409 `invalid_state`."
        ),
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file."),
            **problem_responses(401, 404, 409),
        },
    )
    def get(self, request: Request, export_id: str) -> FileResponse:
        export = reporting.export_for(request.user, export_id)
        return FileResponse(
            reporting.open_export_file(export),
            as_attachment=True,
            filename=f"{export.public_id}.csv",
            content_type="text/csv; charset=utf-8",
        )
