"""The unique indexes orders/services.py maps to a domain error exist under those names."""

import pytest
from django.db import IntegrityError, connection

from ledgerflow.db import violated_constraint
from orders.services import TX_HASH_UNIQUE

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_tx_hash_unique_indexes_exist_under_the_names_the_service_maps():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [list(TX_HASH_UNIQUE)]
        )
        found = {name for (name,) in cursor.fetchall()}
    assert found == TX_HASH_UNIQUE


def test_violated_constraint_names_what_postgresql_reports():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE t (x int CONSTRAINT t_x_unique UNIQUE)")
        cursor.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(IntegrityError) as info:
            cursor.execute("INSERT INTO t VALUES (1)")
    assert violated_constraint(info.value) == "t_x_unique"
