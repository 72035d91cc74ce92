"""The reporting models, taken over from the ledger app (ledger 0003_reporting created them).

State only: the tables keep their names (db_table) and rows. The content types of the three
models are renamed ledger -> reporting, so their permissions, and the groups and users that
hold them, carry over (a fresh database has none yet: post_migrate creates them).
"""

import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import reporting.models

MODELS = ["balancesnapshot", "export", "verificationrun"]


def rename_content_types(apps, schema_editor, *, old="ledger", new="reporting"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MODELS:
        if not ContentType.objects.using(db).filter(app_label=new, model=model).exists():
            ContentType.objects.using(db).filter(app_label=old, model=model).update(app_label=new)


def rename_back(apps, schema_editor):
    rename_content_types(apps, schema_editor, old="reporting", new="ledger")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_default_assets"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("ledger", "0014_move_reporting_models"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="VerificationRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("checked_at", models.DateTimeField(db_index=True)),
                        ("violation_count", models.PositiveIntegerField()),
                        (
                            "details",
                            models.JSONField(
                                default=dict,
                                encoder=django.core.serializers.json.DjangoJSONEncoder,
                                help_text="Offending rows per check.",
                            ),
                        ),
                    ],
                    options={"db_table": "ledger_verificationrun"},
                ),
                migrations.CreateModel(
                    name="BalanceSnapshot",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("balance", models.BigIntegerField(help_text="Posted balance, minor units.")),
                        (
                            "pending_debits",
                            models.BigIntegerField(help_text="Held outflows, minor units."),
                        ),
                        (
                            "pending_credits",
                            models.BigIntegerField(help_text="Held inflows, minor units."),
                        ),
                        (
                            "version",
                            models.BigIntegerField(help_text="Account version at the snapshot."),
                        ),
                        ("taken_at", models.DateTimeField()),
                        (
                            "account",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="accounts.account",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "ledger_balancesnapshot",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("account", "taken_at"),
                                name="ledger_balancesnapshot_account_taken_at",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="Export",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "public_id",
                            models.CharField(
                                default=reporting.models._export_public_id,
                                max_length=64,
                                unique=True,
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[("entries", "Entries"), ("transactions", "Transactions")],
                                max_length=20,
                            ),
                        ),
                        ("period_from", models.DateTimeField(blank=True, null=True)),
                        ("period_to", models.DateTimeField(blank=True, null=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("running", "Running"),
                                    ("completed", "Completed"),
                                    ("failed", "Failed"),
                                    ("expired", "Expired"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("row_count", models.PositiveBigIntegerField(blank=True, null=True)),
                        (
                            "file",
                            models.FileField(
                                blank=True, help_text="Name in the default storage.", upload_to=""
                            ),
                        ),
                        ("error", models.CharField(blank=True, max_length=255)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("completed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "account",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="accounts.account",
                            ),
                        ),
                        (
                            "owner",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "ledger_export",
                        "indexes": [
                            models.Index(
                                fields=["owner", "created_at"],
                                name="ledger_expo_owner_i_9f76f8_idx",
                            ),
                            models.Index(
                                fields=["status", "completed_at"],
                                name="ledger_expo_status_b19c33_idx",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_types, rename_back),
    ]
