"""OpenAPI descriptions and examples of the ledger's endpoints (ledger/apis.py).

EXAMPLE_TRANSACTION is also the payload example of the `transaction.*` webhooks (ledger/apps.py).
"""

from typing import Any

from drf_spectacular.utils import OpenApiExample

EXAMPLE_TRANSFER: dict[str, Any] = {
    "from_account": "acc_1f0c2b5e9a7d4c3b2a1f0e9d",
    "to_account": "acc_9a8b7c6d5e4f3a2b1c0d9e8f",
    "amount": "12.50",
    "reference": "order 1042",
    "category": "marketplace",
}
EXAMPLE_TRANSACTION: dict[str, Any] = {
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
EXAMPLE_HOLD: dict[str, Any] = {
    **EXAMPLE_TRANSACTION,
    "id": "txn_7a8b9c0d1e2f3a4b5c6d7e8f",
    "status": "pending",
    "expires_at": "2025-01-09T14:30:00Z",
    "entries": [],
}
EXAMPLE_BALANCE: dict[str, Any] = {
    "account": EXAMPLE_TRANSFER["from_account"],
    "asset": "USD",
    "balance": "87.50",
    "available": "75.00",
    "pending_debits": "12.50",
    "pending_credits": "0.00",
    "version": 3,
    "as_of": "2025-01-02T15:00:00Z",
}
EXAMPLE_STATEMENT_ENTRY: dict[str, Any] = {
    "transaction": EXAMPLE_TRANSACTION["id"],
    "kind": "transfer",
    "reference": EXAMPLE_TRANSFER["reference"],
    "category": EXAMPLE_TRANSFER["category"],
    "amount": "-12.50",
    "balance_after": "87.50",
    "version": 3,
    "created_at": EXAMPLE_TRANSACTION["created_at"],
}


# --- GET /accounts/{id}/balance -------------------------------------------------------------------

BALANCE_DESCRIPTION = (
    "Balances of one of your accounts (`accounts.view_account`: any) now, at a past "
    "instant `at`, or as of its entry `version`. Someone else's account is 404 "
    "`not_found`; giving both `at` and `version` is 400 `validation_error`."
)
BALANCE_EXAMPLES = [OpenApiExample("Now", response_only=True, value=EXAMPLE_BALANCE)]

# --- GET /accounts/{id}/entries -------------------------------------------------------------------

ENTRY_LIST_DESCRIPTION = (
    "Posted entries of one of your accounts (`accounts.view_account`: any) with the "
    "running `balance_after`, cursor-paginated, optionally within [`created_after`, "
    "`created_before`). Someone else's account is 404 `not_found`."
)
ENTRY_LIST_EXAMPLES = [
    OpenApiExample("A transfer out", response_only=True, value=EXAMPLE_STATEMENT_ENTRY)
]

# --- POST /transfers ------------------------------------------------------------------------------

TRANSFER_CREATE_DESCRIPTION = (
    "Moves `amount` from `from_account` (yours; `ledger.transfer_any`: any) to "
    "`to_account` of the same asset, at once or, with `pending: true`, as a hold to post "
    "or void later. Too little available is 409 `insufficient_funds`, another asset 422 "
    "`asset_mismatch`; a risk rule may hold it for operator review (202)."
)
TRANSFER_CREATE_EXAMPLES = [
    OpenApiExample("Move 12.50", request_only=True, value=EXAMPLE_TRANSFER),
    OpenApiExample("Posted", response_only=True, value=EXAMPLE_TRANSACTION),
]

# --- POST /transfers/batch ------------------------------------------------------------------------

TRANSFER_BATCH_CREATE_DESCRIPTION = (
    "Each `from_account` must be yours (`ledger.transfer_any`: any). One database "
    "transaction locks every touched account once. If any item fails, nothing applies and "
    "the problem names the item's `index` and its `code`. One Idempotency-Key covers the "
    "whole batch."
)
TRANSFER_BATCH_CREATE_EXAMPLES = [
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
]

# --- POST /deposits -------------------------------------------------------------------------------

DEPOSIT_CREATE_DESCRIPTION = (
    "Credits `amount` to any account from its asset's world account; needs "
    "`ledger.deposit` (others: 403 `permission_denied`). A frozen or closed account is 409 "
    "`account_inactive`."
)
DEPOSIT_CREATE_EXAMPLES = [
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
]

# --- POST /withdrawals ----------------------------------------------------------------------------

WITHDRAWAL_CREATE_DESCRIPTION = (
    "Debits `amount` from an account to its asset's world account: `ledger.withdraw_any` "
    "any account, anyone else only its own (others' are 404). Too little available is 409 "
    "`insufficient_funds`; a risk rule may hold it for operator review (202)."
)
WITHDRAWAL_CREATE_EXAMPLES = [
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
]

# --- GET /transactions ----------------------------------------------------------------------------

TRANSACTION_LIST_DESCRIPTION = (
    "Transactions touching your accounts (staff: all) with their entries, "
    "cursor-paginated; filter by `account`, `kind`, `category`, `status` and creation "
    "time. Naming someone else's `account` is 404 `not_found`."
)
TRANSACTION_LIST_EXAMPLES = [
    OpenApiExample("A transfer", response_only=True, value=EXAMPLE_TRANSACTION)
]

# --- POST /transactions (general journal) ---------------------------------------------------------

TRANSACTION_CREATE_DESCRIPTION = (
    "Any number of signed entries on any accounts that sum to zero per asset; needs "
    "`ledger.post_journal` (others: 403). Unbalanced entries are 422 `validation_error`; "
    "an account left below zero is 409 `insufficient_funds`."
)
TRANSACTION_CREATE_EXAMPLES = [
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
]

# --- GET /transactions/{id} -----------------------------------------------------------------------

TRANSACTION_DETAIL_DESCRIPTION = (
    "One transaction touching your accounts (`ledger.view_transaction`: any), with its "
    "entries; any other is 404 `not_found`."
)
TRANSACTION_DETAIL_EXAMPLES = [
    OpenApiExample("A transfer", response_only=True, value=EXAMPLE_TRANSACTION)
]

# --- POST /transactions/{id}/reverse --------------------------------------------------------------

TRANSACTION_REVERSE_DESCRIPTION = (
    "Needs `ledger.reverse_transaction` (others: 403). Posts and answers a new `reversal` "
    "transaction mirroring the original's entries. A transaction not posted, already "
    "reversed, or itself a reversal is 409 `invalid_state`."
)
TRANSACTION_REVERSE_EXAMPLES = [
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
]

# --- POST /transactions/{id}/post -----------------------------------------------------------------

TRANSACTION_POST_DESCRIPTION = (
    "Operators, or the paying account's owner (not for transfers under risk review, which "
    "operators approve here). A hold can be posted or voided once: then 409 "
    "`invalid_state`; more than is held is 422 `validation_error`."
)
TRANSACTION_POST_EXAMPLES = [
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
]

# --- POST /transactions/{id}/void -----------------------------------------------------------------

TRANSACTION_VOID_DESCRIPTION = (
    "Moves no money. Operators, or the paying account's owner (not for transfers under "
    "risk review, which operators decline here: 403 otherwise). A hold already posted or "
    "voided is 409 `invalid_state`."
)
TRANSACTION_VOID_EXAMPLES = [
    OpenApiExample("Voided", response_only=True, value={**EXAMPLE_HOLD, "status": "voided"})
]
