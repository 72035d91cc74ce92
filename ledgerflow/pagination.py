from datetime import UTC

from django.core.exceptions import ValidationError
from django.db import models
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

INT64 = 2**63


class NewestFirstCursorPagination(CursorPagination):
    """Default list pagination: opaque cursors, newest first, stable under inserts."""

    ordering: tuple[str, ...] = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        # DRF checks a cursor's offset but not its position, which it puts straight into the
        # query: a forged one ("p=garbage" against an integer or time column) was a 500.
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
            if not _storable(field, cursor.position):
                raise NotFound(self.invalid_cursor_message)
        return cursor


def _storable(field: models.Field, text: str) -> bool:
    """Whether `text` is a value the database could compare `field` with."""
    try:
        value = field.to_python(text)
        if isinstance(field, models.DateTimeField):
            value.astimezone(UTC)  # OverflowError near year 1 or 9999
        elif isinstance(field, models.IntegerField):
            return -INT64 <= value < INT64
    except (ValidationError, ValueError, TypeError, OverflowError, AttributeError):
        return False
    return True
