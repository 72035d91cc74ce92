from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from ledgerflow import metrics
        from ledgerflow.admin_site import register_dashboard_panel
        from ledgerflow.webhook_schema import register_event_types
        from webhooks.models import EVENT_TYPES
        from webhooks.selectors import delivery_backlog, outbox_state

        register_dashboard_panel("delivery_backlog", delivery_backlog)
        metrics.register_state_source("outbox", outbox_state)
        register_event_types(EVENT_TYPES)  # the OpenAPI `webhooks` section, in this order
