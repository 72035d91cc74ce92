from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """Balances over time, period summaries, CSV exports and verification runs, read from the
    ledger's books (reporting -> ledger; the ledger never imports reporting)."""

    name = "reporting"

    def ready(self) -> None:
        from ledgerflow.admin_site import register_dashboard_panel
        from reporting.selectors import latest_verification

        register_dashboard_panel("latest_verification", latest_verification)
        self.register_webhook_docs()

    @staticmethod
    def register_webhook_docs() -> None:
        from ledgerflow.webhook_schema import register_event_family
        from reporting.schema import EXAMPLE_EXPORT
        from reporting.serializers import ExportSerializer

        register_event_family(
            "export",
            ExportSerializer,
            "the export",
            {**EXAMPLE_EXPORT, "download_url": None},
            {"export.completed": "An export finished"},
        )
