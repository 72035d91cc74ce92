"""The Celery app. Broker and schedule come from settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")

app = Celery("ledgerflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
