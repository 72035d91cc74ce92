from rest_framework import serializers

from ledgerflow.money import AmountField
from orders.models import Order
from orders.representations import order_data


class OrderSerializer(serializers.Serializer):
    """A payment order. `amount` is a decimal string with the asset's decimals."""

    order_id = serializers.CharField(help_text="0x + 64 lowercase hex (keccak-256).")
    account = serializers.CharField()
    amount = serializers.CharField()
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


class OrderCompleteSerializer(serializers.Serializer):
    tx_hash = serializers.RegexField(
        r"^0[xX][0-9a-fA-F]{64}$",
        help_text="The payment's transaction hash: 0x + 64 hex digits (any case).",
        error_messages={"invalid": "Must be 0x followed by 64 hex digits."},
    )

    def validate_tx_hash(self, value: str) -> str:
        return value.lower()


class OrderListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)


class OrderQueueQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, default=Order.Status.PENDING)
    limit = serializers.IntegerField(
        required=False, min_value=1, help_text="Page size: default 50, larger than 500 is capped."
    )
    offset = serializers.IntegerField(required=False, min_value=0, default=0)


class OrderQueuePageSerializer(serializers.Serializer):
    """One page of the operator queue, in the original balancer's shape."""

    total_count = serializers.IntegerField(help_text="All matching orders, not just this page.")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    results = OrderSerializer(many=True)
