from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import MANAGE_ORDERS, VIEW_ORDERS
from accounts.selectors import account_for
from ledgerflow.api import ApiView, parse
from ledgerflow.permissions import requires
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses
from orders import selectors, services
from orders.models import Order
from orders.serializers import (
    OrderCompleteSerializer,
    OrderCreateSerializer,
    OrderListQuerySerializer,
    OrderQueuePageSerializer,
    OrderQueueQuerySerializer,
    OrderSerializer,
)

EXAMPLE_ORDER_ID = "0xec736b2ac47bb1ee448cb6c6b0d96cba0fbd0472f18da0ec9771a26d7034a1bf"
EXAMPLE_TX_HASH = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
EXAMPLE_ORDER = {
    "order_id": EXAMPLE_ORDER_ID,
    "account": "acc_1f0c2b5e9a7d4c3b2a1f0e9d",
    "amount": "25.00",
    "asset": "USDC",
    "status": "pending",
    "vault_address": "0x71c7656ec7ab88b098defb751b7401b5f6d8976f",
    "tx_hash": None,
    "expires_at": "2025-01-02T10:00:00Z",
    "created_at": "2025-01-01T10:00:00Z",
    "completed_at": None,
    "transaction": None,
}


def _order_response(order: Order, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(OrderSerializer(order).data, status=status_code)


class OrderListCreateApi(ApiView, generics.ListAPIView):
    serializer_class = OrderSerializer
    filter_backends: list = []

    def get_queryset(self):
        query = parse(OrderListQuerySerializer, self.request, data=self.request.query_params)
        return selectors.orders_of(self.request.user, status=query.get("status"))

    @extend_schema(
        summary="List your orders, newest first",
        description=(
            "Orders on accounts you own, cursor-paginated; any authenticated user. Filter with "
            "`status`; an unknown status is 400 `validation_error`."
        ),
        parameters=[OrderListQuerySerializer],
        responses={200: OrderSerializer(many=True), **problem_responses(400, 401)},
        examples=[OpenApiExample("Pending", response_only=True, value=EXAMPLE_ORDER)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Open a payment order",
        description=(
            "The account (yours; operators: any customer account) is credited `amount` when the "
            "payment reaches `vault_address` and an operator completes the order. An account holds "
            "at most MAX_PENDING_ORDERS pending orders (409 `too_many_pending_orders`)."
        ),
        request=OrderCreateSerializer,
        responses={201: OrderSerializer, **problem_responses(400, 401, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Order 25 USDC",
                request_only=True,
                value={"account": EXAMPLE_ORDER["account"], "amount": "25.00"},
            ),
            OpenApiExample(
                "Created", response_only=True, status_codes=["201"], value=EXAMPLE_ORDER
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = parse(OrderCreateSerializer, request)
        account = account_for(request.user, data["account"], right=MANAGE_ORDERS)
        order = services.create_order(
            actor=request.user, account_id=account.pk, amount=data["amount"]
        )
        return _order_response(order, status.HTTP_201_CREATED)


class OrderDetailApi(ApiView):
    @extend_schema(
        summary="An order",
        description=(
            "An order on one of your accounts (`orders.view_order`: any); someone else's is 404 "
            "`not_found`. `order_id` may be sent with or without `0x`, in any case."
        ),
        responses={200: OrderSerializer, **problem_responses(401, 404)},
        examples=[OpenApiExample("Pending", response_only=True, value=EXAMPLE_ORDER)],
    )
    def get(self, request: Request, order_id: str) -> Response:
        return _order_response(selectors.order_for(request.user, order_id))


class OrderCompleteApi(ApiView):
    permission_classes = [requires(MANAGE_ORDERS)]

    @extend_schema(
        summary="Complete a pending order: credit its amount from the vault (orders.change_order)",
        description=(
            "Posts an `order_settlement` transaction from the asset's vault account to the order's "
            "account in the same database transaction as the status change. A `tx_hash` completes "
            "one order only (422 `validation_error` otherwise); an order that is not pending is "
            "409 `invalid_state`."
        ),
        request=OrderCompleteSerializer,
        responses={200: OrderSerializer, **problem_responses(400, 401, 403, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[OpenApiExample("Paid", request_only=True, value={"tx_hash": EXAMPLE_TX_HASH})],
    )
    def post(self, request: Request, order_id: str) -> Response:
        data = parse(OrderCompleteSerializer, request)
        order = selectors.order_for(request.user, order_id, right=MANAGE_ORDERS)
        return _order_response(
            services.complete_order(actor=request.user, order_pk=order.pk, tx_hash=data["tx_hash"])
        )


class OrderFailApi(ApiView):
    permission_classes = [requires(MANAGE_ORDERS)]

    @extend_schema(
        summary="Fail a pending order (orders.change_order); moves no money",
        description=(
            "For a payment that will not arrive; needs `orders.change_order` (others: 403). Only a "
            "pending order can fail: otherwise 409 `invalid_state`."
        ),
        request=None,
        responses={200: OrderSerializer, **problem_responses(401, 403, 404, 409)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Failed",
                response_only=True,
                value={**EXAMPLE_ORDER, "status": "failed"},
            )
        ],
    )
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_for(request.user, order_id, right=MANAGE_ORDERS)
        return _order_response(services.fail_order(actor=request.user, order_pk=order.pk))


class OrderCancelApi(ApiView):
    @extend_schema(
        summary="Cancel a pending order (its owner, or orders.change_order); moves no money",
        description=(
            "Frees a pending slot. Someone else's order is 404; one that is not pending is 409."
        ),
        request=None,
        responses={200: OrderSerializer, **problem_responses(401, 404, 409)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Cancelled",
                response_only=True,
                value={**EXAMPLE_ORDER, "status": "cancelled"},
            )
        ],
    )
    def post(self, request: Request, order_id: str) -> Response:
        order = selectors.order_for(request.user, order_id, right=MANAGE_ORDERS)
        return _order_response(services.cancel_order(actor=request.user, order_pk=order.pk))


class OrderQueuePagination(LimitOffsetPagination):
    """`{total_count, limit, offset, results}`, as the original balancer's clients expect."""

    default_limit = 50
    max_limit = 500

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "total_count": self.count,
                "limit": self.limit,
                "offset": self.offset,
                "results": data,
            }
        )


class OrderQueueApi(ApiView, generics.ListAPIView):
    permission_classes = [requires(VIEW_ORDERS)]
    serializer_class = OrderSerializer
    pagination_class = OrderQueuePagination
    filter_backends: list = []

    def get_queryset(self):
        query = parse(OrderQueueQuerySerializer, self.request, data=self.request.query_params)
        return selectors.order_queue(status=query["status"])

    @extend_schema(
        summary="Operator queue: orders in a status (default pending), oldest first (staff)",
        description=(
            "Needs `orders.view_order` (others: 403). Pages with `limit` (default 50, max 500) and "
            "`offset`; exact `total_count`."
        ),
        parameters=[OrderQueueQuerySerializer],
        responses={200: OrderQueuePageSerializer, **problem_responses(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Queue",
                response_only=True,
                value={"total_count": 1, "limit": 50, "offset": 0, "results": [EXAMPLE_ORDER]},
            )
        ],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)
