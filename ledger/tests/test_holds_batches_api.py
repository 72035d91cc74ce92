"""HTTP contract of holds, batches and the review queue."""

import pytest

from accounts.models import Account, Asset
from ledger.models import RiskRule, Transaction

pytestmark = pytest.mark.django_db


def balances(*accounts):
    return [
        (a.balance, a.pending_debits, a.pending_credits)
        for a in Account.objects.filter(pk__in=[x.pk for x in accounts]).order_by("pk")
    ]


def test_pending_transfer_then_partial_post_over_http(
    customer_client, other_client, customer, other_customer, funded
):
    a, b = funded(customer, "50.00"), funded(other_customer, "0")
    hold = customer_client.post(
        "/api/v1/transfers",
        {
            "from_account": a.public_id,
            "to_account": b.public_id,
            "amount": "20.00",
            "pending": True,
        },
        format="json",
    )
    assert hold.status_code == 201
    body = hold.json()
    assert body["status"] == "pending"
    assert body["entries"] == []
    assert body["expires_at"] is not None
    listed = customer_client.get(f"/api/v1/transactions?account={a.public_id}&status=pending")
    assert [t["id"] for t in listed.json()["results"]] == [body["id"]]
    balance = customer_client.get(f"/api/v1/accounts/{a.public_id}/balance").json()
    assert (balance["balance"], balance["available"], balance["pending_debits"]) == (
        "50.00",
        "30.00",
        "20.00",
    )
    # The payee can see the hold but not settle it.
    assert other_client.get(f"/api/v1/transactions/{body['id']}").status_code == 200
    denied = other_client.post(f"/api/v1/transactions/{body['id']}/post", {}, format="json")
    assert denied.status_code == 403
    posted = customer_client.post(
        f"/api/v1/transactions/{body['id']}/post", {"amount": "15.00"}, format="json"
    )
    assert posted.status_code == 200
    assert posted.json()["status"] == "posted"
    assert posted.json()["amount"] == "15.00"
    assert balances(a, b) == [(3500, 0, 0), (1500, 0, 0)]
    again = customer_client.post(f"/api/v1/transactions/{body['id']}/void", {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state"


def test_void_over_http_is_idempotent_with_a_key(customer_client, customer, other_customer, funded):
    a, b = funded(customer, "50.00"), funded(other_customer, "0")
    hold = customer_client.post(
        "/api/v1/transfers",
        {
            "from_account": a.public_id,
            "to_account": b.public_id,
            "amount": "20.00",
            "pending": True,
        },
        format="json",
    ).json()
    url = f"/api/v1/transactions/{hold['id']}/void"
    first = customer_client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="void-1")
    second = customer_client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="void-1")
    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    assert balances(a, b) == [(5000, 0, 0), (0, 0, 0)]


def test_batch_answers_201_with_every_transaction(
    customer_client, customer, other_customer, funded
):
    a, b = funded(customer, "50.00"), funded(other_customer, "0")
    items = [{"from_account": a.public_id, "to_account": b.public_id, "amount": "1.00"}] * 3
    response = customer_client.post("/api/v1/transfers/batch", {"transfers": items}, format="json")
    assert response.status_code == 201
    assert [t["amount"] for t in response.json()["transactions"]] == ["1.00"] * 3
    assert balances(a, b) == [(4700, 0, 0), (300, 0, 0)]


@pytest.mark.parametrize(
    ("bad_item", "status", "code"),
    [
        ({"amount": "abc"}, 422, "validation_error"),
        ({"amount": "60.00"}, 409, "insufficient_funds"),
        ({"to_account": "acc_nope"}, 404, "not_found"),
    ],
)
def test_batch_with_one_bad_item_names_it_and_changes_nothing(
    customer_client, customer, other_customer, funded, bad_item, status, code
):
    a, b = funded(customer, "50.00"), funded(other_customer, "0")
    good = {"from_account": a.public_id, "to_account": b.public_id, "amount": "1.00"}
    items = [good, good, {**good, **bad_item}, good]
    before = Transaction.objects.count()
    response = customer_client.post("/api/v1/transfers/batch", {"transfers": items}, format="json")
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code
    assert body["index"] == 2
    assert Transaction.objects.count() == before
    assert balances(a, b) == [(5000, 0, 0), (0, 0, 0)]


def test_batch_item_from_someone_elses_account_is_404_with_index(
    customer_client, customer, other_customer, funded
):
    a, b = funded(customer, "50.00"), funded(other_customer, "10.00")
    items = [
        {"from_account": a.public_id, "to_account": b.public_id, "amount": "1.00"},
        {"from_account": b.public_id, "to_account": a.public_id, "amount": "1.00"},
    ]
    response = customer_client.post("/api/v1/transfers/batch", {"transfers": items}, format="json")
    assert response.status_code == 404
    assert response.json()["index"] == 1


def test_batch_over_1000_items_is_rejected(customer_client, customer, other_customer, funded):
    a, b = funded(customer, "50.00"), funded(other_customer, "0")
    item = {"from_account": a.public_id, "to_account": b.public_id, "amount": "0.01"}
    response = customer_client.post(
        "/api/v1/transfers/batch", {"transfers": [item] * 1001}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_review_queue_over_http(customer_client, staff_client, customer, other_customer, funded):
    a, b = funded(customer, "10000.00"), funded(other_customer, "0")
    RiskRule.objects.create(
        name="big transfers",
        kind=RiskRule.Kind.REVIEW_THRESHOLD,
        action="review",
        limit=500000,
        asset=Asset.objects.get(code="USD"),
    )
    response = customer_client.post(
        "/api/v1/transfers",
        {"from_account": a.public_id, "to_account": b.public_id, "amount": "5000.00"},
        format="json",
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["hold_reason"]) == ("pending", "review")
    # The customer cannot approve their own transfer under review.
    own = customer_client.post(f"/api/v1/transactions/{body['id']}/post", {}, format="json")
    assert own.status_code == 403
    approved = staff_client.post(f"/api/v1/transactions/{body['id']}/post", {}, format="json")
    assert approved.status_code == 200
    assert balances(a, b) == [(500000, 0, 0), (500000, 0, 0)]


def test_limit_exceeded_names_the_rule(customer_client, customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    RiskRule.objects.create(
        name="small only",
        kind=RiskRule.Kind.MAX_AMOUNT,
        limit=1000,
        asset=Asset.objects.get(code="USD"),
    )
    response = customer_client.post(
        "/api/v1/transfers",
        {"from_account": a.public_id, "to_account": b.public_id, "amount": "10.01"},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "limit_exceeded"
    assert response.json()["rule"] == "small only"
    assert balances(a, b) == [(10000, 0, 0), (0, 0, 0)]
