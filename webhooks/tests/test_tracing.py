"""One trace from POST /transfers through the outbox and a Celery worker to the webhook receiver.

OpenTelemetry with an in-memory exporter; a real Celery worker (in a thread of this process, on
kombu's in-memory broker) runs the delivery task, so the trace context really travels in the
task message's headers and on to the receiver in `traceparent`.
"""

import logging

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connections
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ledgerflow import tracing
from ledgerflow.celery import app
from webhooks import services
from webhooks.models import Delivery

# The worker thread has its own database connection: PostgreSQL (SQLite's in-memory test
# database is not shared with other threads).
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _reset_broker_pools():
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    connections.close_all()  # new connections are made by the instrumented psycopg.connect
    tracing.instrument(provider)
    yield exporter
    tracing.uninstrument()
    connections.close_all()


@pytest.fixture
def worker():
    previous = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = "memory://", {}
    _reset_broker_pools()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    app.conf.broker_url, app.conf.broker_transport_options = previous
    _reset_broker_pools()


def test_a_transfer_its_delivery_task_and_the_webhook_share_one_trace(
    spans, worker, customer, other_customer, funded, customer_client, receiver, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    source, target = funded(customer), funded(other_customer, "0")
    services.create_endpoint(actor=customer, url=receiver.url)
    spans.clear()

    response = customer_client.post(
        "/api/v1/transfers",
        {"from_account": source.public_id, "to_account": target.public_id, "amount": "5.00"},
        format="json",
    )

    assert response.status_code == 201
    (request,) = receiver.wait_for(1)
    delivery = Delivery.objects.get(endpoint__owner=customer)
    assert delivery.status == "succeeded"
    finished = spans.get_finished_spans()
    (http_span,) = [s for s in finished if s.kind == SpanKind.SERVER]
    trace_id = http_span.context.trace_id
    run = [s for s in finished if s.kind == SpanKind.CONSUMER and "deliver_webhook" in s.name]
    publish = [s for s in finished if s.kind == SpanKind.PRODUCER and "deliver_webhook" in s.name]
    outgoing = [s for s in finished if s.kind == SpanKind.CLIENT and s.name == "POST"]
    queries = [s for s in finished if s.attributes.get("db.system") == "postgresql"]
    assert run
    assert publish
    assert outgoing
    assert queries
    assert {s.context.trace_id for s in run + publish + outgoing} == {trace_id}
    assert any(q.context.trace_id == trace_id for q in queries)  # the transfer's own statements
    # The receiver gets the trace too, as W3C trace context.
    assert request.headers["traceparent"].split("-")[1] == format(trace_id, "032x")


def test_log_lines_carry_the_trace_id(spans, caplog):
    provider = TracerProvider()
    log_filter = tracing.TraceIdLogFilter()
    logger = logging.getLogger("ledgerflow.tests.tracing")
    logger.addFilter(log_filter)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("outside any span")
            with provider.get_tracer(__name__).start_as_current_span("work") as span:
                logger.info("inside a span")
    finally:
        logger.removeFilter(log_filter)

    outside, inside = caplog.records
    assert outside.trace_id == "-"
    assert inside.trace_id == format(span.get_span_context().trace_id, "032x")
