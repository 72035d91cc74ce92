"""A transaction's life, guarded by the database itself; entries undeletable on SQLite too.

Invariants (PostgreSQL and SQLite alike):
- `status` only moves pending -> posted or pending -> voided. A posted or voided transaction
  never changes status again, so a posted one set back to pending cannot be posted twice.
- A settled (posted or voided) transaction's money fields are immutable: kind, asset, amount,
  hold_from, hold_to, held_amount, reverses. Descriptive fields (reference, category,
  metadata) and timestamps stay editable; the entries carry the money.
- SQLite: entries refuse DELETE as they already refuse UPDATE (0002). `manage.py flush`,
  which empties the whole database as TRUNCATE does on PostgreSQL, lifts this trigger for
  its own transaction only (ledger/management/commands/flush.py).

PostgreSQL: one BEFORE UPDATE row trigger, `ledger_transaction_guard`, raising
restrict_violation. SQLite: two BEFORE UPDATE triggers and one BEFORE DELETE trigger, RAISE(ABORT).
"""

from django.db import migrations

# Money fields frozen once a transaction is settled (NULL-safe comparisons on both vendors).
FROZEN = ("kind", "asset_id", "amount", "hold_from_id", "hold_to_id", "held_amount", "reverses_id")

PG_FORWARD = rf"""
CREATE OR REPLACE FUNCTION ledger_transaction_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT (OLD.status = 'pending' AND NEW.status IN ('posted', 'voided')) THEN
        RAISE EXCEPTION 'transaction % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status <> 'pending'
       AND ({", ".join(f"NEW.{c}" for c in FROZEN)})
           IS DISTINCT FROM ({", ".join(f"OLD.{c}" for c in FROZEN)}) THEN
        RAISE EXCEPTION 'transaction % is %: its money fields are immutable', OLD.id, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_transaction_guard
    BEFORE UPDATE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_guard();
"""

PG_REVERSE = """
DROP TRIGGER IF EXISTS ledger_transaction_guard ON ledger_transaction;
DROP FUNCTION IF EXISTS ledger_transaction_guard();
"""

SQLITE_ENTRY_NO_DELETE = """
CREATE TRIGGER IF NOT EXISTS ledger_entry_no_delete
BEFORE DELETE ON ledger_entry
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE refused');
END;
"""

SQLITE_FORWARD = [
    """
CREATE TRIGGER IF NOT EXISTS ledger_transaction_status_guard
BEFORE UPDATE OF status ON ledger_transaction
WHEN NEW.status IS NOT OLD.status
 AND NOT (OLD.status = 'pending' AND NEW.status IN ('posted', 'voided'))
BEGIN
    SELECT RAISE(ABORT, 'ledger transaction status only moves from pending to posted or voided');
END;
""",
    f"""
CREATE TRIGGER IF NOT EXISTS ledger_transaction_settled_immutable
BEFORE UPDATE ON ledger_transaction
WHEN OLD.status <> 'pending'
 AND ({" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)})
BEGIN
    SELECT RAISE(ABORT, 'settled ledger transactions are immutable: money fields refused');
END;
""",
    SQLITE_ENTRY_NO_DELETE,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete;",
    "DROP TRIGGER IF EXISTS ledger_transaction_settled_immutable;",
    "DROP TRIGGER IF EXISTS ledger_transaction_status_guard;",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


def reverse(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0009_api_rights")]
    operations = [migrations.RunPython(forward, reverse)]
