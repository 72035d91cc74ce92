"""Business metrics (Prometheus). Counted after commit so a rollback counts as nothing."""

from prometheus_client import Counter, Gauge, Histogram

TRANSFERS = Counter(
    "ledgerflow_transfers", "Money movements by kind and outcome", ["kind", "outcome"]
)
TRANSFER_VOLUME = Counter(
    "ledgerflow_transfer_volume_minor", "Posted volume in minor units by asset", ["asset"]
)
IDEMPOTENT_REPLAYS = Counter("ledgerflow_idempotent_replays", "Responses replayed by key")
INSUFFICIENT_FUNDS = Counter("ledgerflow_insufficient_funds", "Movements refused for funds")
ORDERS = Counter("ledgerflow_orders", "Order transitions by resulting status", ["status"])
# Gauges say how to combine processes under PROMETHEUS_MULTIPROC_DIR: the latest value wins.
PENDING_ORDERS = Gauge(
    "ledgerflow_pending_orders",
    "Pending orders (set by the orders selector)",
    multiprocess_mode="mostrecent",
)
WEBHOOK_DELIVERIES = Counter(
    "ledgerflow_webhook_deliveries", "Webhook delivery attempts by outcome", ["outcome"]
)
WEBHOOK_DELIVERY_LAG = Histogram(
    "ledgerflow_webhook_delivery_lag_seconds",
    "Event created -> delivered",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600),
)
WEBHOOK_REQUEUED = Counter(
    "ledgerflow_webhook_requeued", "Overdue webhook deliveries re-enqueued (lost messages)"
)
VERIFY_VIOLATIONS = Gauge(
    "ledgerflow_verify_ledger_violations",
    "Violations at the last run",
    multiprocess_mode="mostrecent",
)
VERIFY_LAST_RUN = Gauge(
    "ledgerflow_verify_ledger_last_run_timestamp_seconds",
    "Unix time of the last verify_ledger",
    multiprocess_mode="mostrecent",
)
RISK_DECISIONS = Counter(
    "ledgerflow_risk_decisions",
    "Risk rule evaluations by rule kind and decision",
    ["rule_kind", "decision"],
)
HOLDS = Counter("ledgerflow_holds", "Two-phase transfer steps by outcome", ["outcome"])
