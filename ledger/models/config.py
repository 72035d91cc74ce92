"""The configuration version money movements cache their configuration by."""

from django.db import models


class ConfigVersion(models.Model):
    """One row (pk 1): a version that database triggers replace, with a value never used
    before, whenever configuration a money movement reads changes (see ledger/config.py)."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"config version {self.version}"
