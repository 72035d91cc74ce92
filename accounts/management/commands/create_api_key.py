"""`create_api_key`: an API key for a staff user, from the console (the secret is shown once).

    manage.py create_api_key --user ops@example.com --name indexer [--json]

A key has no rights of its own: it acts as its user, with that user's permissions (a key for
the indexer feed belongs to a staff user holding `orders.record_deposit` and little else).
Created by `accounts.services.create_api_key`, audited like the admin's form (`apikey.add`,
no actor: the console), in one transaction.
"""

from django.core.management.base import CommandError
from django.db import transaction

from accounts import services
from accounts.models import User
from audit.services import record_audit, state_of
from ledgerflow.errors import DomainError
from ledgerflow.progress import JsonCommand


class Command(JsonCommand):
    help = "Create an API key acting as a staff user; prints the secret once."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--user", required=True, help="email of the staff user it acts as")
        parser.add_argument("--name", required=True, help="what the key is for (max 100)")

    def handle(self, *args, **options):
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("--name: 1 to 100 characters.")
        user = User.objects.filter(email=options["user"].strip().lower()).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        if not user.is_active:
            raise CommandError(f"{user.email} is deactivated: a key would not authenticate.")
        try:
            with transaction.atomic():
                api_key, raw_key = services.create_api_key(actor=user, name=name)
                record_audit(None, "apikey.add", api_key, None, state_of(api_key))
        except DomainError as exc:
            raise CommandError(exc.detail) from None

        rights = ["*"] if user.is_superuser else sorted(user.get_all_permissions())
        shown = "every right (superuser)" if user.is_superuser else ", ".join(rights) or "none"
        self.result(
            {
                "id": api_key.pk,
                "name": api_key.name,
                "prefix": api_key.prefix,
                "user": user.email,
                "rights": rights,
                "created_at": api_key.created_at.isoformat(),
                "key": raw_key,
            },
            f"API key {api_key.name!r} ({api_key.prefix}) for {user.email}, acting with its "
            f"rights: {shown}\n{raw_key}\n"
            "Store it now: only its hash is kept, it is not shown again. "
            "Send it as `Authorization: Api-Key <key>`.",
        )
