"""Fixtures shared by every app: API clients with real JWT or API-key auth, users, accounts."""

import importlib
import os
import uuid

# Before Django reads settings: isolate this run's cache keys (tests may share one Redis)
# and keep login throttling out of the way except in the tests that are about it.
os.environ.setdefault(
    "CACHE_KEY_PREFIX",
    f"lftest-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{uuid.uuid4().hex[:8]}",
)
os.environ.setdefault("THROTTLE_AUTH", "100000/min")
os.environ.setdefault("THROTTLE_ANON", "100000/min")
os.environ.setdefault("THROTTLE_USER", "100000/min")

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """Django's test MIRROR re-points only this thread's "replica" connection at the test
    database; a connection another thread opens (the concurrency and fault tests' threads)
    would read the configured standby's real database. Mirror it for every thread."""
    if "replica" in connections.settings:
        connections.settings["replica"] = connections.settings["default"]


@pytest.fixture
def eager():
    """Run Celery tasks in-process: `.delay()` executes at once in the caller (countdown
    ignored), as CELERY_TASK_ALWAYS_EAGER does."""
    from ledgerflow.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def file_storage(settings, tmp_path):
    """Stored files (exports) go under this test's own directory, which it returns."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A test that re-points Celery must put it back (checked once every fixture is torn
    down): a leaked broker URL fails later tests of the same process, in some orders only."""
    result = yield
    from django.conf import settings

    from ledgerflow.celery import app

    assert app.conf.broker_url == settings.CELERY_BROKER_URL, (
        f"{item.nodeid} left Celery pointed at {app.conf.broker_url}"
    )
    return result


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs seconds per test user; tests don't need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Rows that data migrations create. Transactional tests end with a flush that empties every
# table, so tests after them in the same process would find no assets and no beat schedules.
DATA_MIGRATIONS = [
    ("accounts.migrations.0002_default_assets", "create_assets"),
    ("accounts.migrations.0007_roles", "create_roles"),
    ("ledger.migrations.0004_periodic_tasks", "schedule"),
    ("ledger.migrations.0006_expire_holds_schedule", "create"),
    ("ledger.migrations.0011_requeue_exports_schedule", "schedule"),
    ("ledger.migrations.0012_config_version", "create_version_row"),
    ("orders.migrations.0002_expire_orders_schedule", "schedule"),
    ("webhooks.migrations.0003_requeue_deliveries_schedule", "schedule"),
    ("ledger.migrations.0013_requeue_exports_every_30s", "schedule"),
    ("webhooks.migrations.0005_requeue_deliveries_every_10s", "schedule"),
]


@pytest.fixture(autouse=True)
def _reference_data(request):
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    )
    if not uses_db:
        return
    request.getfixturevalue("_django_db_helper")  # the test's database, as it asked for it
    from django.apps import apps

    from accounts.models import Asset

    if Asset.objects.exists():
        return
    for module, function in DATA_MIGRATIONS:
        getattr(importlib.import_module(module), function)(apps, None)


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Every test starts with empty throttle counters.

    A shared Redis must not be flushed (other test processes use it at the same time): each
    test gets a key prefix of its own instead. The local-memory cache is simply cleared.
    """
    cache = settings.CACHES["default"]
    if "locmem" in cache["BACKEND"]:
        from django.core.cache import cache as default_cache

        default_cache.clear()
    else:
        settings.CACHES = {
            **settings.CACHES,
            "default": {**cache, "KEY_PREFIX": f"{cache.get('KEY_PREFIX')}-{uuid.uuid4().hex}"},
        }


def client_for(user) -> APIClient:
    client = APIClient()
    from accounts.authentication import token_pair_for

    token = token_pair_for(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user_factory(db):
    from accounts.tests.factories import UserFactory

    return UserFactory


@pytest.fixture
def customer(db):
    from accounts.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def other_customer(db):
    from accounts.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff(db):
    """An operator holding every API right (bare `is_staff` grants none: see bare_staff)."""
    from accounts.tests.factories import OPERATOR_RIGHTS, UserFactory

    return UserFactory(is_staff=True, rights=OPERATOR_RIGHTS)


@pytest.fixture
def bare_staff(db):
    """Staff with no permission at all: may use the admin's login, holds no API right."""
    from accounts.tests.factories import UserFactory

    return UserFactory(is_staff=True)


@pytest.fixture
def customer_client(customer) -> APIClient:
    return client_for(customer)


@pytest.fixture
def other_client(other_customer) -> APIClient:
    return client_for(other_customer)


@pytest.fixture
def staff_client(staff) -> APIClient:
    return client_for(staff)


@pytest.fixture
def account_factory(db):
    from accounts.tests.factories import AccountFactory

    return AccountFactory


@pytest.fixture
def funded(db, staff):
    """Make a customer account holding `amount` (major units) through the deposit service."""
    from decimal import Decimal

    from accounts.tests.factories import AccountFactory
    from ledger.services import post_deposit

    def make(owner, amount="100.00", asset="USD", **fields):
        account = AccountFactory(owner=owner, asset__code=asset, **fields)
        if Decimal(amount) > 0:
            post_deposit(actor=staff, account_id=account.pk, amount=Decimal(amount))
            account.refresh_from_db()
        return account

    return make
