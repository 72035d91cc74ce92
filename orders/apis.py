from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import MANAGE_ORDERS, RECORD_DEPOSIT, VIEW_ORDERS, AuthenticatedRequest
from accounts.selectors import account_for
from ledgerflow.api import ApiView, parse
from ledgerflow.permissions import requires
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses
from orders import selectors, services
from orders.models import Deposit, Order
from orders.serializers import (
    DepositCreateSerializer,
    DepositSerializer,
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
    "received_amount": None,
}
EXAMPLE_DEPOSIT_REQUEST = {
    "order_id": EXAMPLE_ORDER_ID,
    "tx_hash": EXAMPLE_TX_HASH,
    "amount": "25.00",
    "confirmations": 12,
}
EXAMPLE_DEPOSIT = {
    "tx_hash": EXAMPLE_TX_HASH,
    "order_id": EXAMPLE_ORDER_ID,
    "amount": "25.00",
    "asset": "USDC",
    "confirmations": 12,
    "status": "settled",
    "created_at": "2025-01-01T10:05:00Z",
    "updated_at": "2025-01-01T10:05:00Z",
    "order": {
        **EXAMPLE_ORDER,
        "status": "completed",
        "tx_hash": EXAMPLE_TX_HASH,
        "completed_at": "2025-01-01T10:05:00Z",
        "transaction": "txn_5b0e7a9c2d4f6e8a1b3c5d7e",
    },
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
        operation_id="list_orders",
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
        operation_id="create_order",
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
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(OrderCreateSerializer, request)
        account = account_for(request.user, data["account"], right=MANAGE_ORDERS)
        order = services.create_order(
            actor=request.user, account_id=account.pk, amount=data["amount"]
        )
        return _order_response(order, status.HTTP_201_CREATED)


class OrderDetailApi(ApiView):
    @extend_schema(
        operation_id="get_order",
        summary="An order",
        description=(
            "An order on one of your accounts (`orders.view_order`: any); someone else's is 404 "
            "`not_found`. `order_id` may be sent with or without `0x`, in any case."
        ),
        responses={200: OrderSerializer, **problem_responses(401, 404)},
        examples=[OpenApiExample("Pending", response_only=True, value=EXAMPLE_ORDER)],
    )
    def get(self, request: AuthenticatedRequest, order_id: str) -> Response:
        return _order_response(selectors.order_for(request.user, order_id))


class OrderCompleteApi(ApiView):
    permission_classes = [requires(MANAGE_ORDERS)]

    @extend_schema(
        operation_id="complete_order",
        summary="Complete a pending order: credit its amount from the vault (orders.change_order)",
        description=(
            "Posts an `order_settlement` transaction from the asset's vault account to the order's "
            "account in the same database transaction as the status change. A `tx_hash` completes "
            "one order only (422 `validation_error` otherwise). An order in `needs_review` (the "
            "indexer saw a different amount) completes only with the tx_hash under review and is "
            "credited `received_amount`, what reached the vault. Any other status is 409 "
            "`invalid_state`."
        ),
        request=OrderCompleteSerializer,
        responses={200: OrderSerializer, **problem_responses(400, 401, 403, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[OpenApiExample("Paid", request_only=True, value={"tx_hash": EXAMPLE_TX_HASH})],
    )
    def post(self, request: AuthenticatedRequest, order_id: str) -> Response:
        data = parse(OrderCompleteSerializer, request)
        order = selectors.order_for(request.user, order_id, right=MANAGE_ORDERS)
        return _order_response(
            services.complete_order(actor=request.user, order_pk=order.pk, tx_hash=data["tx_hash"])
        )


class OrderFailApi(ApiView):
    permission_classes = [requires(MANAGE_ORDERS)]

    @extend_schema(
        operation_id="fail_order",
        summary="Fail a pending order (orders.change_order); moves no money",
        description=(
            "For a payment that will not arrive; needs `orders.change_order` (others: 403). Only a "
            "pending order, or one in `needs_review`, can fail: otherwise 409 `invalid_state`."
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
    def post(self, request: AuthenticatedRequest, order_id: str) -> Response:
        order = selectors.order_for(request.user, order_id, right=MANAGE_ORDERS)
        return _order_response(services.fail_order(actor=request.user, order_pk=order.pk))


class OrderCancelApi(ApiView):
    @extend_schema(
        operation_id="cancel_order",
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
    def post(self, request: AuthenticatedRequest, order_id: str) -> Response:
        order = selectors.order_for(request.user, order_id, right=MANAGE_ORDERS)
        return _order_response(services.cancel_order(actor=request.user, order_pk=order.pk))


class DepositRecordApi(ApiView):
    permission_classes = [requires(RECORD_DEPOSIT)]

    @extend_schema(
        operation_id="record_deposit",
        summary="Indexer feed: report an on-chain payment to the vault (orders.record_deposit)",
        description=(
            "For an indexer's API key (its staff user holds `orders.record_deposit`; others: "
            "403). Settles each `tx_hash` at most once, through the same settlement as "
            "`complete`: with at least ORDER_MIN_CONFIRMATIONS confirmations and the order's "
            "amount, the order is completed and credited (200, `status: settled`). Fewer "
            "confirmations: recorded, nothing settled (202, `status: pending`); post again as "
            "they grow. A different amount: nothing settled, the order goes to the operator "
            "queue as `needs_review` with both amounts (202, `status: needs_review`). A replay "
            "of a recorded `tx_hash` answers the recorded deposit again (200 or 202) and "
            "changes nothing but a higher `confirmations`. Refused, changing nothing: no such "
            "order (404); an order that is no longer waiting for a payment, e.g. completed by "
            "another tx_hash or expired (409 `invalid_state`); a `tx_hash` that pays another "
            "order or was reported with another amount (422 `validation_error`, "
            "`errors.tx_hash`)."
        ),
        request=DepositCreateSerializer,
        responses={
            200: DepositSerializer,
            202: DepositSerializer,
            **problem_responses(400, 401, 403, 404, 409, 422),
        },
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Payment of 25 USDC", request_only=True, value=EXAMPLE_DEPOSIT_REQUEST),
            OpenApiExample(
                "Settled", response_only=True, status_codes=["200"], value=EXAMPLE_DEPOSIT
            ),
            OpenApiExample(
                "Still confirming",
                response_only=True,
                status_codes=["202"],
                value={
                    **EXAMPLE_DEPOSIT,
                    "confirmations": 0,
                    "status": "pending",
                    "order": EXAMPLE_ORDER,
                },
            ),
            OpenApiExample(
                "Amount differs: sent to review",
                response_only=True,
                status_codes=["202"],
                value={
                    **EXAMPLE_DEPOSIT,
                    "amount": "24.50",
                    "status": "needs_review",
                    "order": {
                        **EXAMPLE_ORDER,
                        "status": "needs_review",
                        "tx_hash": EXAMPLE_TX_HASH,
                        "received_amount": "24.50",
                    },
                },
            ),
        ],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(DepositCreateSerializer, request)
        deposit = services.record_deposit(actor=request.user, **data)
        settled = deposit.status == Deposit.Status.SETTLED
        return Response(
            DepositSerializer(deposit).data,
            status=status.HTTP_200_OK if settled else status.HTTP_202_ACCEPTED,
        )


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
        operation_id="list_order_queue",
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
