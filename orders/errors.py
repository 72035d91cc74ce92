from ledgerflow.errors import DomainError


class TooManyPendingOrders(DomainError):
    """The account already holds MAX_PENDING_ORDERS pending orders."""

    code, title, status = "too_many_pending_orders", "Too many pending orders", 409
