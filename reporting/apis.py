"""The reporting endpoints: snapshots and summaries of an account, asynchronous CSV exports.

Descriptions and examples of the OpenAPI schema are in reporting/schema.py.
"""

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import AuthenticatedRequest
from accounts.selectors import account_for
from ledgerflow.api import ApiView, parse
from ledgerflow.pagination import NewestFirstCursorPagination
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses
from reporting import schema, selectors, services
from reporting.models import Export
from reporting.serializers import (
    AccountSummarySerializer,
    BalanceSnapshotSerializer,
    ExportCreateSerializer,
    ExportSerializer,
    SnapshotQuerySerializer,
    SummaryQuerySerializer,
)


class SnapshotPagination(NewestFirstCursorPagination):
    ordering = ("-taken_at", "-id")


class SnapshotListApi(ApiView, generics.ListAPIView):
    serializer_class = BalanceSnapshotSerializer
    pagination_class = SnapshotPagination
    filter_backends: list = []

    def get_queryset(self):
        self.account = account_for(self.request.user, self.kwargs["account_id"])
        query = parse(SnapshotQuerySerializer, self.request, data=self.request.query_params)
        return selectors.snapshots_of(self.account, since=query.get("from"), until=query.get("to"))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "account": self.account}

    @extend_schema(
        operation_id="list_account_snapshots",
        summary="Balance snapshots of an account, newest first",
        description=schema.SNAPSHOTS_DESCRIPTION,
        parameters=[SnapshotQuerySerializer],
        responses={200: BalanceSnapshotSerializer(many=True), **problem_responses(400, 401, 404)},
        examples=schema.SNAPSHOTS_EXAMPLES,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class AccountSummaryApi(ApiView):
    @extend_schema(
        operation_id="get_account_summary",
        summary="Money in, out and net over a period, by category and by kind",
        description=schema.SUMMARY_DESCRIPTION,
        parameters=[SummaryQuerySerializer],
        responses={200: AccountSummarySerializer, **problem_responses(400, 401, 404, 422)},
        examples=schema.SUMMARY_EXAMPLES,
    )
    def get(self, request: AuthenticatedRequest, account_id: str) -> Response:
        account = account_for(request.user, account_id)
        query = parse(SummaryQuerySerializer, request, data=request.query_params)
        summary = selectors.summary_of(account, since=query.get("from"), until=query.get("to"))
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
        description=schema.EXPORT_CREATE_DESCRIPTION,
        request=ExportCreateSerializer,
        responses={202: ExportSerializer, **problem_responses(400, 401, 404, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.EXPORT_CREATE_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(ExportCreateSerializer, request)
        account = account_for(request.user, data["account"]) if "account" in data else None
        export = services.request_export(
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
        description=schema.EXPORT_DETAIL_DESCRIPTION,
        responses={200: ExportSerializer, **problem_responses(401, 404)},
        examples=schema.EXPORT_DETAIL_EXAMPLES,
    )
    def get(self, request: AuthenticatedRequest, export_id: str) -> Response:
        return _export_response(request, selectors.export_for(request.user, export_id))


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
        description=schema.EXPORT_DOWNLOAD_DESCRIPTION,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file."),
            **problem_responses(401, 404, 409),
        },
    )
    def get(self, request: AuthenticatedRequest, export_id: str) -> FileResponse:
        export = selectors.export_for(request.user, export_id)
        return FileResponse(
            services.open_export_file(export),
            as_attachment=True,
            filename=f"{export.public_id}.csv",
            content_type="text/csv; charset=utf-8",
        )
