"""ledgerflow imports no app: the apps register what it needs in AppConfig.ready()."""

from accounts.models import ApiKey
from ledger.models import IdempotencyKey
from ledgerflow import admin_site, idempotency, metrics, webhook_schema
from webhooks.models import EVENT_TYPES


def test_every_dashboard_panel_and_state_source_is_registered():
    assert set(admin_site._panels) == set(admin_site.DASHBOARD_PANELS)
    assert set(metrics._state_sources) == set(metrics.STATE_SOURCES)


def test_the_idempotency_records_and_api_key_principals_are_registered():
    assert idempotency.record_model() is IdempotencyKey
    assert idempotency._auth_principals[ApiKey] == "apikey"


def test_every_webhook_event_type_has_its_family():
    assert webhook_schema._event_types == list(EVENT_TYPES)
    assert {t.partition(".")[0] for t in EVENT_TYPES} == set(webhook_schema._families)
    assert [hook.name for hook in webhook_schema.WEBHOOKS] == list(EVENT_TYPES)
