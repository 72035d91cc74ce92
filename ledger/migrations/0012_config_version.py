"""The configuration version that money movements check for free (ledger/config.py).

Invariant: whenever a change commits to anything a movement's cached configuration is built
from — risk rules, balance monitors, webhook endpoints, a user's staff/active/superuser flags,
user permissions, groups or group permissions — the single `ledger_configversion` row holds a
version no earlier state ever had, in the same transaction. PostgreSQL draws it from a
sequence (never reused, even after a rollback); SQLite from random() (64 bits).
"""

from django.db import migrations, models

WATCHED = [
    "ledger_riskrule",
    "ledger_balancemonitor",
    "webhooks_webhookendpoint",
    "accounts_user_groups",
    "accounts_user_user_permissions",
    "auth_group_permissions",
]
USER_FLAGS = ("is_staff", "is_active", "is_superuser")

PG_FORWARD = [
    "CREATE SEQUENCE ledger_config_version_seq",
    "INSERT INTO ledger_configversion (id, version) "
    "VALUES (1, nextval('ledger_config_version_seq'))",
    """
    CREATE FUNCTION ledger_bump_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE ledger_configversion SET version = nextval('ledger_config_version_seq')
        WHERE id = 1;
        RETURN NULL;
    END $$
    """,
    *[
        f"CREATE TRIGGER ledger_config_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION ledger_bump_config_version()"
        for table in WATCHED
    ],
    "CREATE TRIGGER ledger_config_accounts_user AFTER UPDATE ON accounts_user FOR EACH ROW "
    "WHEN ("
    + " OR ".join(f"OLD.{flag} IS DISTINCT FROM NEW.{flag}" for flag in USER_FLAGS)
    + ") EXECUTE FUNCTION ledger_bump_config_version()",
]
PG_REVERSE = [
    *[f"DROP TRIGGER IF EXISTS ledger_config_{table} ON {table}" for table in WATCHED],
    "DROP TRIGGER IF EXISTS ledger_config_accounts_user ON accounts_user",
    "DROP FUNCTION IF EXISTS ledger_bump_config_version()",
    "DROP SEQUENCE IF EXISTS ledger_config_version_seq",
]

_SQLITE_BUMP = "UPDATE ledger_configversion SET version = abs(random()) WHERE id = 1;"
SQLITE_FORWARD = [
    "INSERT INTO ledger_configversion (id, version) VALUES (1, abs(random()))",
    *[
        f"CREATE TRIGGER ledger_config_{table}_{event.lower()} AFTER {event} ON {table} "
        f"BEGIN {_SQLITE_BUMP} END"
        for table in WATCHED
        for event in ("INSERT", "UPDATE", "DELETE")
    ],
    f"CREATE TRIGGER ledger_config_accounts_user AFTER UPDATE OF {', '.join(USER_FLAGS)} "
    "ON accounts_user WHEN "
    + " OR ".join(f"OLD.{flag} IS NOT NEW.{flag}" for flag in USER_FLAGS)
    + f" BEGIN {_SQLITE_BUMP} END",
]
SQLITE_REVERSE = [
    *[
        f"DROP TRIGGER IF EXISTS ledger_config_{table}_{event.lower()}"
        for table in WATCHED
        for event in ("INSERT", "UPDATE", "DELETE")
    ],
    "DROP TRIGGER IF EXISTS ledger_config_accounts_user",
]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements[schema_editor.connection.vendor]:
            schema_editor.execute(sql)

    return run


def create_version_row(apps, schema_editor=None):
    """(Re)create the version row; also used by tests after a flush (conftest.py)."""
    ConfigVersion = apps.get_model("ledger", "ConfigVersion")
    ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 1})


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0011_requeue_exports_schedule"),
        ("webhooks", "0004_event_views"),
        ("accounts", "0005_metadata_encoder"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConfigVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
