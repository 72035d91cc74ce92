"""Property-based: random operations against a simple model; invariants checked every step."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from accounts.models import Account
from accounts.tests.factories import AccountFactory, UserFactory
from ledger import services
from ledger.errors import AccountInactive, InsufficientFunds
from ledger.verification import verify_ledger
from ledgerflow.errors import InvalidState

pytestmark = pytest.mark.django_db

amounts = st.integers(min_value=1, max_value=50_000).map(lambda cents: Decimal(cents) / 100)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.staff = UserFactory(is_staff=True)
        self.accounts = [AccountFactory(owner=UserFactory()) for _ in range(4)]
        self.expected = {a.pk: 0 for a in self.accounts}
        self.frozen: set[int] = set()
        self.posted: list[tuple[int, list[tuple[int, int]]]] = []

    def minor(self, amount: Decimal) -> int:
        return int(amount * 100)

    @rule(i=st.integers(0, 3), amount=amounts)
    def deposit(self, i, amount):
        account = self.accounts[i]
        try:
            txn = services.post_deposit(actor=self.staff, account_id=account.pk, amount=amount)
        except AccountInactive:
            assert account.pk in self.frozen
            return
        self.expected[account.pk] += self.minor(amount)
        self.posted.append((txn.pk, [(account.pk, self.minor(amount))]))

    @rule(i=st.integers(0, 3), j=st.integers(0, 3), amount=amounts)
    def transfer(self, i, j, amount):
        if i == j:
            return
        source, target = self.accounts[i], self.accounts[j]
        minor = self.minor(amount)
        try:
            txn = services.post_transfer(
                actor=source.owner,
                from_account_id=source.pk,
                to_account_id=target.pk,
                amount=amount,
            )
        except InsufficientFunds:
            assert self.expected[source.pk] < minor
            return
        except AccountInactive:
            assert {source.pk, target.pk} & self.frozen
            return
        assert self.expected[source.pk] >= minor
        assert not {source.pk, target.pk} & self.frozen
        self.expected[source.pk] -= minor
        self.expected[target.pk] += minor
        self.posted.append((txn.pk, [(source.pk, -minor), (target.pk, minor)]))

    @rule(i=st.integers(0, 3), amount=amounts)
    def withdraw(self, i, amount):
        account = self.accounts[i]
        minor = self.minor(amount)
        try:
            services.post_withdrawal(actor=self.staff, account_id=account.pk, amount=amount)
        except InsufficientFunds:
            assert self.expected[account.pk] < minor
            return
        except AccountInactive:
            assert account.pk in self.frozen
            return
        self.expected[account.pk] -= minor

    @rule(i=st.integers(0, 3))
    def toggle_freeze(self, i):
        account = self.accounts[i]
        status = Account.Status.ACTIVE if account.pk in self.frozen else Account.Status.FROZEN
        Account.objects.filter(pk=account.pk).update(status=status)
        self.frozen ^= {account.pk}

    @rule(k=st.integers(0, 1000))
    def reverse(self, k):
        if not self.posted:
            return
        txn_pk, legs = self.posted.pop(k % len(self.posted))
        try:
            services.reverse_transaction(actor=self.staff, transaction_id=txn_pk)
        except InsufficientFunds:
            assert any(self.expected[pk] < delta for pk, delta in legs if delta > 0)
            return
        except InvalidState:
            raise AssertionError("a posted, unreversed transaction must be reversible") from None
        for pk, delta in legs:
            self.expected[pk] -= delta

    @invariant()
    def balances_match_the_model_and_the_books(self):
        actual = dict(Account.objects.filter(pk__in=self.expected).values_list("pk", "balance"))
        assert actual == self.expected
        assert all(balance >= 0 for balance in actual.values())
        assert verify_ledger().ok


def test_random_operations_keep_every_invariant():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
