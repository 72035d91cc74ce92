import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")

from ledgerflow.tracing import configure_tracing

configure_tracing()  # before the application loads its middleware; a no-op unless OTEL_* is set
application = get_asgi_application()
