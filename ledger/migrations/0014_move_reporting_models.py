"""BalanceSnapshot, Export and VerificationRun moved to the reporting app.

State only: the tables (ledger_balancesnapshot, ledger_export, ledger_verificationrun) and
their rows stay where they are; reporting 0001_initial declares the same models on them.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0013_requeue_exports_every_30s"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="BalanceSnapshot"),
                migrations.DeleteModel(name="Export"),
                migrations.DeleteModel(name="VerificationRun"),
            ],
            database_operations=[],
        )
    ]
