"""Demo data for `make run`: logins, funded accounts, history, and something in every panel of
the admin dashboard (pending orders, a hold, a transfer held for review, a balance monitor, a
webhook endpoint and its deliveries, a ledger verification).

Idempotent: runs on every `make run`; each piece is created only when it is missing, through
the same services as the API (risk rules and monitors are configuration rows with no service:
created as the admin's forms create them). It always prints the login.
"""

import os
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import override_settings

from accounts.models import Account, Asset, User
from accounts.services import open_account
from ledger.models import BalanceMonitor, RiskRule, Transaction
from ledger.services import post_deposit, post_transfer, post_withdrawal
from ledgerflow.errors import DomainError
from orders.models import Order
from orders.services import create_order, record_deposit
from reporting.selectors import latest_verification
from reporting.services import record_verification
from webhooks.models import WebhookEndpoint
from webhooks.services import create_endpoint

STAFF_EMAIL = "admin@ledgerflow.local"
CUSTOMERS = [("alice@example.com", "telegram_123456"), ("bob@example.com", None)]
CUSTOMER_PASSWORD = "demo-password-123"
REVIEW_RULE = "Demo: USD transfers of 100.00 or more wait for review"
# example.com does not accept webhooks (and offline it does not resolve): its deliveries are
# retried and fill the dashboard's backlog panel. Delete the endpoint in the admin to stop them.
DEMO_WEBHOOK_URL = "https://example.com/ledgerflow-demo-webhook"
DEMO_TX_HASH = "0x" + "de" * 32  # the settled demo order's payment


class Command(BaseCommand):
    help = "Create demo users, accounts, history and dashboard data (idempotent); print the login."

    def handle(self, *args, **options):
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        staff = User.objects.filter(email=STAFF_EMAIL).first()
        if staff is None:
            staff = User.objects.create_superuser(STAFF_EMAIL, password)
        else:
            # A new password each run: the printed login always works, nothing stored in files.
            staff.set_password(password)
            staff.save(update_fields=["password"])

        self.changed = False
        with transaction.atomic():
            # Before the history, so that its events have deliveries.
            self._webhook_endpoint(staff)
            alice, bob = (self._customer(email, telegram) for email, telegram in CUSTOMERS)
            alice_usd = self._account(alice, "USD", "Wallet")
            alice_usdc = self._account(alice, "USDC", "On-chain")
            bob_usd = self._account(bob, "USD", "Wallet")
            if not Transaction.objects.exists():
                self._history(staff, alice, bob, alice_usd, alice_usdc, bob_usd)
            self._pending_orders(alice, alice_usdc)
            self._hold(bob, bob_usd, alice_usd)
            self._review(alice, alice_usd, bob_usd)
            self._monitor(bob_usd)
        if self.changed or latest_verification() is None:
            result = record_verification()
            self._note(f"ledger verified: {result.violation_count} violations")

        self.stdout.write(
            self.style.SUCCESS(
                "\nLedgerFlow demo is ready.\n"
                f"  Admin:     http://127.0.0.1:8000/admin/  {STAFF_EMAIL} / {password}\n"
                f"  Customers: {', '.join(e for e, _ in CUSTOMERS)} / {CUSTOMER_PASSWORD}\n"
                "  API docs:  http://127.0.0.1:8000/api/docs/\n"
            )
        )

    def _note(self, message: str) -> None:
        self.stdout.write(f"  seed_demo: {message}")

    def _customer(self, email: str, telegram_id: str | None) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, CUSTOMER_PASSWORD, telegram_id=telegram_id)
            self.changed = True
        return user

    def _account(self, owner: User, asset: str, name: str) -> Account:
        existing = Account.objects.filter(owner=owner, asset__code=asset, name=name).first()
        if existing:
            return existing
        self.changed = True
        return open_account(actor=owner, asset_code=asset, name=name)

    def _history(self, staff, alice, bob, alice_usd, alice_usdc, bob_usd) -> None:
        self.changed = True
        post_deposit(
            actor=staff, account_id=alice_usd.pk, amount=Decimal("250.00"), reference="card top-up"
        )
        post_deposit(
            actor=staff, account_id=bob_usd.pk, amount=Decimal("80.00"), reference="bank transfer"
        )
        post_deposit(
            actor=staff,
            account_id=alice_usdc.pk,
            amount=Decimal("1000.000000"),
            reference="on-chain deposit",
        )
        post_transfer(
            actor=alice,
            from_account_id=alice_usd.pk,
            to_account_id=bob_usd.pk,
            amount=Decimal("42.50"),
            reference="dinner",
            category="food",
        )
        post_transfer(
            actor=bob,
            from_account_id=bob_usd.pk,
            to_account_id=alice_usd.pk,
            amount=Decimal("12.00"),
            reference="taxi",
            category="transport",
        )
        post_withdrawal(
            actor=staff, account_id=bob_usd.pk, amount=Decimal("20.00"), reference="cash out"
        )
        # An order paid on chain, as the indexer feed reports it.
        paid = create_order(actor=alice, account_id=alice_usdc.pk, amount=Decimal("75"))
        record_deposit(
            actor=staff,
            order_id=paid.order_id,
            tx_hash=DEMO_TX_HASH,
            amount=Decimal("75"),
            confirmations=max(settings.ORDER_MIN_CONFIRMATIONS, 1),
        )

    def _pending_orders(self, alice: User, account: Account) -> None:
        """Orders waiting for their payment (the queue), up to the pending limit."""
        wanted = min(2, settings.MAX_PENDING_ORDERS)
        pending = Order.objects.filter(account=account, status=Order.Status.PENDING).count()
        for amount in ("250", "40.5")[pending:wanted]:
            create_order(actor=alice, account_id=account.pk, amount=Decimal(amount))
            self.changed = True

    def _hold(self, bob: User, source: Account, target: Account) -> None:
        """A two-phase transfer holding funds (not one held for review)."""
        holds = Transaction.objects.filter(
            status=Transaction.Status.PENDING, hold_from=source, hold_reason=""
        )
        if not holds.exists():
            self._try(
                "hold",
                lambda: post_transfer(
                    actor=bob,
                    from_account_id=source.pk,
                    to_account_id=target.pk,
                    amount=Decimal("15.00"),
                    reference="concert tickets (held)",
                    category="entertainment",
                    pending=True,
                ),
            )

    def _review(self, alice: User, source: Account, target: Account) -> None:
        """A review rule, and a transfer it holds for an operator."""
        rule = RiskRule.objects.filter(name=REVIEW_RULE).first()
        if rule is None:
            rule = RiskRule.objects.create(
                name=REVIEW_RULE,
                kind=RiskRule.Kind.REVIEW_THRESHOLD,
                action=RiskRule.Action.REVIEW,
                asset=Asset.objects.get(code="USD"),
                limit=10000,  # 100.00
            )
            self.changed = True
        in_review = Transaction.objects.filter(
            status=Transaction.Status.PENDING, hold_reason=Transaction.HoldReason.REVIEW
        )
        if rule.is_active and not in_review.exists():
            self._try(
                "transfer for review",
                lambda: post_transfer(
                    actor=alice,
                    from_account_id=source.pk,
                    to_account_id=target.pk,
                    amount=Decimal("150.00"),
                    reference="rent share",
                    category="housing",
                ),
            )

    def _monitor(self, account: Account) -> None:
        if not BalanceMonitor.objects.filter(account=account).exists():
            BalanceMonitor.objects.create(
                account=account, threshold=5000, direction=BalanceMonitor.Direction.BELOW
            )
            self.changed = True

    def _webhook_endpoint(self, staff: User) -> None:
        if WebhookEndpoint.objects.filter(owner=staff, url=DEMO_WEBHOOK_URL).exists():
            return

        def create() -> None:
            # The URL check stops customers' URLs from reaching private hosts (SSRF); this one
            # is a constant on a reserved public domain (RFC 2606), and checking it would need
            # DNS, which an offline demo lacks. Deliveries are still checked when sent.
            with override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True):
                create_endpoint(
                    actor=staff, url=DEMO_WEBHOOK_URL, description="Demo endpoint (seed_demo)"
                )

        self._try("webhook endpoint", create)

    def _try(self, what: str, create) -> None:
        """Create one optional piece; the demo goes on without it if a rule refuses it (an
        operator spent the funds, deleted endpoints up to the limit, ...)."""
        try:
            with transaction.atomic():
                create()
        except DomainError as exc:
            self._note(f"no demo {what}: {exc.detail}")
        else:
            self.changed = True
