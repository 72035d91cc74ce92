"""The assets every installation starts with. Staff add more in the admin."""

from django.db import migrations

ASSETS = [
    ("USD", "US dollar", 2),
    ("EUR", "Euro", 2),
    ("GBP", "Pound sterling", 2),
    ("JPY", "Japanese yen", 0),
    ("USDC", "USD Coin", 6),
]


def create_assets(apps, schema_editor):
    Asset = apps.get_model("accounts", "Asset")
    for code, name, exponent in ASSETS:
        Asset.objects.get_or_create(code=code, defaults={"name": name, "exponent": exponent})


def remove_assets(apps, schema_editor):
    Asset = apps.get_model("accounts", "Asset")
    Asset.objects.filter(code__in=[code for code, _, _ in ASSETS], accounts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_assets, remove_assets)]
