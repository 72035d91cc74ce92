"""`create_api_key`: a key for a staff user from the console, through the service, audited."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


def create_key(**options) -> str:
    out = StringIO()
    call_command("create_api_key", stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def test_key_is_printed_once_works_over_http_and_is_audited(staff):
    out = create_key(user=staff.email.upper(), name="indexer")

    api_key = ApiKey.objects.get(user=staff)
    raw_key = next(line for line in out.splitlines() if line.startswith("lf_"))
    assert out.count(raw_key) == 1
    assert "not shown again" in out
    assert "ledger.deposit" in out
    assert raw_key not in api_key.hashed_key
    assert api_key.name == "indexer"

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    response = client.get("/api/v1/api-keys")
    assert response.status_code == 200
    assert [row["prefix"] for row in response.json()["results"]] == [api_key.prefix]

    (audit,) = AuditLog.objects.filter(action="apikey.add")
    assert audit.actor is None
    assert audit.target_id == str(api_key.pk)
    assert "hashed_key" not in audit.after


def test_json_carries_the_key_and_its_rights(staff):
    data = json.loads(create_key(user=staff.email, name="ci", json=True))
    assert data["key"].startswith(f"lf_{data['prefix']}_")
    assert data["user"] == staff.email
    assert "orders.change_order" in data["rights"]
    assert ApiKey.objects.get(pk=data["id"]).prefix == data["prefix"]


@pytest.mark.parametrize(
    ("who", "name", "message"),
    [
        ("customer", "x", "Only staff"),
        ("nobody", "x", "No user"),
        ("staff", " ", "1 to 100"),
        ("staff", "x" * 101, "1 to 100"),
    ],
)
def test_refusals_create_nothing(customer, staff, who, name, message):
    email = {"customer": customer.email, "staff": staff.email}.get(who, "nobody@example.com")
    with pytest.raises(CommandError, match=message):
        create_key(user=email, name=name)
    assert not ApiKey.objects.exists()
    assert not AuditLog.objects.filter(action="apikey.add").exists()


def test_a_deactivated_staff_user_gets_no_key(staff):
    staff.is_active = False
    staff.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match="deactivated"):
        create_key(user=staff.email, name="x")
    assert not ApiKey.objects.exists()
