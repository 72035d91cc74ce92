import django_filters
from django.db.models import Q

from ledger.models import Transaction


class TransactionFilter(django_filters.FilterSet):
    account = django_filters.CharFilter(method="filter_account", help_text="Account id")
    kind = django_filters.ChoiceFilter(choices=Transaction.Kind.choices)
    status = django_filters.ChoiceFilter(choices=Transaction.Status.choices)
    category = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

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
