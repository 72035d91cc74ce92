from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerflow.money import INT64_MAX, InvalidAmount, parse_decimal, to_major, to_minor


@given(minor=st.integers(min_value=-INT64_MAX, max_value=INT64_MAX), exponent=st.integers(0, 18))
def test_minor_major_round_trip(minor, exponent):
    assert to_minor(Decimal(to_major(minor, exponent)), exponent) == minor


@given(minor=st.integers(min_value=1, max_value=10**17), exponent=st.integers(0, 18))
def test_major_string_has_exactly_the_asset_decimals(minor, exponent):
    text = to_major(minor, exponent)
    decimals = len(text.partition(".")[2])
    assert decimals == exponent


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.50", 1250), (12.5, 1250), (Decimal("0.01"), 1), (3, 300), ("  7 ", 700)],
)
def test_strings_and_numbers_are_accepted(value, expected):
    # JSON numbers arrive as Decimal (our parser never makes floats); a float literal is
    # converted through str() only in this test helper.
    if isinstance(value, float):
        value = Decimal(str(value))
    assert to_minor(parse_decimal(value), 2) == expected


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "0",
        "0.00",
        "-1",
        "-0.01",
        True,
        None,
        [],
        {},
        "1e400",
        "1234567890123456789",
        "1_000",
    ],
)
def test_bad_amounts_are_rejected(value):
    with pytest.raises(InvalidAmount):
        parse_decimal(value)


def test_too_many_decimals_for_the_asset_is_rejected():
    with pytest.raises(InvalidAmount, match="decimal places"):
        to_minor(Decimal("1.001"), 2)
    with pytest.raises(InvalidAmount, match="decimal places"):
        to_minor(Decimal("1.5"), 0)


def test_amount_beyond_int64_minor_units_is_rejected():
    with pytest.raises(InvalidAmount, match="too large"):
        to_minor(Decimal("99999999999999999"), 6)


def test_negative_formatting():
    assert to_major(-5, 2) == "-0.05"
    assert to_major(0, 6) == "0.000000"
    assert to_major(1234, 0) == "1234"


@given(st.integers(min_value=-INT64_MAX - 1, max_value=INT64_MAX), st.integers(0, 18))
def test_to_major_equals_the_decimal_rendering(minor, exponent):
    """The integer formatting agrees with Decimal's exact rendering everywhere in int64."""
    quantum = Decimal(1).scaleb(-exponent)
    expected = format(Decimal(minor).scaleb(-exponent).quantize(quantum), "f")
    assert to_major(minor, exponent) == expected
