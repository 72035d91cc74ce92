from ledgerflow.errors import DomainError, ErrorCode


class TooManyPendingOrders(DomainError):
    """The account already holds MAX_PENDING_ORDERS pending orders."""

    code, title, status = ErrorCode.TOO_MANY_PENDING_ORDERS, "Too many pending orders", 409
