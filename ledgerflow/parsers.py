"""JSON parsing that never turns a number into a float: money stays exact from the wire on."""

import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ledgerflow.errors import PayloadTooLarge
from ledgerflow.money import ExponentDecimal

# Far beyond any request we accept (a batch of transfers with metadata is about 8 deep), far
# below Python's recursion limit, which a body parsed this deep could hit later (a 500).
MAX_JSON_DEPTH = 32


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # ApiView refuses a Content-Length over the limit; this catches a body without one.
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        try:
            data = json.loads(
                raw.decode(encoding),
                parse_float=_decimal_number,  # json's hook for numbers with a fraction or exponent
                parse_constant=_reject_constant,
            )
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise ParseError(f"JSON parse error - {_reason(exc)}") from exc
        if _deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        return data


def _decimal_number(text: str) -> Decimal:
    # Exact either way; the mark lets AmountField refuse `1e3` (metadata may keep it).
    return ExponentDecimal(text) if "e" in text or "E" in text else Decimal(text)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _reason(exc: Exception) -> str:
    return "nested too deep" if isinstance(exc, RecursionError) else str(exc)


def _deeper_than(data: object, limit: int) -> bool:
    """Iterative, so a deep document cannot exhaust the stack here."""
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
