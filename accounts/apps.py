from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and identity"

    def ready(self) -> None:
        from accounts import checks  # noqa: F401  (registers the deploy checks)
        from accounts.models import ApiKey
        from accounts.selectors import balances_by_asset
        from ledgerflow import idempotency
        from ledgerflow.admin_site import register_dashboard_panel

        # A request authenticated by an API key (request.auth) acts as the key, not its user.
        idempotency.register_auth_principal(ApiKey, "apikey")
        register_dashboard_panel("balances_by_asset", balances_by_asset)
        self.register_webhook_docs()

    @staticmethod
    def register_webhook_docs() -> None:
        from accounts.apis import EXAMPLE_ACCOUNT
        from accounts.serializers import AccountEventDataSerializer
        from ledgerflow.webhook_schema import register_event_family

        register_event_family(
            "account",
            AccountEventDataSerializer,
            "the account",
            {key: EXAMPLE_ACCOUNT[key] for key in ("id", "owner", "name", "asset", "status")},
            {
                "account.created": "An account was opened",
                "account.updated": "An account's name or metadata changed",
                "account.closed": "An account was closed",
            },
        )
