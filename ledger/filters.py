from datetime import UTC

import django_filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from ledger.models import Transaction


class InstantField(IsoDateTimeField):
    """An ISO 8601 instant that exists in UTC: `9999-12-31T23:59:59-14:00` parses but
    overflows when the database adapter converts it (a 500 before this field refused it)."""

    def to_python(self, value):
        instant = super().to_python(value)
        try:
            # In UTC: PostgreSQL refuses offsets beyond 15:59 that Python parses (`+16:19`
            # was a 500 found by schemathesis).
            return instant.astimezone(UTC) if instant is not None else None
        except OverflowError:
            raise forms.ValidationError("Out of the range of representable times.") from None


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = InstantField


class TransactionFilter(django_filters.FilterSet):
    account = django_filters.CharFilter(method="filter_account", help_text="Account id")
    kind = django_filters.ChoiceFilter(choices=Transaction.Kind.choices)
    status = django_filters.ChoiceFilter(choices=Transaction.Status.choices)
    category = django_filters.CharFilter()
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte")
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Transaction
        fields = ["account", "kind", "status", "category", "created_after", "created_before"]

    def filter_account(self, queryset, name, value):
        # The view has already checked the caller may see this account (404 otherwise).
        # Posted transactions have entries on the account; holds name it as source or target.
        return queryset.filter(
            Q(entries__account__public_id=value)
            | Q(hold_from__public_id=value)
            | Q(hold_to__public_id=value)
        ).distinct()
