from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.models import Entry, Transaction
from ledger.representations import transaction_data
from ledgerflow.fields import MetadataField
from ledgerflow.money import AmountField, to_major


class EntryLineSerializer(serializers.Serializer):
    account = serializers.CharField()
    amount = serializers.CharField(help_text="Signed decimal string; negative lowers the balance.")
    balance_after = serializers.CharField(
        required=False,
        help_text="Only on entries of accounts you own (staff: accounts you may view).",
    )
    version = serializers.IntegerField(
        required=False,
        help_text="The account's entry sequence number; shown with `balance_after` only.",
    )


class TransactionSerializer(serializers.Serializer):
    """A posted, pending or voided transaction with its entries."""

    id = serializers.CharField()
    kind = serializers.ChoiceField(choices=Transaction.Kind.choices)
    status = serializers.ChoiceField(choices=Transaction.Status.choices)
    reference = serializers.CharField()
    category = serializers.CharField()
    metadata = serializers.DictField()
    amount = serializers.CharField()
    asset = serializers.CharField()
    created_at = serializers.DateTimeField()
    reverses = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True, help_text="When a hold lapses.")
    hold_reason = serializers.CharField(
        allow_null=True, help_text='"review" while a risk rule holds it for operators.'
    )
    entries = EntryLineSerializer(many=True, help_text="Empty while pending.")

    def to_representation(self, instance: Transaction) -> dict:
        # context["shown_to"] from ledger.selectors.entry_scope(viewer); without it no entry
        # shows its balance (0 is nobody's user id), so a forgotten context cannot leak one.
        return transaction_data(instance, self.context.get("shown_to", 0))


class StatementEntrySerializer(serializers.ModelSerializer):
    """One line of an account statement."""

    transaction = serializers.CharField(source="transaction.public_id")
    kind = serializers.CharField(source="transaction.kind")
    reference = serializers.CharField(source="transaction.reference")
    category = serializers.CharField(source="transaction.category")
    amount = serializers.SerializerMethodField()
    balance_after = serializers.SerializerMethodField()
    version = serializers.IntegerField(source="account_version")

    class Meta:
        model = Entry
        fields = [
            "transaction",
            "kind",
            "reference",
            "category",
            "amount",
            "balance_after",
            "version",
            "created_at",
        ]

    @extend_schema_field(str)
    def get_amount(self, entry: Entry) -> str:
        return to_major(entry.amount, self.context["exponent"])

    @extend_schema_field(str)
    def get_balance_after(self, entry: Entry) -> str:
        return to_major(entry.balance_after, self.context["exponent"])


class BalanceSerializer(serializers.Serializer):
    account = serializers.CharField()
    asset = serializers.CharField()
    balance = serializers.CharField()
    available = serializers.CharField()
    pending_debits = serializers.CharField()
    pending_credits = serializers.CharField()
    version = serializers.IntegerField()
    as_of = serializers.DateTimeField()

    def to_representation(self, balance) -> dict:
        exponent = balance.account.asset.exponent
        return {
            "account": balance.account.public_id,
            "asset": balance.account.asset.code,
            "balance": to_major(balance.balance, exponent),
            "available": to_major(balance.available, exponent),
            "pending_debits": to_major(balance.pending_debits, exponent),
            "pending_credits": to_major(balance.pending_credits, exponent),
            "version": balance.version,
            "as_of": balance.as_of.isoformat().replace("+00:00", "Z"),
        }


class BalanceQuerySerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, help_text="ISO 8601 instant in the past.")
    version = serializers.IntegerField(required=False, min_value=0)

    def validate(self, attrs):
        if "at" in attrs and "version" in attrs:
            raise serializers.ValidationError("Give `at` or `version`, not both.")
        return attrs


class EntryQuerySerializer(serializers.Serializer):
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


_TEXT: dict[str, Any] = {"required": False, "allow_blank": True, "default": ""}


class TransferCreateSerializer(serializers.Serializer):
    from_account = serializers.CharField(help_text="Source account id (yours).")
    to_account = serializers.CharField(help_text="Destination account id.")
    amount = AmountField()
    reference = serializers.CharField(max_length=255, **_TEXT)
    category = serializers.CharField(max_length=64, **_TEXT)
    metadata = MetadataField()
    pending = serializers.BooleanField(
        required=False, default=False, help_text="Hold the amount instead of posting it."
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When the hold lapses."
    )


class BatchCreateSerializer(serializers.Serializer):
    transfers = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=1000,
        help_text="Up to 1,000 transfers, each as in POST /transfers.",
    )


class BatchResultSerializer(serializers.Serializer):
    transactions = TransactionSerializer(many=True)


class PostPendingSerializer(serializers.Serializer):
    amount = AmountField(required=False, help_text="Default: the whole held amount.")


class AccountMovementCreateSerializer(serializers.Serializer):
    """Deposit or withdrawal."""

    account = serializers.CharField()
    amount = AmountField()
    reference = serializers.CharField(max_length=255, **_TEXT)
    category = serializers.CharField(max_length=64, **_TEXT)
    metadata = MetadataField()


class JournalLineSerializer(serializers.Serializer):
    account = serializers.CharField()
    amount = AmountField(signed=True, help_text='Signed decimal string, e.g. "-5.00".')


class JournalCreateSerializer(serializers.Serializer):
    # many=True hands min_length/max_length to the ListSerializer; the stubs type the child's.
    entries = JournalLineSerializer(many=True, min_length=2, max_length=1000)  # type: ignore[call-arg]
    reference = serializers.CharField(max_length=255, **_TEXT)
    category = serializers.CharField(max_length=64, **_TEXT)
    metadata = MetadataField()


class ReverseRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class BalanceThresholdCrossedSerializer(serializers.Serializer):
    """A balance monitor's threshold crossed by a movement."""

    account = serializers.CharField()
    asset = serializers.CharField()
    direction = serializers.ChoiceField(choices=["below", "above"])
    threshold = serializers.CharField(help_text="Major units, with the asset's decimals.")
    balance_before = serializers.CharField()
    balance_after = serializers.CharField()
