"""`metadata`: the client's free-form JSON object, bounded so that any database stores it as sent.

One rule for every resource that carries metadata (accounts, transfers, deposits, withdrawals,
journals), applied by `MetadataField` in the API and by the model field's validator in the admin.
Numbers stay exact: the parser reads them as `Decimal`, and the JSON columns store a `Decimal` as
its decimal string (`DjangoJSONEncoder`), never as a float.
"""

import json
import math
from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_KEYS = 50  # in the top-level object
MAX_KEY_LENGTH = 40  # characters, at every level
MAX_DEPTH = 5  # the object itself is level 1
MAX_BYTES = 8 * 1024  # encoded as UTF-8 JSON


def validate_metadata(value: object) -> None:
    """Raise ValidationError (every problem found, at most one per kind) unless `value` fits."""
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON object.")
    problems: dict[str, str] = {}
    if len(value) > MAX_KEYS:
        problems["keys"] = f"At most {MAX_KEYS} keys."
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:  # iterative: a deep value cannot exhaust the stack here
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            problems["depth"] = f"At most {MAX_DEPTH} levels of nesting."
            continue
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    problems["key_type"] = "Keys must be strings."
                    continue
                if len(key) > MAX_KEY_LENGTH:
                    problems["key_length"] = f"Keys are at most {MAX_KEY_LENGTH} characters."
                _check_text(key, problems)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, problems)
        elif isinstance(item, float) and not math.isfinite(item):
            problems["number"] = "Numbers must be finite."
        elif isinstance(item, Decimal) and not item.is_finite():
            problems["number"] = "Numbers must be finite."
        elif item is not None and not isinstance(item, bool | int | float | Decimal):
            problems["type"] = "Values must be JSON: objects, arrays, strings, numbers, booleans."
    if not problems:
        encoded = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False).encode()
        if len(encoded) > MAX_BYTES:
            problems["size"] = f"At most {MAX_BYTES} bytes as JSON."
    if problems:
        raise ValidationError(list(problems.values()))


def _check_text(text: str, problems: dict[str, str]) -> None:
    if "\x00" in text:
        # PostgreSQL's jsonb (and text) cannot hold U+0000.
        problems["nul"] = "Strings may not contain NUL (U+0000)."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (`"\ud800"`) is not a character; no database stores it faithfully.
        problems["surrogate"] = "Strings may not contain unpaired surrogates."


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "maxProperties": MAX_KEYS,
        "description": (
            f"Your own JSON object: at most {MAX_KEYS} keys of at most {MAX_KEY_LENGTH} "
            f"characters, {MAX_DEPTH} levels deep, {MAX_BYTES} bytes; no NUL. Non-integer "
            "numbers are kept exact and read back as decimal strings."
        ),
    }
)
class MetadataField(serializers.Field[dict[str, Any], object, object, Any]):
    """Optional metadata in a request body; defaults to `{}`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        if not kwargs["required"]:
            kwargs.setdefault("default", dict)
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> dict[str, Any]:
        try:
            validate_metadata(data)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return cast("dict[str, Any]", data)  # validate_metadata: a JSON object

    def to_representation(self, value: object) -> object:
        return value
