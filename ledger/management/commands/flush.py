"""Django's `flush`, able to empty the books on SQLite too.

Entries refuse DELETE (migration 0010). Emptying the whole database is the one exception, as
on PostgreSQL, where flush is a TRUNCATE and fires no row trigger. SQLite's flush is a
DELETE of every table, so there the entry trigger is dropped and recreated around it, in
the same transaction: no other connection ever sees the ledger unguarded, and a failed
flush leaves the trigger in place. Test teardown (TransactionTestCase) calls this command.
"""

import importlib

from django.core.management.commands import flush
from django.db import connections, transaction

_guard = importlib.import_module("ledger.migrations.0010_transaction_status_guard")


class Command(flush.Command):
    def handle(self, **options):
        database = options["database"]
        connection = connections[database]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        with transaction.atomic(using=database):
            with connection.cursor() as cursor:
                cursor.execute("DROP TRIGGER IF EXISTS ledger_entry_no_delete")
            super().handle(**options)
            with connection.cursor() as cursor:
                cursor.execute(_guard.SQLITE_ENTRY_NO_DELETE)
        return None
