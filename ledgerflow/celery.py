"""The Celery app. Broker and schedule come from settings (CELERY_* names)."""

import contextvars
import os

from celery import Celery
from celery.signals import (
    beat_init,
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_ready,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")

app = Celery("ledgerflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The message header carrying the id of the request that enqueued a task.
REQUEST_ID_HEADER = "request_id"


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Worker and beat log as web does: LOGGING's JSON lines with the request id.

    Connected, this replaces Celery's own logging set-up (plain text on stderr).
    """
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@before_task_publish.connect
def carry_request_id(headers=None, **kwargs) -> None:
    """A task enqueued while serving a request carries that request's id in its headers."""
    from ledgerflow.middleware import get_request_id

    request_id = get_request_id()
    if headers is not None and request_id != "-":
        headers.setdefault(REQUEST_ID_HEADER, request_id)


_request_id_tokens: dict[str, contextvars.Token[str]] = {}


@task_prerun.connect
def adopt_request_id(task_id=None, task=None, **kwargs) -> None:
    """The task's log lines show the id of the request that enqueued it (`-` for beat's)."""
    from ledgerflow.middleware import current_request_id

    request = task.request if task is not None else None
    # A worker puts message headers on the request; apply() (eager) keeps them in .headers.
    request_id = getattr(request, REQUEST_ID_HEADER, None) or (
        (getattr(request, "headers", None) or {}).get(REQUEST_ID_HEADER)
    )
    if request_id and task_id:
        _request_id_tokens[task_id] = current_request_id.set(str(request_id))


@task_postrun.connect
def drop_request_id(task_id=None, **kwargs) -> None:
    from ledgerflow.middleware import current_request_id

    token = _request_id_tokens.pop(task_id, None)
    if token is not None:
        current_request_id.reset(token)


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
