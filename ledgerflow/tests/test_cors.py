"""Browser clients on an allowed origin can read the headers they need to retry and back off."""

import pytest


@pytest.fixture
def allowed_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://wallet.example.com"]
    return "https://wallet.example.com"


def test_responses_expose_request_id_and_rate_limit_headers(customer_client, allowed_origin):
    response = customer_client.get("/api/v1/accounts", HTTP_ORIGIN=allowed_origin)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == allowed_origin
    exposed = {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert {
        "x-request-id",
        "idempotent-replayed",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    } <= exposed


def test_a_preflight_allows_the_idempotency_key(api_client, allowed_origin):
    response = api_client.options(
        "/api/v1/transfers",
        HTTP_ORIGIN=allowed_origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )

    assert response.status_code == 200
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed


def test_other_origins_get_no_cors_headers(customer_client, allowed_origin):
    response = customer_client.get("/api/v1/accounts", HTTP_ORIGIN="https://evil.example.com")

    assert "Access-Control-Allow-Origin" not in response
