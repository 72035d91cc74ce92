from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Default list pagination: opaque cursors, newest first, stable under inserts."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
