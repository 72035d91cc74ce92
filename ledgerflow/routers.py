"""Reads that may lag a moment go to the replica when DATABASE_REPLICA_URL is set."""

from django.db import models

REPLICA = "replica"


class ReplicaRouter:
    """Everything uses the primary; code opts in with `.using(read_replica())` for lagging reads."""

    def db_for_read(self, model: type[models.Model], **hints) -> str:
        return "default"

    def db_for_write(self, model: type[models.Model], **hints) -> str:
        return "default"

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == "default"


def read_replica() -> str:
    from django.conf import settings

    return REPLICA if REPLICA in settings.DATABASES else "default"
