from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from ledgerflow.money import AmountField
from orders.models import Deposit, Order
from orders.representations import deposit_data, order_data


class OrderSerializer(serializers.Serializer):
    """A payment order. `amount` is a decimal string with the asset's decimals."""

    order_id = serializers.CharField(help_text="0x + 64 lowercase hex (keccak-256).")
    account = serializers.CharField()
    amount = serializers.CharField()
    received_amount = serializers.CharField(
        allow_null=True,
        help_text="Set when a payment of a different amount arrived (status needs_review).",
    )
    asset = serializers.CharField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    vault_address = serializers.CharField(help_text="Where the payment is to be sent.")
    tx_hash = serializers.CharField(allow_null=True, help_text="Set when completed.")
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    transaction = serializers.CharField(
        allow_null=True, help_text="The order_settlement transaction, once completed."
    )

    def to_representation(self, instance: Order) -> dict:
        return order_data(instance)


class OrderCreateSerializer(serializers.Serializer):
    account = serializers.CharField(help_text="The account to credit (yours).")
    amount = AmountField()


def _tx_hash_field() -> serializers.RegexField:
    return serializers.RegexField(
        r"^0[xX][0-9a-fA-F]{64}$",
        help_text="The payment's transaction hash: 0x + 64 hex digits (any case).",
        error_messages={"invalid": "Must be 0x followed by 64 hex digits."},
    )


class OrderCompleteSerializer(serializers.Serializer):
    tx_hash = _tx_hash_field()

    def validate_tx_hash(self, value: str) -> str:
        return value.lower()


class DepositCreateSerializer(serializers.Serializer):
    order_id = serializers.CharField(help_text="The order the payment names (with or without 0x).")
    tx_hash = _tx_hash_field()
    amount = AmountField(help_text="What the payment carried, in major units of the order's asset.")
    confirmations = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, help_text="Blocks on top of the payment's, as seen now."
    )

    def validate_tx_hash(self, value: str) -> str:
        return value.lower()


class DepositSerializer(serializers.Serializer):
    """An on-chain payment an indexer reported, and what LedgerFlow made of it."""

    tx_hash = serializers.CharField()
    order_id = serializers.CharField()
    amount = serializers.CharField(help_text="What the payment carried (major units).")
    asset = serializers.CharField()
    confirmations = serializers.IntegerField(help_text="The most the indexer has reported.")
    status = serializers.ChoiceField(
        choices=Deposit.Status.choices,
        help_text=(
            "`pending`: below ORDER_MIN_CONFIRMATIONS, nothing settled; `settled`: the order "
            "is completed with this payment; `needs_review`: the amount differs from the "
            "order's, which waits for an operator."
        ),
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    order = OrderSerializer(help_text="The order as it is now.")

    def to_representation(self, instance: Deposit) -> dict:
        return deposit_data(instance)


class OrderListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)


class OrderQueueQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, default=Order.Status.PENDING)
    limit = serializers.IntegerField(
        required=False, min_value=1, help_text="Page size: default 50, larger than 500 is capped."
    )
    offset = serializers.IntegerField(required=False, min_value=0, default=0)


# The page itself (not a list to paginate): drf-spectacular would wrap it in a second page.
@extend_schema_serializer(many=False)
class OrderQueuePageSerializer(serializers.Serializer):
    """One page of the operator queue, in the original balancer's shape."""

    total_count = serializers.IntegerField(help_text="All matching orders, not just this page.")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = OrderSerializer(many=True)
