"""The one place that converts between decimal major units and integer minor units.

Inside, money is an int of minor units that fits a signed 64-bit column. At the edge it is a
decimal string with exactly the asset's decimals ("12.50"). Never a float.
"""

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

INT64_MAX = 2**63 - 1
MAX_DIGITS = 18
# Plain decimal notation in ASCII digits only: no exponents, underscores, thousands separators
# or other scripts' digits (`\d` would let "١٠٠" through, and Decimal reads it as 100).
_DECIMAL_TEXT = re.compile(r"-?([0-9]+(\.[0-9]+)?|\.[0-9]+)")


class ExponentDecimal(Decimal):
    """A JSON number written with an exponent (`1e3`): exact, but not how amounts are sent."""


class InvalidAmount(ValueError):
    """The amount cannot be represented: sent to the client as a field error."""


def parse_decimal(value: object, *, signed: bool = False) -> Decimal:
    """A positive (or, if `signed`, non-zero) finite Decimal from a string or JSON number."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidAmount('Send the amount as a decimal string such as "12.50".')
    if isinstance(value, ExponentDecimal):
        raise InvalidAmount('No exponents; send e.g. "1000.00", not 1e3.')
    if isinstance(value, str):
        value = value.strip()
        if value.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise InvalidAmount("NaN and infinity are not amounts.")
        if not _DECIMAL_TEXT.fullmatch(value):
            raise InvalidAmount('Not a decimal number; send e.g. "12.50".')
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidAmount("Not a decimal number.") from None
    if not amount.is_finite():
        raise InvalidAmount("NaN and infinity are not amounts.")
    if amount == 0 or (amount < 0 and not signed):
        raise InvalidAmount("The amount must be greater than zero.")
    digits = len(amount.normalize().as_tuple().digits)
    if digits > MAX_DIGITS or abs(amount).adjusted() >= MAX_DIGITS:
        raise InvalidAmount(f"At most {MAX_DIGITS} significant digits.")
    return amount


def to_minor(amount: Decimal, exponent: int) -> int:
    """12.50 at exponent 2 -> 1250. Rejects excess decimals and int64 overflow."""
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"At most {exponent} decimal places for this asset.")
    minor = int(scaled)
    if abs(minor) > INT64_MAX:
        raise InvalidAmount("The amount is too large for this asset.")
    return minor


_POWERS = tuple(10**exponent for exponent in range(19))


def to_major(minor: int, exponent: int) -> str:
    """1250 at exponent 2 -> "12.50"; -5 -> "-0.05": always exactly `exponent` places.

    Integer arithmetic (every amount in every response and export row goes through here);
    the Decimal round trip of to_minor is its inverse (tests/test_money.py).
    """
    if not exponent:
        return str(minor)
    whole, fraction = divmod(abs(minor), _POWERS[exponent])
    return f"{'-' if minor < 0 else ''}{whole}.{fraction:0{exponent}d}"


class AssetLike(Protocol):
    """What money_text reads of an asset (accounts.models.Asset: ledgerflow imports no app)."""

    @property
    def exponent(self) -> int: ...

    @property
    def code(self) -> str: ...


def money_text(minor: int, asset: AssetLike) -> str:
    """1250 of USD -> "12.50 USD": how people read an amount (admin columns, error details)."""
    return f"{to_major(minor, asset.exponent)} {asset.code}"


_ZERO_TEXT = re.compile(r"-?(0+(\.0+)?|\.0+)")


def parse_major(text: str, exponent: int, *, signed: bool = False, zero: bool = False) -> int:
    """An operator's "12.50" -> 1250 minor units at `exponent` (admin forms).

    The API's rules (parse_decimal, to_minor): no floats, exponents or excess decimals; `zero`
    also accepts "0" / "0.00" (a limit or threshold of zero is meaningful). Raises InvalidAmount.
    """
    text = text.strip() if isinstance(text, str) else text
    if zero and isinstance(text, str) and _ZERO_TEXT.fullmatch(text):
        return 0
    return to_minor(parse_decimal(text, signed=signed), exponent)


def fits_int64(value: int) -> bool:
    return -INT64_MAX - 1 <= value <= INT64_MAX


@extend_schema_field({"type": "string", "format": "decimal", "example": "12.50"})
class AmountField(serializers.Field[Decimal, object, str, Any]):
    """A positive amount in major units: a decimal string or a JSON number -> Decimal."""

    default_error_messages = {"invalid": "{message}"}

    def __init__(self, *, signed: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", 'Decimal string in major units, e.g. "12.50".')
        super().__init__(**kwargs)
        self.signed = signed

    def to_internal_value(self, data: object) -> Decimal:
        try:
            return parse_decimal(data, signed=self.signed)
        except InvalidAmount as exc:
            self.fail("invalid", message=str(exc))

    def to_representation(self, value: object) -> str:
        return str(value)
