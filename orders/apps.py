from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        from ledgerflow.admin_site import register_dashboard_panel
        from orders.selectors import pending_order_ages

        register_dashboard_panel("pending_orders", pending_order_ages)
        self.register_webhook_docs()

    @staticmethod
    def register_webhook_docs() -> None:
        from ledgerflow.webhook_schema import register_event_family
        from orders.apis import EXAMPLE_ORDER
        from orders.serializers import OrderSerializer

        register_event_family(
            "order",
            OrderSerializer,
            "the payment order",
            EXAMPLE_ORDER,
            {
                "order.created": "A payment order was opened",
                "order.completed": "A payment order was paid and settled into the ledger",
                "order.failed": "A payment order failed",
                "order.cancelled": "A payment order was cancelled",
                "order.expired": "A payment order expired unpaid",
                "order.needs_review": (
                    "A payment arrived with a different amount; operators review it"
                ),
            },
        )
