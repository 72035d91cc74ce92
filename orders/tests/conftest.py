from decimal import Decimal

import pytest

from orders import services


@pytest.fixture
def customer_account(account_factory, customer):
    """An empty USD account of `customer`: orders credit it, nothing needs to be in it."""
    return account_factory(owner=customer, asset__code="USD")


@pytest.fixture
def make_order(customer):
    def make(account, amount="25.00", actor=None):
        return services.create_order(
            actor=actor or customer, account_id=account.pk, amount=Decimal(amount)
        )

    return make
