"""The Python client against a live LedgerFlow server (pytest-django's live_server, real HTTP).

The retry tests use a small scripted HTTP server instead: contention, 429 and 503 cannot be
produced on demand by the real one, and what is under test there is the client's behaviour.
"""

import json
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ledgerflow_client import ApiError, LedgerFlow, sign, verify_signature

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "c0rrect-Horse-battery"


@pytest.fixture
def operator_key(staff):
    from accounts.services import create_api_key

    return create_api_key(actor=staff, name="client tests")[1]


@pytest.fixture
def alice(live_server):
    client = LedgerFlow(live_server.url)
    client.register("alice@example.com", PASSWORD)
    client.login("alice@example.com", PASSWORD)
    return client


def test_a_customer_round_trip(live_server, alice, operator_key):
    operator = LedgerFlow(live_server.url, api_key=operator_key)
    source = alice.create_account("USD", name="Wallet")
    target = alice.create_account("USD", name="Savings", metadata={"goal": "bike"})
    operator.create_deposit(source["id"], "30.00", reference="top-up")

    transfer = alice.create_transfer(source["id"], target["id"], Decimal("12.50"), reference="r1")

    assert transfer["status"] == "posted"
    assert transfer["amount"] == "12.50"
    assert alice.get_balance(source["id"])["balance"] == "17.50"
    assert alice.get_balance(target["id"])["available"] == "12.50"
    assert alice.get_me()["email"] == "alice@example.com"
    assert alice.get_transaction(transfer["id"])["id"] == transfer["id"]


def test_the_same_idempotency_key_moves_money_once(live_server, alice, operator_key):
    operator = LedgerFlow(live_server.url, api_key=operator_key)
    source, target = alice.create_account("USD"), alice.create_account("USD")
    operator.create_deposit(source["id"], "10.00")

    first = alice.create_transfer(source["id"], target["id"], "4.00", idempotency_key="k-1")
    again = alice.create_transfer(source["id"], target["id"], "4.00", idempotency_key="k-1")

    assert again == first
    assert alice.get_balance(source["id"])["balance"] == "6.00"
    with pytest.raises(ApiError) as reused:
        alice.create_transfer(source["id"], target["id"], "5.00", idempotency_key="k-1")
    assert reused.value.code == "idempotency_key_reused"


def test_refusals_raise_api_error_with_the_problem(live_server, alice):
    source, target = alice.create_account("USD"), alice.create_account("USD")

    with pytest.raises(ApiError) as refused:
        alice.create_transfer(source["id"], target["id"], "25.00")

    assert refused.value.status == 409
    assert refused.value.code == "insufficient_funds"
    assert refused.value.request_id
    assert not refused.value.retryable
    with pytest.raises(TypeError):
        alice.create_transfer(source["id"], target["id"], 1.5)  # floats never leave the client


def test_iterators_follow_every_page(live_server, alice, operator_key):
    operator = LedgerFlow(live_server.url, api_key=operator_key)
    account = alice.create_account("USD")
    for n in range(5):
        operator.create_deposit(account["id"], f"{n + 1}.00")

    entries = list(alice.list_entries(account["id"], limit=2))  # three pages

    assert [entry["amount"] for entry in entries] == ["5.00", "4.00", "3.00", "2.00", "1.00"]
    assert [a["id"] for a in alice.list_accounts(limit=1)] == [account["id"]]


def test_an_expired_access_token_is_refreshed_once(live_server, alice):
    alice.access_token = "not-a-token"

    assert alice.get_me()["email"] == "alice@example.com"
    assert alice.access_token != "not-a-token"


class Scripted(BaseHTTPRequestHandler):
    """Answers POSTs from a script of (status, body, headers) and records what it was sent."""

    script: list = []
    seen: list = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        type(self).seen.append((self.headers.get("Idempotency-Key"), self.rfile.read(length)))
        status, body, headers = type(self).script.pop(0)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    Scripted.script, Scripted.seen = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Scripted, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    "refusal",
    [
        (409, {"code": "contention"}, {}),
        (409, {"code": "idempotency_request_in_progress"}, {}),
        (429, {"code": "rate_limited"}, {"Retry-After": "0"}),
        (503, {"code": "service_unavailable"}, {"Retry-After": "0"}),
    ],
)
def test_retryable_refusals_are_retried_with_the_same_key(scripted, refusal):
    handler, url = scripted
    handler.script = [refusal, refusal, (201, {"id": "txn_1", "status": "posted"}, {})]
    client = LedgerFlow(url, api_key="k", backoff=0.01)

    assert client.create_transfer("a", "b", "1.00")["id"] == "txn_1"
    keys = {key for key, _ in handler.seen}
    assert len(handler.seen) == 3
    assert len(keys) == 1
    assert None not in keys


def test_final_refusals_are_not_retried(scripted):
    handler, url = scripted
    handler.script = [(409, {"code": "insufficient_funds", "detail": "no"}, {})]
    client = LedgerFlow(url, api_key="k", backoff=0.01)

    with pytest.raises(ApiError) as refused:
        client.create_transfer("a", "b", "1.00")

    assert refused.value.code == "insufficient_funds"
    assert len(handler.seen) == 1


def test_retries_stop_after_max_retries(scripted):
    handler, url = scripted
    handler.script = [(503, {"code": "service_unavailable"}, {"Retry-After": "0"})] * 3
    client = LedgerFlow(url, api_key="k", backoff=0.01, max_retries=2)

    with pytest.raises(ApiError) as refused:
        client.create_transfer("a", "b", "1.00")

    assert refused.value.status == 503
    assert len(handler.seen) == 3


def test_the_verifier_accepts_what_the_server_signs():
    from webhooks.transport import sign as server_sign

    body = b'{"id":"evt_1","type":"transaction.posted"}'
    now = int(time.time())
    header = server_sign("whsec_test", now, body)

    assert verify_signature("whsec_test", header, body)
    assert sign("whsec_test", body, timestamp=now) == header
    assert not verify_signature("whsec_other", header, body)
    assert not verify_signature("whsec_test", header, body + b" ")
    assert not verify_signature("whsec_test", header, body, now=now + 301)
    assert not verify_signature("whsec_test", "t=x,v1=00", body)
    assert not verify_signature("whsec_test", None, body)
