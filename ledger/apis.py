from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
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
)
from accounts.selectors import account_by_public_id, account_for
from ledger import selectors, services
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
from ledgerflow.errors import DomainError, PermissionDenied, ValidationFailed
from ledgerflow.pagination import NewestFirstCursorPagination
from ledgerflow.permissions import has_right, requires
from ledgerflow.problems import field_errors
from ledgerflow.schema import IDEMPOTENCY_KEY_HEADER, problem_responses

EXAMPLE_TRANSFER = {
    "from_account": "acc_1f0c2b5e9a7d4c3b2a1f0e9d",
    "to_account": "acc_9a8b7c6d5e4f3a2b1c0d9e8f",
    "amount": "12.50",
    "reference": "order 1042",
    "category": "marketplace",
}
EXAMPLE_TRANSACTION = {
    "id": "txn_4d5e6f708192a3b4c5d6e7f8",
    "kind": "transfer",
    "status": "posted",
    "reference": EXAMPLE_TRANSFER["reference"],
    "category": EXAMPLE_TRANSFER["category"],
    "metadata": {},
    "amount": "12.50",
    "asset": "USD",
    "created_at": "2025-01-02T14:30:00Z",
    "reverses": None,
    "expires_at": None,
    "hold_reason": None,
    "entries": [
        {
            "account": EXAMPLE_TRANSFER["from_account"],
            "amount": "-12.50",
            "balance_after": "87.50",
            "version": 3,
        },
        {
            "account": EXAMPLE_TRANSFER["to_account"],
            "amount": "12.50",
            "balance_after": "112.50",
            "version": 5,
        },
    ],
}
# A pending transfer: funds are held, no entries until it is posted.
EXAMPLE_HOLD = {
    **EXAMPLE_TRANSACTION,
    "id": "txn_7a8b9c0d1e2f3a4b5c6d7e8f",
    "status": "pending",
    "expires_at": "2025-01-09T14:30:00Z",
    "entries": [],
}
EXAMPLE_BALANCE = {
    "account": EXAMPLE_TRANSFER["from_account"],
    "asset": "USD",
    "balance": "87.50",
    "available": "75.00",
    "pending_debits": "12.50",
    "pending_credits": "0.00",
    "version": 3,
    "as_of": "2025-01-02T15:00:00Z",
}
EXAMPLE_STATEMENT_ENTRY = {
    "transaction": EXAMPLE_TRANSACTION["id"],
    "kind": "transfer",
    "reference": EXAMPLE_TRANSFER["reference"],
    "category": EXAMPLE_TRANSFER["category"],
    "amount": "-12.50",
    "balance_after": "87.50",
    "version": 3,
    "created_at": EXAMPLE_TRANSACTION["created_at"],
}


def _transaction_body(request: Request, txn) -> dict:
    """A transaction as this caller may see it (balances only of accounts it may view)."""
    return TransactionSerializer(
        txn, context={"shown_to": selectors.entry_scope(request.user)}
    ).data


def _created(request: Request, txn) -> Response:
    """201, or 202 when a risk rule sent the movement to the operators' review queue."""
    code = status.HTTP_202_ACCEPTED if txn.hold_reason == "review" else status.HTTP_201_CREATED
    return Response(_transaction_body(request, txn), status=code)


def _transfer_item(request: Request, raw: object) -> services.TransferItem:
    """A transfer as the client named it: the service resolves and scopes the public ids in
    the statement that locks the accounts (someone else's source is 404 there)."""
    data = parse(TransferCreateSerializer, request, data=raw)
    return services.TransferItem(
        from_account=data["from_account"],
        to_account=data["to_account"],
        amount=data["amount"],
        reference=data["reference"],
        category=data["category"],
        metadata=data["metadata"],
        pending=data["pending"],
        expires_at=data["expires_at"],
    )


def _settleable_hold(request: Request, transaction_id: str):
    """A pending transaction the caller may post or void: a hold under risk review only with
    the review right; any other hold by the payer, or with the right to move any money."""
    user = request.user
    txn = selectors.transaction_for(user, transaction_id, rights=(REVIEW_HOLD, TRANSFER_ANY))
    if txn.hold_reason == "review":
        if not has_right(user, REVIEW_HOLD):
            raise PermissionDenied(f"Deciding a transfer under review needs {REVIEW_HOLD}.")
        return txn
    if has_right(user, TRANSFER_ANY):
        return txn
    if txn.hold_from_id is None or txn.hold_from.owner_id != user.pk:
        raise PermissionDenied("Only the paying account's owner can settle this hold.")
    return txn


class BalanceApi(ApiView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True

    @extend_schema(
        operation_id="get_account_balance",
        summary="Balance now, at a past instant (`at`) or at an account version (`version`)",
        description=(
            "Balances of one of your accounts (`accounts.view_account`: any) now, at a past "
            "instant `at`, or as of its entry `version`. Someone else's account is 404 "
            "`not_found`; giving both `at` and `version` is 400 `validation_error`."
        ),
        parameters=[BalanceQuerySerializer],
        responses={200: BalanceSerializer, **problem_responses(400, 401, 404, 422)},
        examples=[OpenApiExample("Now", response_only=True, value=EXAMPLE_BALANCE)],
    )
    def get(self, request: Request, account_id: str) -> Response:
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
        description=(
            "Posted entries of one of your accounts (`accounts.view_account`: any) with the "
            "running `balance_after`, cursor-paginated, optionally within [`created_after`, "
            "`created_before`). Someone else's account is 404 `not_found`."
        ),
        parameters=[EntryQuerySerializer],
        responses={200: StatementEntrySerializer(many=True), **problem_responses(401, 404)},
        examples=[
            OpenApiExample("A transfer out", response_only=True, value=EXAMPLE_STATEMENT_ENTRY)
        ],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class TransferCreateApi(ApiView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True

    @extend_schema(
        operation_id="create_transfer",
        summary="Transfer between two accounts of one asset",
        description=(
            "Moves `amount` from `from_account` (yours; `ledger.transfer_any`: any) to "
            "`to_account` of the same asset, at once or, with `pending: true`, as a hold to post "
            "or void later. Too little available is 409 `insufficient_funds`, another asset 422 "
            "`asset_mismatch`; a risk rule may hold it for operator review (202)."
        ),
        request=TransferCreateSerializer,
        responses={
            201: TransactionSerializer,
            202: OpenApiResponse(TransactionSerializer, description="Held for operator review."),
            **problem_responses(400, 401, 404, 409, 422),
        },
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Move 12.50", request_only=True, value=EXAMPLE_TRANSFER),
            OpenApiExample("Posted", response_only=True, value=EXAMPLE_TRANSACTION),
        ],
    )
    def post(self, request: Request) -> Response:
        item = _transfer_item(request, request.data)
        return _created(request, services.post_batch(actor=request.user, items=[item])[0])


class TransferBatchCreateApi(ApiView):
    # Customers' tokens cost no database read here (accounts.authentication).
    stateless_user = True

    @extend_schema(
        operation_id="create_transfer_batch",
        summary="Apply up to 1,000 transfers all-or-nothing",
        description=(
            "Each `from_account` must be yours (`ledger.transfer_any`: any). One database "
            "transaction locks every touched account once. If any item fails, nothing applies and "
            "the problem names the item's `index` and its `code`. One Idempotency-Key covers the "
            "whole batch."
        ),
        request=BatchCreateSerializer,
        responses={201: BatchResultSerializer, **problem_responses(400, 401, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Two legs",
                request_only=True,
                value={"transfers": [EXAMPLE_TRANSFER, {**EXAMPLE_TRANSFER, "amount": "1.00"}]},
            ),
            OpenApiExample(
                "Both posted",
                response_only=True,
                value={
                    "transactions": [
                        EXAMPLE_TRANSACTION,
                        {
                            **EXAMPLE_TRANSACTION,
                            "id": "txn_5e6f708192a3b4c5d6e7f809",
                            "amount": "1.00",
                            "entries": [
                                {
                                    **EXAMPLE_TRANSACTION["entries"][0],
                                    "amount": "-1.00",
                                    "balance_after": "86.50",
                                    "version": 4,
                                },
                                {
                                    **EXAMPLE_TRANSACTION["entries"][1],
                                    "amount": "1.00",
                                    "balance_after": "113.50",
                                    "version": 6,
                                },
                            ],
                        },
                    ]
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        raw_items = parse(BatchCreateSerializer, request)["transfers"]
        items = []
        for index, raw in enumerate(raw_items):
            try:
                items.append(_transfer_item(request, raw))
            except ValidationError as exc:
                raise ValidationFailed(
                    f"Transfer {index} is invalid.", errors=field_errors(exc.detail), index=index
                ) from None
            except DomainError as exc:
                exc.extra["index"] = index
                raise
        txns = services.post_batch(actor=request.user, items=items)
        body = {"transactions": [_transaction_body(request, txn) for txn in txns]}
        return Response(body, status=status.HTTP_201_CREATED)


class DepositCreateApi(ApiView):
    permission_classes = [requires(DEPOSIT)]

    @extend_schema(
        operation_id="create_deposit",
        summary="Deposit: money in from the asset's world account (ledger.deposit)",
        description=(
            "Credits `amount` to any account from its asset's world account; needs "
            "`ledger.deposit` (others: 403 `permission_denied`). A frozen or closed account is 409 "
            "`account_inactive`."
        ),
        request=AccountMovementCreateSerializer,
        responses={201: TransactionSerializer, **problem_responses(400, 401, 403, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Card top-up",
                request_only=True,
                value={"account": EXAMPLE_TRANSFER["to_account"], "amount": "100.00"},
            ),
            OpenApiExample(
                "Deposited",
                response_only=True,
                value={
                    **EXAMPLE_TRANSACTION,
                    "id": "txn_0b1c2d3e4f5a6b7c8d9e0f1a",
                    "kind": "deposit",
                    "reference": "",
                    "category": "",
                    "amount": "100.00",
                    "entries": [
                        {
                            "account": "acc_a0b1c2d3e4f5a6b7c8d9e0f1",
                            "amount": "-100.00",
                            "balance_after": "-5100.00",
                            "version": 41,
                        },
                        {
                            "account": EXAMPLE_TRANSFER["to_account"],
                            "amount": "100.00",
                            "balance_after": "100.00",
                            "version": 1,
                        },
                    ],
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
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
        description=(
            "Debits `amount` from an account to its asset's world account: `ledger.withdraw_any` "
            "any account, anyone else only its own (others' are 404). Too little available is 409 "
            "`insufficient_funds`; a risk rule may hold it for operator review (202)."
        ),
        request=AccountMovementCreateSerializer,
        responses={
            201: TransactionSerializer,
            202: OpenApiResponse(TransactionSerializer, description="Held for operator review."),
            **problem_responses(400, 401, 404, 409, 422),
        },
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Cash out",
                request_only=True,
                value={"account": EXAMPLE_TRANSFER["from_account"], "amount": "20.00"},
            ),
            OpenApiExample(
                "Withdrawn",
                response_only=True,
                value={
                    **EXAMPLE_TRANSACTION,
                    "id": "txn_1c2d3e4f5a6b7c8d9e0f1a2b",
                    "kind": "withdrawal",
                    "reference": "",
                    "category": "",
                    "amount": "20.00",
                    "entries": [
                        {
                            "account": EXAMPLE_TRANSFER["from_account"],
                            "amount": "-20.00",
                            "balance_after": "67.50",
                            "version": 4,
                        },
                        {
                            "account": "acc_a0b1c2d3e4f5a6b7c8d9e0f1",
                            "amount": "20.00",
                            "balance_after": "-5080.00",
                            "version": 42,
                        },
                    ],
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
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
        description=(
            "Transactions touching your accounts (staff: all) with their entries, "
            "cursor-paginated; filter by `account`, `kind`, `category`, `status` and creation "
            "time. Naming someone else's `account` is 404 `not_found`."
        ),
        examples=[OpenApiExample("A transfer", response_only=True, value=EXAMPLE_TRANSACTION)],
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="create_journal",
        summary="Post a general journal (ledger.post_journal)",
        description=(
            "Any number of signed entries on any accounts that sum to zero per asset; needs "
            "`ledger.post_journal` (others: 403). Unbalanced entries are 422 `validation_error`; "
            "an account left below zero is 409 `insufficient_funds`."
        ),
        request=JournalCreateSerializer,
        responses={201: TransactionSerializer, **problem_responses(400, 401, 403, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample(
                "Fee split",
                request_only=True,
                value={
                    "entries": [
                        {"account": EXAMPLE_TRANSFER["from_account"], "amount": "-10.00"},
                        {"account": EXAMPLE_TRANSFER["to_account"], "amount": "9.70"},
                        {"account": "acc_fees00000000000000000000", "amount": "0.30"},
                    ],
                    "reference": "sale 77",
                },
            ),
            OpenApiExample(
                "Posted",
                response_only=True,
                value={
                    **EXAMPLE_TRANSACTION,
                    "id": "txn_2d3e4f5a6b7c8d9e0f1a2b3c",
                    "kind": "journal",
                    "reference": "sale 77",
                    "category": "",
                    "amount": "10.00",
                    "entries": [
                        {
                            "account": EXAMPLE_TRANSFER["from_account"],
                            "amount": "-10.00",
                            "balance_after": "77.50",
                            "version": 4,
                        },
                        {
                            "account": EXAMPLE_TRANSFER["to_account"],
                            "amount": "9.70",
                            "balance_after": "122.20",
                            "version": 6,
                        },
                        {
                            "account": "acc_fees00000000000000000000",
                            "amount": "0.30",
                            "balance_after": "1520.30",
                            "version": 88,
                        },
                    ],
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
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
        description=(
            "One transaction touching your accounts (`ledger.view_transaction`: any), with its "
            "entries; any other is 404 `not_found`."
        ),
        responses={200: TransactionSerializer, **problem_responses(401, 404)},
        examples=[OpenApiExample("A transfer", response_only=True, value=EXAMPLE_TRANSACTION)],
    )
    def get(self, request: Request, transaction_id: str) -> Response:
        txn = selectors.transaction_for(request.user, transaction_id)
        return Response(_transaction_body(request, txn))


class TransactionReverseApi(ApiView):
    permission_classes = [requires(REVERSE)]

    @extend_schema(
        operation_id="reverse_transaction",
        summary="Reverse a posted transaction (staff); once only",
        description=(
            "Needs `ledger.reverse_transaction` (others: 403). Posts and answers a new `reversal` "
            "transaction mirroring the original's entries. A transaction not posted, already "
            "reversed, or itself a reversal is 409 `invalid_state`."
        ),
        request=ReverseRequestSerializer,
        responses={200: TransactionSerializer, **problem_responses(401, 403, 404, 409)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Refund", request_only=True, value={"reason": "duplicate"}),
            OpenApiExample(
                "Reversal",
                response_only=True,
                value={
                    **EXAMPLE_TRANSACTION,
                    "id": "txn_3e4f5a6b7c8d9e0f1a2b3c4d",
                    "kind": "reversal",
                    "reference": f"reversal of {EXAMPLE_TRANSACTION['id']}",
                    "metadata": {"reason": "duplicate"},
                    "created_at": "2025-01-03T09:00:00Z",
                    "reverses": EXAMPLE_TRANSACTION["id"],
                    "entries": [
                        {
                            "account": EXAMPLE_TRANSFER["from_account"],
                            "amount": "12.50",
                            "balance_after": "100.00",
                            "version": 4,
                        },
                        {
                            "account": EXAMPLE_TRANSFER["to_account"],
                            "amount": "-12.50",
                            "balance_after": "100.00",
                            "version": 6,
                        },
                    ],
                },
            ),
        ],
    )
    def post(self, request: Request, transaction_id: str) -> Response:
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
        description=(
            "Operators, or the paying account's owner (not for transfers under risk review, which "
            "operators approve here). A hold can be posted or voided once: then 409 "
            "`invalid_state`; more than is held is 422 `validation_error`."
        ),
        request=PostPendingSerializer,
        responses={200: TransactionSerializer, **problem_responses(401, 403, 404, 409, 422)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Capture 8.00", request_only=True, value={"amount": "8.00"}),
            OpenApiExample(
                "Posted 8.00",
                response_only=True,
                value={
                    **EXAMPLE_HOLD,
                    "status": "posted",
                    "amount": "8.00",
                    "entries": [
                        {
                            "account": EXAMPLE_TRANSFER["from_account"],
                            "amount": "-8.00",
                            "balance_after": "79.50",
                            "version": 4,
                        },
                        {
                            "account": EXAMPLE_TRANSFER["to_account"],
                            "amount": "8.00",
                            "balance_after": "120.50",
                            "version": 6,
                        },
                    ],
                },
            ),
        ],
    )
    def post(self, request: Request, transaction_id: str) -> Response:
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
        description=(
            "Moves no money. Operators, or the paying account's owner (not for transfers under "
            "risk review, which operators decline here: 403 otherwise). A hold already posted or "
            "voided is 409 `invalid_state`."
        ),
        request=None,
        responses={200: TransactionSerializer, **problem_responses(401, 403, 404, 409)},
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=[
            OpenApiExample("Voided", response_only=True, value={**EXAMPLE_HOLD, "status": "voided"})
        ],
    )
    def post(self, request: Request, transaction_id: str) -> Response:
        txn = _settleable_hold(request, transaction_id)
        voided = services.void_pending(actor=request.user, transaction_id=txn.pk)
        return Response(_transaction_body(request, voided))
