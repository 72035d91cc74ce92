from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"

    def ready(self) -> None:
        from ledger import selectors
        from ledger.models import IdempotencyKey
        from ledgerflow import idempotency, metrics
        from ledgerflow.admin_site import register_dashboard_panel

        # The records of ledgerflow.idempotency live in ledger's table (written with the
        # money movement they answer for).
        idempotency.register_record_model(IdempotencyKey)
        register_dashboard_panel("holds_in_review", selectors.holds_in_review)
        register_dashboard_panel("transfers_since", selectors.transfers_since)
        register_dashboard_panel("transfer_volume_by_hour", selectors.transfer_volume_by_hour)
        metrics.register_state_source("holds", selectors.hold_counts)
        self.register_webhook_docs()

    @staticmethod
    def register_webhook_docs() -> None:
        from accounts.apis import EXAMPLE_ACCOUNT
        from ledger.schema import EXAMPLE_TRANSACTION
        from ledger.serializers import BalanceThresholdCrossedSerializer, TransactionSerializer
        from ledgerflow.webhook_schema import register_event_family

        register_event_family(
            "transaction",
            TransactionSerializer,
            "the transaction with its entries",
            EXAMPLE_TRANSACTION,
            {
                "transaction.posted": "Money moved: a transaction was posted",
                "transaction.pending": "Funds are held by a pending transfer",
                "transaction.voided": "A pending transfer was voided; its hold released",
                "transaction.reversed": "A posted transaction was reversed",
            },
        )
        register_event_family(
            "balance",
            BalanceThresholdCrossedSerializer,
            "the crossing",
            {
                "account": EXAMPLE_ACCOUNT["id"],
                "asset": "USD",
                "direction": "below",
                "threshold": "100.00",
                "balance_before": "112.50",
                "balance_after": "87.50",
            },
            {"balance.threshold_crossed": "A balance crossed a monitor's threshold"},
        )
