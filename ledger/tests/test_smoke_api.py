import pytest

pytestmark = pytest.mark.django_db


def test_open_account_deposit_transfer_and_statement(customer_client, other_client, staff_client):
    a = customer_client.post("/api/v1/accounts", {"asset": "USD", "name": "Main"}, format="json")
    assert a.status_code == 201, a.json()
    b = other_client.post("/api/v1/accounts", {"asset": "USD"}, format="json")
    a_id, b_id = a.json()["id"], b.json()["id"]
    d = staff_client.post("/api/v1/deposits", {"account": a_id, "amount": "100.00"}, format="json")
    assert d.status_code == 201, d.json()
    t = customer_client.post(
        "/api/v1/transfers",
        {"from_account": a_id, "to_account": b_id, "amount": 12.5},
        format="json",
    )
    assert t.status_code == 201, t.json()
    body = t.json()
    assert body["amount"] == "12.50"
    # The payer sees its own balance, never the payee's.
    assert {e["account"]: e.get("balance_after") for e in body["entries"]} == {
        a_id: "87.50",
        b_id: None,
    }
    bal = customer_client.get(f"/api/v1/accounts/{a_id}/balance").json()
    assert bal["balance"] == "87.50"
    assert bal["available"] == "87.50"
    stmt = customer_client.get(f"/api/v1/accounts/{a_id}/entries").json()
    assert [e["amount"] for e in stmt["results"]] == ["-12.50", "100.00"]
    assert customer_client.get(f"/api/v1/accounts/{b_id}").status_code == 404
