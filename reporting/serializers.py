"""Input and output shapes of the reporting API (snapshots, summaries, exports).

`from`, `in` are Python keywords, so the serializers that carry them are built with `type()`.
"""

from rest_framework import serializers

from ledgerflow.money import to_major
from reporting.csv_export import iso
from reporting.models import BalanceSnapshot, Export
from reporting.selectors import Summary, Totals
from reporting.services import export_data


class BalanceSnapshotSerializer(serializers.Serializer):
    """An account's balances at one instant, written by the snapshot beat task."""

    account = serializers.CharField()
    balance = serializers.CharField()
    pending_debits = serializers.CharField()
    pending_credits = serializers.CharField()
    taken_at = serializers.DateTimeField()

    def to_representation(self, snapshot: BalanceSnapshot) -> dict:
        account = self.context["account"]
        exponent = account.asset.exponent
        return {
            "account": account.public_id,
            "balance": to_major(snapshot.balance, exponent),
            "pending_debits": to_major(snapshot.pending_debits, exponent),
            "pending_credits": to_major(snapshot.pending_credits, exponent),
            "taken_at": iso(snapshot.taken_at),
        }


def _period_fields(help_from: str, help_to: str) -> dict:
    return {
        "from": serializers.DateTimeField(required=False, help_text=help_from),
        "to": serializers.DateTimeField(required=False, help_text=help_to),
    }


SnapshotQuerySerializer = type(
    "SnapshotQuerySerializer",
    (serializers.Serializer,),
    _period_fields("Taken at or after (ISO 8601).", "Taken before (ISO 8601)."),
)
SummaryQuerySerializer = type(
    "SummaryQuerySerializer",
    (serializers.Serializer,),
    _period_fields("Start, inclusive (default: the beginning).", "End, exclusive (default: now)."),
)


def _totals_fields() -> dict:
    return {
        "in": serializers.CharField(help_text="Money in: sum of positive entries."),
        "out": serializers.CharField(help_text="Money out: sum of negative entries, positive."),
        "net": serializers.CharField(help_text="in - out."),
    }


CategoryTotalsSerializer = type(
    "CategoryTotalsSerializer",
    (serializers.Serializer,),
    {"category": serializers.CharField(), **_totals_fields()},
)
KindTotalsSerializer = type(
    "KindTotalsSerializer",
    (serializers.Serializer,),
    {"kind": serializers.CharField(), **_totals_fields()},
)


def _totals(totals: Totals, exponent: int) -> dict:
    return {
        "in": to_major(totals.money_in, exponent),
        "out": to_major(totals.money_out, exponent),
        "net": to_major(totals.net, exponent),
    }


def summary_data(summary: Summary) -> dict:
    exponent = summary.account.asset.exponent
    total = _totals(summary.total, exponent)
    return {
        "account": summary.account.public_id,
        "asset": summary.account.asset.code,
        "from": iso(summary.since),
        "to": iso(summary.until),
        "total_in": total["in"],
        "total_out": total["out"],
        "net": total["net"],
        "by_category": [
            {"category": category, **_totals(totals, exponent)}
            for category, totals in summary.by_category.items()
        ],
        "by_kind": [
            {"kind": kind, **_totals(totals, exponent)} for kind, totals in summary.by_kind.items()
        ],
    }


class _AccountSummarySerializer(serializers.Serializer):
    def to_representation(self, summary: Summary) -> dict:
        return summary_data(summary)


AccountSummarySerializer = type(
    "AccountSummarySerializer",
    (_AccountSummarySerializer,),
    {
        "__doc__": "Money in, out and net of one account over a period, by category and kind.",
        "account": serializers.CharField(),
        "asset": serializers.CharField(),
        "from": serializers.DateTimeField(allow_null=True),
        "to": serializers.DateTimeField(),
        "total_in": serializers.CharField(),
        "total_out": serializers.CharField(),
        "net": serializers.CharField(),
        "by_category": CategoryTotalsSerializer(many=True),
        "by_kind": KindTotalsSerializer(many=True),
    },
)

ExportCreateSerializer = type(
    "ExportCreateSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "What to export; without `account`, all your accounts.",
        "kind": serializers.ChoiceField(choices=Export.Kind.choices),
        "account": serializers.CharField(required=False, help_text="One of your account ids."),
        **_period_fields("Created at or after (ISO 8601).", "Created before (ISO 8601)."),
    },
)


class _ExportSerializer(serializers.Serializer):
    def to_representation(self, export: Export) -> dict:
        return export_data(export, download_url=self.context.get("download_url"))


ExportSerializer = type(
    "ExportSerializer",
    (_ExportSerializer,),
    {
        "__doc__": "An asynchronous CSV export and, once completed, where to download it.",
        "id": serializers.CharField(),
        "status": serializers.ChoiceField(choices=Export.Status.choices),
        "kind": serializers.ChoiceField(choices=Export.Kind.choices),
        "account": serializers.CharField(allow_null=True),
        "from": serializers.DateTimeField(allow_null=True),
        "to": serializers.DateTimeField(allow_null=True),
        "row_count": serializers.IntegerField(allow_null=True),
        "error": serializers.CharField(allow_null=True),
        "download_url": serializers.URLField(allow_null=True),
        "created_at": serializers.DateTimeField(),
        "completed_at": serializers.DateTimeField(allow_null=True),
    },
)
