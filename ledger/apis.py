"""The ledger's endpoints: balances and statements, transfers (single, batch, two-phase),
deposits, withdrawals, journals, transaction reads and reversals.

Descriptions and examples of the OpenAPI schema are in ledger/schema.py.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import (
    DEPOSIT,
    POST_JOURNAL,
    REVERSE,
    REVIEW_HOLD,
    TRANSFER_ANY,
    WITHDRAW_ANY,
    AuthenticatedRequest,
)
from accounts.selectors import account_by_public_id, account_for
from ledger import schema, selectors, services
from ledger.filters import TransactionFilter
from ledger.models import Transaction
from ledger.serializers import (
    AccountMovementCreateSerializer,
    BalanceQuerySerializer,
    BalanceSerializer,
    BatchCreateSerializer,
    BatchResultSerializer,
    EntryQuerySerializer,
    JournalCreateSerializer,
    PostPendingSerializer,
    ReverseRequestSerializer,
    StatementEntrySerializer,
    TransactionSerializer,
    TransferCreateSerializer,
)
from ledgerflow.api import ApiView, parse
from ledgerflow.errors import PermissionDenied, ValidationFailed
from ledgerflow.pagination import NewestFirstCursorPagination
from ledgerflow.permissions import has_right, requires
from ledgerflow.problems import field_errors
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses

# What a movement that risk rules watch answers (`_created`): 201, or 202 held for review.
MOVEMENT_RESPONSES = {
    201: TransactionSerializer,
    202: OpenApiResponse(TransactionSerializer, description="Held for operator review."),
}


def _transaction_body(request: AuthenticatedRequest, txn) -> dict:
    """A transaction as this caller may see it (balances only of accounts it may view)."""
    return TransactionSerializer(
        txn, context={"shown_to": selectors.entry_scope(request.user)}
    ).data


def _created(request: AuthenticatedRequest, txn) -> Response:
    """201, or 202 when a risk rule sent the movement to the operators' review queue."""
    code = (
        status.HTTP_202_ACCEPTED
        if txn.hold_reason == Transaction.HoldReason.REVIEW
        else status.HTTP_201_CREATED
    )
    return Response(_transaction_body(request, txn), status=code)


def _transfer_item(request: Request, raw: object) -> services.TransferItem:
    """A transfer as the client named it: the service resolves and scopes the public ids in
    the statement that locks the accounts (someone else's source is 404 there)."""
    # The serializer's fields are the item's (public ids for the accounts).
    return services.TransferItem(**parse(TransferCreateSerializer, request, data=raw))


def _settleable_hold(request: AuthenticatedRequest, transaction_id: str):
    """A pending transaction the caller may post or void: a hold under risk review only with
    the review right; any other hold by the payer, or with the right to move any money."""
    user = request.user
    txn = selectors.transaction_for(user, transaction_id, rights=(REVIEW_HOLD, TRANSFER_ANY))
    if txn.hold_reason == Transaction.HoldReason.REVIEW:
        if not has_right(user, REVIEW_HOLD):
            raise PermissionDenied(f"Deciding a transfer under review needs {REVIEW_HOLD}.")
        return txn
    if has_right(user, TRANSFER_ANY):
        return txn
    hold_from = txn.hold_from if txn.hold_from_id is not None else None
    if hold_from is None or hold_from.owner_id != user.pk:
        raise PermissionDenied("Only the paying account's owner can settle this hold.")
    return txn


class BalanceApi(ApiView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True

    @extend_schema(
        operation_id="get_account_balance",
        summary="Balance now, at a past instant (`at`) or at an account version (`version`)",
        description=schema.BALANCE_DESCRIPTION,
        parameters=[BalanceQuerySerializer],
        responses={200: BalanceSerializer, **problem_responses(400, 401, 404, 422)},
        examples=schema.BALANCE_EXAMPLES,
    )
    def get(self, request: AuthenticatedRequest, account_id: str) -> Response:
        account = account_for(request.user, account_id)
        query = parse(BalanceQuerySerializer, request, data=request.query_params)
        balance = selectors.balance_at(account, at=query.get("at"), version=query.get("version"))
        return Response(BalanceSerializer(balance).data)


class StatementPagination(NewestFirstCursorPagination):
    ordering = ("-account_version",)


class EntryListApi(ApiView, generics.ListAPIView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True
    serializer_class = StatementEntrySerializer
    pagination_class = StatementPagination
    filter_backends: list = []

    def get_queryset(self):
        self.account = account_for(self.request.user, self.kwargs["account_id"])
        query = parse(EntryQuerySerializer, self.request, data=self.request.query_params)
        qs = selectors.entries_of(self.account)
        if "created_after" in query:
            qs = qs.filter(created_at__gte=query["created_after"])
        if "created_before" in query:
            qs = qs.filter(created_at__lt=query["created_before"])
        return qs

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "exponent": self.account.asset.exponent}

    @extend_schema(
        operation_id="list_account_entries",
        summary="Account statement, newest first",
        description=schema.ENTRY_LIST_DESCRIPTION,
        parameters=[EntryQuerySerializer],
        responses={200: StatementEntrySerializer(many=True), **problem_responses(401, 404)},
        examples=schema.ENTRY_LIST_EXAMPLES,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class TransferCreateApi(ApiView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True

    @extend_schema(
        operation_id="create_transfer",
        summary="Transfer between two accounts of one asset",
        description=schema.TRANSFER_CREATE_DESCRIPTION,
        request=TransferCreateSerializer,
        responses={**MOVEMENT_RESPONSES, **problem_responses(400, 401, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.TRANSFER_CREATE_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        item = _transfer_item(request, request.data)
        return _created(request, services.post_batch(actor=request.user, items=[item])[0])


class TransferBatchCreateApi(ApiView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True

    @extend_schema(
        operation_id="create_transfer_batch",
        summary="Apply up to 1,000 transfers all-or-nothing",
        description=schema.TRANSFER_BATCH_CREATE_DESCRIPTION,
        request=BatchCreateSerializer,
        responses={201: BatchResultSerializer, **problem_responses(400, 401, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.TRANSFER_BATCH_CREATE_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        raw_items = parse(BatchCreateSerializer, request)["transfers"]
        items = []
        for index, raw in enumerate(raw_items):
            try:
                items.append(_transfer_item(request, raw))
            except ValidationError as exc:
                raise ValidationFailed(
                    f"Transfer {index} is invalid.", errors=field_errors(exc.detail), index=index
                ) from None
        txns = services.post_batch(actor=request.user, items=items)
        body = {"transactions": [_transaction_body(request, txn) for txn in txns]}
        return Response(body, status=status.HTTP_201_CREATED)


class DepositCreateApi(ApiView):
    permission_classes = [requires(DEPOSIT)]

    @extend_schema(
        operation_id="create_deposit",
        summary="Deposit: money in from the asset's world account (ledger.deposit)",
        description=schema.DEPOSIT_CREATE_DESCRIPTION,
        request=AccountMovementCreateSerializer,
        responses={201: TransactionSerializer, **problem_responses(400, 401, 403, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.DEPOSIT_CREATE_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(AccountMovementCreateSerializer, request)
        account = account_by_public_id(data["account"])
        return _created(
            request,
            services.post_deposit(
                actor=request.user,
                account_id=account.pk,
                amount=data["amount"],
                reference=data["reference"],
                category=data["category"],
                metadata=data["metadata"],
            ),
        )


class WithdrawalCreateApi(ApiView):
    @extend_schema(
        operation_id="create_withdrawal",
        summary="Withdrawal: money out to the asset's world account (owner or ledger.withdraw_any)",
        description=schema.WITHDRAWAL_CREATE_DESCRIPTION,
        request=AccountMovementCreateSerializer,
        responses={**MOVEMENT_RESPONSES, **problem_responses(400, 401, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.WITHDRAWAL_CREATE_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        # 202 (not 201) when a risk rule holds the withdrawal for operator review.
        data = parse(AccountMovementCreateSerializer, request)
        account = account_for(request.user, data["account"], right=WITHDRAW_ANY)
        return _created(
            request,
            services.post_withdrawal(
                actor=request.user,
                account_id=account.pk,
                amount=data["amount"],
                reference=data["reference"],
                category=data["category"],
                metadata=data["metadata"],
            ),
        )


class TransactionListCreateApi(ApiView, generics.ListAPIView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter
    queryset = Transaction.objects.none()  # names the model for the schema; rows: selectors

    def get_permissions(self):
        if self.request.method == "POST":
            return [requires(POST_JOURNAL)()]
        return super().get_permissions()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Transaction.objects.none()
        account_id = self.request.query_params.get("account")
        if account_id:
            account_for(self.request.user, account_id)  # someone else's account -> 404
        return selectors.transactions_visible_to(self.request.user)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "shown_to": self._shown_to()}

    def _shown_to(self):
        if getattr(self, "swagger_fake_view", False):
            return 0
        return selectors.entry_scope(self.request.user)

    @extend_schema(
        operation_id="list_transactions",
        summary="List transactions you can see, newest first",
        description=schema.TRANSACTION_LIST_DESCRIPTION,
        examples=schema.TRANSACTION_LIST_EXAMPLES,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="create_journal",
        summary="Post a general journal (ledger.post_journal)",
        description=schema.TRANSACTION_CREATE_DESCRIPTION,
        request=JournalCreateSerializer,
        responses={201: TransactionSerializer, **problem_responses(400, 401, 403, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.TRANSACTION_CREATE_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(JournalCreateSerializer, request)
        entries = [
            (account_by_public_id(line["account"]).pk, line["amount"]) for line in data["entries"]
        ]
        return _created(
            request,
            services.post_journal(
                actor=request.user,
                entries=entries,
                reference=data["reference"],
                category=data["category"],
                metadata=data["metadata"],
            ),
        )


class TransactionDetailApi(ApiView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True

    @extend_schema(
        operation_id="get_transaction",
        summary="A transaction with its entries",
        description=schema.TRANSACTION_DETAIL_DESCRIPTION,
        responses={200: TransactionSerializer, **problem_responses(401, 404)},
        examples=schema.TRANSACTION_DETAIL_EXAMPLES,
    )
    def get(self, request: AuthenticatedRequest, transaction_id: str) -> Response:
        txn = selectors.transaction_for(request.user, transaction_id)
        return Response(_transaction_body(request, txn))


class TransactionReverseApi(ApiView):
    permission_classes = [requires(REVERSE)]

    @extend_schema(
        operation_id="reverse_transaction",
        summary="Reverse a posted transaction (staff); once only",
        description=schema.TRANSACTION_REVERSE_DESCRIPTION,
        request=ReverseRequestSerializer,
        responses={200: TransactionSerializer, **problem_responses(401, 403, 404, 409)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.TRANSACTION_REVERSE_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest, transaction_id: str) -> Response:
        data = parse(ReverseRequestSerializer, request)
        txn = selectors.transaction_for(request.user, transaction_id, rights=(REVERSE,))
        reversal = services.reverse_transaction(
            actor=request.user, transaction_id=txn.pk, reason=data["reason"]
        )
        return Response(_transaction_body(request, reversal))


class TransactionPostApi(ApiView):
    @extend_schema(
        operation_id="post_transaction",
        summary="Post a pending transfer, fully or partly; the rest is released",
        description=schema.TRANSACTION_POST_DESCRIPTION,
        request=PostPendingSerializer,
        responses={200: TransactionSerializer, **problem_responses(401, 403, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.TRANSACTION_POST_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest, transaction_id: str) -> Response:
        data = parse(PostPendingSerializer, request)
        txn = _settleable_hold(request, transaction_id)
        posted = services.post_pending(
            actor=request.user, transaction_id=txn.pk, amount=data.get("amount")
        )
        return Response(_transaction_body(request, posted))


class TransactionVoidApi(ApiView):
    @extend_schema(
        operation_id="void_transaction",
        summary="Void a pending transfer, releasing everything it holds",
        description=schema.TRANSACTION_VOID_DESCRIPTION,
        request=None,
        responses={200: TransactionSerializer, **problem_responses(401, 403, 404, 409)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=schema.TRANSACTION_VOID_EXAMPLES,
    )
    def post(self, request: AuthenticatedRequest, transaction_id: str) -> Response:
        txn = _settleable_hold(request, transaction_id)
        voided = services.void_pending(actor=request.user, transaction_id=txn.pk)
        return Response(_transaction_body(request, voided))
