"""How an order looks outside: one function, shared by the API and the events."""

from typing import Any

from ledgerflow.money import to_major
from orders.models import Deposit, Order


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def order_data(order: Order) -> dict[str, Any]:
    settlement = order.settlement if order.settlement_id else None
    return {
        "order_id": order.order_id,
        "account": order.account.public_id,
        "amount": to_major(order.amount, order.asset.exponent),
        "received_amount": (
            to_major(order.received_amount, order.asset.exponent)
            if order.received_amount is not None
            else None
        ),
        "asset": order.asset.code,
        "status": order.status,
        "vault_address": order.vault_address,
        "tx_hash": order.tx_hash,
        "expires_at": _iso(order.expires_at),
        "created_at": _iso(order.created_at),
        "completed_at": _iso(order.completed_at),
        "transaction": settlement.public_id if settlement is not None else None,
    }


def deposit_data(deposit: Deposit) -> dict[str, Any]:
    order = deposit.order
    return {
        "tx_hash": deposit.tx_hash,
        "order_id": order.order_id,
        "amount": to_major(deposit.amount, order.asset.exponent),
        "asset": order.asset.code,
        "confirmations": deposit.confirmations,
        "status": deposit.status,
        "created_at": _iso(deposit.created_at),
        "updated_at": _iso(deposit.updated_at),
        "order": order_data(order),
    }
