"""The Celery app. Broker and schedule come from settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")

app = Celery("ledgerflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def start_tracing(**kwargs) -> None:
    """Tracing (off unless OTEL_EXPORTER_OTLP_ENDPOINT is set): tasks join their request's trace."""
    from ledgerflow.tracing import configure_tracing

    configure_tracing()


@worker_ready.connect
def serve_worker_metrics(**kwargs) -> None:
    """With METRICS_PORT set (docker-compose), the worker serves its own /metrics.

    In `make run` web and worker share PROMETHEUS_MULTIPROC_DIR instead, and web's /metrics
    shows both; this server is then unnecessary and METRICS_PORT stays unset.
    """
    port = os.environ.get("METRICS_PORT")
    if not port:
        return
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), registry=registry)
