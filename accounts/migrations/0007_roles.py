"""Roles are Django groups of permissions: customer, operator, auditor, admin
(docs/access-control.md, "Roles").

The permissions are created here if post_migrate has not made them yet (a fresh database runs
every migration before it), under the names Django would give them; post_migrate then finds
them and creates no duplicates. Reversing removes the groups, not the permissions.
"""

from django.db import migrations

# (app_label, model, codename, name): as the models' Meta (or Django's defaults) name them.
PERMISSIONS = {
    "ledger.deposit": ("ledger", "transaction", "Can deposit into any account"),
    "ledger.withdraw_any": ("ledger", "transaction", "Can withdraw from any account"),
    "ledger.transfer_any": (
        "ledger",
        "transaction",
        "Can move money out of any account and settle its holds",
    ),
    "ledger.post_journal": ("ledger", "transaction", "Can post a general journal"),
    "ledger.reverse_transaction": ("ledger", "transaction", "Can reverse a posted transaction"),
    "ledger.view_transaction": ("ledger", "transaction", "Can view transaction"),
    "ledger.review_hold": (
        "ledger",
        "holdunderreview",
        "Can approve or decline a hold under review",
    ),
    "ledger.request_adjustment": ("ledger", "adjustmentrequest", "Can propose a manual adjustment"),
    "ledger.approve_adjustment": (
        "ledger",
        "adjustmentrequest",
        "Can approve or reject a manual adjustment",
    ),
    "orders.change_order": ("orders", "order", "Can change order"),
    "orders.view_order": ("orders", "order", "Can view order"),
    "accounts.view_account": ("accounts", "account", "Can view account"),
    "accounts.change_account": ("accounts", "account", "Can change account"),
    "accounts.view_user": ("accounts", "user", "Can view user"),
    "accounts.change_user": ("accounts", "user", "Can change user"),
    "webhooks.view_event": ("webhooks", "event", "Can view event"),
    "audit.view_auditlog": ("audit", "auditlog", "Can view audit log"),
}

READ = [
    "accounts.view_account",
    "ledger.view_transaction",
    "orders.view_order",
    "webhooks.view_event",
]
OPERATOR = [
    "ledger.deposit",
    "ledger.withdraw_any",
    "ledger.transfer_any",
    "ledger.post_journal",
    "ledger.reverse_transaction",
    "ledger.review_hold",
    "ledger.request_adjustment",
    "orders.change_order",
    "accounts.change_account",
    *READ,
]
AUDITOR = [*READ, "accounts.view_user", "audit.view_auditlog"]
ROLES = {
    "customer": [],
    "operator": OPERATOR,
    "auditor": AUDITOR,
    "admin": sorted({*OPERATOR, *AUDITOR, "accounts.change_user", "ledger.approve_adjustment"}),
}


def create_roles(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    permissions = {}
    for perm, (app_label, model, name) in PERMISSIONS.items():
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        permissions[perm], _ = Permission.objects.get_or_create(
            content_type=content_type, codename=perm.split(".")[1], defaults={"name": name}
        )
    for role, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([permissions[perm] for perm in perms])


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_email_verification_token_generation"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
