"""OpenTelemetry tracing: optional (`pip install -r requirements-tracing.txt` or the `tracing`
extra), off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

When on, Django requests, Celery tasks (publish and run: the trace context travels in the task
message's headers, so a request and the tasks it starts share one trace), psycopg queries and
outgoing `requests` calls (webhook deliveries, which also carry `traceparent` to the receiver)
become spans exported over OTLP/HTTP. The standard OTEL_* variables configure the exporter
(endpoint, headers, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER...). Log lines carry `trace_id`.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

_configured = False


def configure_tracing() -> bool:
    """Set up export and instrumentation once per process when the environment asks for it."""
    global _configured
    if _configured or not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return _configured
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed; "
            "install the tracing extra (requirements-tracing.txt). Tracing stays off."
        )
        return False
    from opentelemetry import trace

    service = os.environ.get("OTEL_SERVICE_NAME", "ledgerflow")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    # BatchSpanProcessor re-creates its export thread after fork (gunicorn, Celery prefork).
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    instrument(provider)
    _configured = True
    return True


def instrument(provider: Any) -> None:
    """Instrument Django, Celery, psycopg and requests with `provider` (tests pass their own)."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    # Health probes and scrapes would be most of the spans and tell nothing.
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls="health,ready,metrics")
    CeleryInstrumentor().instrument(tracer_provider=provider)
    PsycopgInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    RequestsInstrumentor().instrument(tracer_provider=provider)


def uninstrument() -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    for instrumentor in (
        DjangoInstrumentor,
        CeleryInstrumentor,
        PsycopgInstrumentor,
        RequestsInstrumentor,
    ):
        instrumentor().uninstrument()


_trace_api: ModuleType | None
try:
    from opentelemetry import trace as _trace_api
except ImportError:  # the tracing extra is not installed
    _trace_api = None


def current_trace_id() -> str:
    """The active trace id as 32 hex digits, or "-" without tracing or outside a span."""
    if _trace_api is None:
        return "-"
    context = _trace_api.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else "-"


class TraceIdLogFilter(logging.Filter):
    """Puts the current trace id on every log record, beside the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            record.trace_id = current_trace_id()
        return True
