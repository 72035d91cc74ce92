"""Amounts are plain decimal notation in ASCII digits: `1e3` and "١٠٠" are field errors."""

import io
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.models import IdempotencyKey, Transaction
from ledgerflow.money import AmountField, InvalidAmount, parse_decimal
from ledgerflow.parsers import DecimalJSONParser


def parsed_amount(json_text: str) -> object:
    """What a view's serializer receives for `{"amount": <json_text>}`."""
    return DecimalJSONParser().parse(io.BytesIO(f'{{"amount": {json_text}}}'.encode()))["amount"]


# --- unit: parser + field ----------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e3", "1E3", "1e+3", "1.5e2", "2e-2", "100e0", "0.5E1"])
def test_a_json_number_with_an_exponent_is_not_an_amount(number):
    with pytest.raises(InvalidAmount, match="xponent"):
        parse_decimal(parsed_amount(number))


@pytest.mark.parametrize(
    "text",
    [
        "١٠٠",  # Arabic-Indic digits
        "۱۰۰",  # Extended Arabic-Indic
        "१००",  # Devanagari
        "１００",  # fullwidth
        "1٠.5",  # mixed
        "12.５0",
        "𝟏𝟎𝟎",  # mathematical bold
    ],
)
def test_digits_of_other_scripts_are_not_amounts(text):
    assert Decimal(text)  # Python itself would read them as a number: we must not
    with pytest.raises(InvalidAmount):
        parse_decimal(text)


@given(value=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1e12"), places=6))
def test_a_plain_json_number_round_trips_exactly(value):
    text = format(value, "f")

    assert parse_decimal(parsed_amount(text)) == value
    assert parse_decimal(text) == value


@given(value=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1e12"), places=6))
def test_the_same_number_with_an_exponent_is_refused(value):
    text = f"{value:e}"
    assert "e" in text

    with pytest.raises(InvalidAmount):
        parse_decimal(parsed_amount(text))
    with pytest.raises(InvalidAmount):
        parse_decimal(text)


@given(text=st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=6))
def test_only_ascii_digit_strings_are_accepted(text):
    if set(text) <= set("0123456789") and int(text) > 0:
        assert parse_decimal(text) == Decimal(text)
    else:
        with pytest.raises(InvalidAmount):
            parse_decimal(text)


def test_exponents_stay_exact_numbers_outside_amounts():
    # Metadata may carry 1e3: it is exact, only not an amount.
    assert parsed_amount("1e3") == Decimal(1000)
    assert AmountField().run_validation(parsed_amount("1000")) == Decimal(1000)


# --- through the API ---------------------------------------------------------------------------


def post_transfer(client, source, target, amount_json: str, key: str):
    body = (
        f'{{"from_account": "{source.public_id}", "to_account": "{target.public_id}", '
        f'"amount": {amount_json}}}'
    )
    return client.post(
        "/api/v1/transfers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount_json",
    ["1e1", "1E1", "1.0e1", "5e-1", json.dumps("١٠"), json.dumps("１０"), json.dumps("1e1")],
)
def test_the_api_answers_400_with_errors_amount(customer_client, customer, funded, amount_json):
    source, target = funded(customer), funded(customer, "0.00")

    response = post_transfer(customer_client, source, target, amount_json, key=amount_json)

    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["errors"]) == ["amount"]
    assert not Transaction.objects.filter(kind=Transaction.Kind.TRANSFER).exists()
    assert not IdempotencyKey.objects.exists()
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance, target.balance) == (10000, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("amount_json", ["10", "10.00", '"10"', '"10.00"', "10.0"])
def test_plain_numbers_and_strings_still_move_money(customer_client, customer, funded, amount_json):
    source, target = funded(customer), funded(customer, "0.00")

    response = post_transfer(customer_client, source, target, amount_json, key=amount_json)

    assert response.status_code == 201, response.content[:300]
    target.refresh_from_db()
    assert target.balance == 1000
