"""Ledger invariants enforced by the database itself.

PostgreSQL:
- `ledger_entry_append_only`: entries are immutable; UPDATE and DELETE raise (corrections are
  reversing transactions). TRUNCATE stays possible for test teardown and disaster recovery.
- `ledger_entry_balanced`: a DEFERRABLE INITIALLY DEFERRED constraint trigger checks at COMMIT
  that every transaction touched sums to zero per asset, and that each entry's asset is its
  account's asset; a transaction that does not balance cannot commit.
SQLite: a trigger rejects UPDATE of entries. SQLite has no deferred triggers, and a DELETE
trigger would stop Django's test flush, so the balance check there is the service and
`verify_ledger`.
"""

from django.db import migrations

PG_FORWARD = r"""
CREATE OR REPLACE FUNCTION ledger_entry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_entry_append_only
    BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only();

CREATE OR REPLACE FUNCTION ledger_entry_balanced() RETURNS trigger AS $$
DECLARE
    bad record;
BEGIN
    SELECT e.asset_id, SUM(e.amount) AS total INTO bad
      FROM ledger_entry e
     WHERE e.transaction_id = NEW.transaction_id
     GROUP BY e.asset_id
    HAVING SUM(e.amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'transaction % does not balance: asset % sums to %',
            NEW.transaction_id, bad.asset_id, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM accounts_account a
                    WHERE a.id = NEW.account_id AND a.asset_id = NEW.asset_id) THEN
        RAISE EXCEPTION 'entry % has an asset other than its account''s', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_entry_balanced
    AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
"""

PG_REVERSE = """
DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_entry_balanced();
DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_entry_append_only();
"""

SQLITE_FORWARD = """
CREATE TRIGGER IF NOT EXISTS ledger_entry_no_update
BEFORE UPDATE ON ledger_entry
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE refused');
END;
"""

SQLITE_REVERSE = "DROP TRIGGER IF EXISTS ledger_entry_no_update;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial"), ("accounts", "0002_default_assets")]
    operations = [migrations.RunPython(forward, reverse)]
