"""OpenAPI descriptions and examples of the reporting endpoints (reporting/apis.py).

EXAMPLE_EXPORT is also the payload example of the `export.completed` webhook
(ledgerflow/webhook_schema.py).
"""

from typing import Any

from drf_spectacular.utils import OpenApiExample

EXAMPLE_EXPORT: dict[str, Any] = {
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
EXAMPLE_SNAPSHOT: dict[str, Any] = {
    "account": EXAMPLE_EXPORT["account"],
    "balance": "87.50",
    "pending_debits": "12.50",
    "pending_credits": "0.00",
    "taken_at": "2025-01-02T15:00:00Z",
}
EXAMPLE_SUMMARY: dict[str, Any] = {
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
}

# --- GET /accounts/{id}/snapshots ------------------------------------------------------------

SNAPSHOTS_DESCRIPTION = (
    "Snapshots of one of your accounts (staff: any), written by the `take-snapshots` beat "
    "task whenever the balances changed; filter with [`from`, `to`). Someone else's "
    "account is 404 `not_found`."
)
SNAPSHOTS_EXAMPLES = [OpenApiExample("A snapshot", response_only=True, value=EXAMPLE_SNAPSHOT)]

# --- GET /accounts/{id}/summary --------------------------------------------------------------

SUMMARY_DESCRIPTION = (
    "Totals of the posted entries of one of your accounts (staff: any) created in "
    "[`from`, `to`); someone else's account is 404 `not_found`. Reads may lag a replica "
    "slightly."
)
SUMMARY_EXAMPLES = [OpenApiExample("January", response_only=True, value=EXAMPLE_SUMMARY)]

# --- POST /exports, GET /exports/{id}, GET /exports/{id}/download ----------------------------

EXPORT_CREATE_DESCRIPTION = (
    "Answers 202 at once; poll `GET /exports/{id}` until `status` is `completed`, then "
    "follow `download_url`. Without `account`, covers all your accounts; naming someone "
    "else's account is 404 `not_found`."
)
EXPORT_CREATE_EXAMPLES = [
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
]
EXPORT_DETAIL_DESCRIPTION = (
    "One of your exports: `pending`, `running`, `completed` (with `row_count` and "
    "`download_url`) or `failed` (with `error`). Someone else's export is 404 `not_found`."
)
EXPORT_DETAIL_EXAMPLES = [OpenApiExample("Completed", response_only=True, value=EXAMPLE_EXPORT)]
EXPORT_DOWNLOAD_DESCRIPTION = (
    "Streams `text/csv` as an attachment. Exports are visible to their owner only "
    "(others: 404 `not_found`); one not yet completed is 409 `invalid_state`."
)
