"""Demo data for `make run`: a staff login, two customers, funded accounts and some history.

Idempotent: runs on every `make run`; creates only what is missing and always prints the login.
"""

import os
import secrets
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Account, User
from accounts.services import open_account
from ledger.models import Transaction
from ledger.services import post_deposit, post_transfer, post_withdrawal

STAFF_EMAIL = "admin@ledgerflow.local"
CUSTOMERS = [("alice@example.com", "telegram_123456"), ("bob@example.com", None)]
CUSTOMER_PASSWORD = "demo-password-123"


class Command(BaseCommand):
    help = "Create demo users, accounts and transfers (idempotent); print the staff login."

    def handle(self, *args, **options):
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        staff = User.objects.filter(email=STAFF_EMAIL).first()
        if staff is None:
            staff = User.objects.create_superuser(STAFF_EMAIL, password)
        else:
            # A new password each run: the printed login always works, nothing stored in files.
            staff.set_password(password)
            staff.save(update_fields=["password"])

        with transaction.atomic():
            customers = []
            for email, telegram_id in CUSTOMERS:
                user = User.objects.filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(
                        email, CUSTOMER_PASSWORD, telegram_id=telegram_id
                    )
                customers.append(user)
            if not Transaction.objects.exists():
                self._history(staff, *customers)

        self.stdout.write(
            self.style.SUCCESS(
                "\nLedgerFlow demo is ready.\n"
                f"  Admin:     http://127.0.0.1:8000/admin/  {STAFF_EMAIL} / {password}\n"
                f"  Customers: {', '.join(e for e, _ in CUSTOMERS)} / {CUSTOMER_PASSWORD}\n"
                "  API docs:  http://127.0.0.1:8000/api/docs/\n"
            )
        )

    def _history(self, staff: User, alice: User, bob: User) -> None:
        def account(owner: User, asset: str, name: str) -> Account:
            existing = Account.objects.filter(owner=owner, asset__code=asset, name=name).first()
            return existing or open_account(actor=owner, asset_code=asset, name=name)

        alice_usd = account(alice, "USD", "Wallet")
        alice_usdc = account(alice, "USDC", "On-chain")
        bob_usd = account(bob, "USD", "Wallet")
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
