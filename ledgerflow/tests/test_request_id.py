"""X-Request-ID: echoed when well-formed, generated otherwise, on every response and log line."""

import io
import json
import logging
import re

import pytest

from ledgerflow.middleware import RequestIdLogFilter

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("offered", ["abc-123", "A.b_C-9", "x" * 128])
def test_a_valid_request_id_is_echoed_unchanged(api_client, offered):
    response = api_client.get("/health", HTTP_X_REQUEST_ID=offered)

    assert response["X-Request-ID"] == offered


@pytest.mark.parametrize("offered", ["has spaces", "x" * 129, "y" * 200, "semi;colon", "é", ""])
def test_an_invalid_request_id_is_replaced(api_client, offered):
    response = api_client.get("/health", HTTP_X_REQUEST_ID=offered)

    assert response["X-Request-ID"] != offered
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_a_missing_request_id_is_generated_fresh_each_time(api_client):
    first = api_client.get("/health")["X-Request-ID"]
    second = api_client.get("/health")["X-Request-ID"]

    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/accounts", 401),
        ("get", "/api/v1/nowhere", 404),
        ("delete", "/api/v1/auth/register", 405),
    ],
)
def test_error_responses_carry_the_request_id(api_client, method, path, status):
    response = getattr(api_client, method)(path, HTTP_X_REQUEST_ID="err-trace-1")

    assert response.status_code == status
    assert response["X-Request-ID"] == "err-trace-1"
    assert response.json()["request_id"] == "err-trace-1"


def test_a_success_body_is_unchanged_and_the_header_is_set(customer_client):
    response = customer_client.get("/api/v1/auth/me", HTTP_X_REQUEST_ID="me-1")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "me-1"


@pytest.fixture
def json_log_lines():
    """A copy of the configured console handler (same filter and JSON formatter) into a buffer."""
    [console] = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RequestIdLogFilter) for f in handler.filters)
    ]
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(console.formatter)
    for log_filter in console.filters:
        handler.addFilter(log_filter)
    logger = logging.getLogger("ledgerflow.problems")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logger.removeHandler(handler)


@pytest.mark.urls("ledgerflow.tests.test_problems")  # has a view that raises
def test_json_log_lines_carry_the_request_id(api_client, json_log_lines):
    api_client.raise_request_exception = False

    api_client.get("/api/test/boom", HTTP_X_REQUEST_ID="log-trace-7")

    [line] = json_log_lines()
    assert line["request_id"] == "log-trace-7"
    assert line["level"] == "ERROR"
    assert line["logger"] == "ledgerflow.problems"
    assert "RuntimeError" in line["exc_info"]


def test_log_lines_outside_a_request_say_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)

    assert RequestIdLogFilter().filter(record)
    assert record.request_id == "-"
