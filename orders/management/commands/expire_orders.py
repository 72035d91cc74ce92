from django.core.management.base import BaseCommand

from orders.services import expire_orders


class Command(BaseCommand):
    help = "Expire pending orders whose expires_at has passed (what the beat task runs)."

    def handle(self, *args, **options):
        count = expire_orders()
        self.stdout.write(f"expire_orders: {count} order(s) expired")
