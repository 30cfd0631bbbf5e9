"""Tracing: one trace per article, across HTTP, Kafka, the outboxes and each delivery.

OpenTelemetry spans are made by hand in the shared places: the HTTP app (a server span a
request), the publishers (a producer span a message, its context in the message's W3C
``traceparent`` header), the consumer loop (a consumer span a message, child of the
context in its headers) and notify's delivery worker (a client span an attempt, whose
``traceparent`` goes out with the webhook or robot request). Where the work is stored and
picked up later (the registry's outbox, notify's deliveries) the context is stored with it
(:func:`current_carrier`) and taken up again (:func:`resumed`, :func:`context_from_carrier`).

Spans are exported over OTLP/HTTP only when an endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``
or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``). Otherwise no SDK is installed: the API's spans
record nothing and cost a few calls, and a ``traceparent`` that came in still goes on.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)

TRACER_NAME = "alliance-watch"
SERVICE_NAMESPACE = "alliance-watch"
#: The headers the W3C trace context travels in, on HTTP requests and Kafka messages.
TRACE_HEADERS = ("traceparent", "tracestate")

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: trace.TracerProvider | None = None
_tracer: Tracer | None = None


def tracer() -> Tracer:
    """The project's tracer: the global provider's, or the one :func:`use_provider` set."""
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(TRACER_NAME, tracer_provider=_provider)
    return _tracer


def use_provider(provider: trace.TracerProvider | None) -> None:
    """Make spans with ``provider`` instead of the global one (None: the global again).
    For tests, which cannot replace the global provider once it is set."""
    global _provider, _tracer
    _provider, _tracer = provider, None


def traces_endpoint(endpoint: str = "", traces: str = "") -> str:
    """The URL spans are posted to: ``traces`` as is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
    or ``endpoint`` (OTEL_EXPORTER_OTLP_ENDPOINT) with ``/v1/traces``; "" means off."""
    if traces.strip():
        return traces.strip()
    if endpoint.strip():
        return endpoint.strip().rstrip("/") + "/v1/traces"
    return ""


def configure_tracing(service: str, endpoint: str) -> trace.TracerProvider | None:
    """Export this process's spans to ``endpoint`` (a full ``/v1/traces`` URL) in batches;
    nothing when it is empty or ``OTEL_SDK_DISABLED=true``. Batching follows the SDK's
    ``OTEL_BSP_*`` variables (``OTEL_BSP_SCHEDULE_DELAY``: milliseconds between exports)."""
    if not endpoint or os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    # Imported here: a process that does not trace never loads the SDK or the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": service, "service.namespace": SERVICE_NAMESPACE})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    use_provider(None)
    log.info("tracing: spans exported over OTLP/HTTP to %s", endpoint)
    return provider


# --- carrying the context -------------------------------------------------------------


def inject(carrier: dict[str, str], context: Context | None = None) -> dict[str, str]:
    """Write the current (or ``context``'s) span into ``carrier`` as W3C headers."""
    _PROPAGATOR.inject(carrier, context=context)
    return carrier


def extract(carrier: Mapping[str, str]) -> Context:
    """The context a W3C ``traceparent`` in ``carrier`` names (an empty one if none)."""
    return _PROPAGATOR.extract(carrier, context=Context())


def with_trace_headers(
    headers: Sequence[tuple[str, bytes]] = (),
) -> list[tuple[str, bytes]]:
    """Kafka headers carrying the current span, in place of any trace headers they had."""
    kept = [(k, v) for k, v in headers if k not in TRACE_HEADERS]
    return kept + [(k, v.encode("ascii")) for k, v in inject({}).items()]


def context_from_headers(headers: Sequence[tuple[str, bytes]]) -> Context:
    """The context of a Kafka message's trace headers."""
    carrier: dict[str, str] = {}
    for key, value in headers:
        if key in TRACE_HEADERS:
            carrier[key] = value.decode("ascii", "replace")
    return extract(carrier)


def current_carrier() -> str | None:
    """The current span's context as text to store with work done later; None when there
    is no span (tracing off and no context came in)."""
    carrier = inject({})
    return json.dumps(carrier, sort_keys=True) if carrier else None


def context_from_carrier(stored: str | None) -> Context:
    """The context :func:`current_carrier` stored (an empty one for None or garbage)."""
    if not stored:
        return Context()
    try:
        carrier = json.loads(stored)
    except ValueError:
        return Context()
    if not isinstance(carrier, dict):
        return Context()
    return extract({str(k): str(v) for k, v in carrier.items()})


@contextmanager
def resumed(stored: str | None) -> Iterator[None]:
    """Run the block in the context :func:`current_carrier` stored, and in no other."""
    token = otel_context.attach(context_from_carrier(stored))
    try:
        yield
    finally:
        otel_context.detach(token)


def resumed_or_current(stored: str | None) -> AbstractContextManager[None]:
    """:func:`resumed` for a stored context; the current one left as it is for None."""
    return resumed(stored) if stored is not None else nullcontext()


def link_to(stored: str | None) -> Link | None:
    """A link to a stored context, for a span that serves several (a robot's digest)."""
    span_context = trace.get_current_span(context_from_carrier(stored)).get_span_context()
    return Link(span_context) if span_context.is_valid else None


# --- the spans the shared places make --------------------------------------------------


def producer_span(topic: str, key: bytes | None) -> AbstractContextManager[Span]:
    """``send <topic>``: one message to Kafka ."""
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.destination.name": topic,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key.decode("utf-8", "replace")
    return tracer().start_as_current_span(
        f"send {topic}", kind=SpanKind.PRODUCER, attributes=attributes
    )


def consumer_span(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    parent: Context,
    *,
    start_time: int | None = None,
    end_on_exit: bool = True,
) -> AbstractContextManager[Span]:
    """``process <topic>``: one consumed message, child of the context its headers carry.
    Failures are marked by the caller (:func:`mark_error`), not by the exception leaving.
    ``start_time`` and ``end_on_exit=False`` (the caller ends it) for a message whose work
    was timed before its span is written (a batch extracted in one exchange)."""
    attributes: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
    }
    if key is not None:
        attributes["messaging.kafka.message.key"] = key.decode("utf-8", "replace")
    return tracer().start_as_current_span(
        f"process {topic}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        start_time=start_time,
        end_on_exit=end_on_exit,
        record_exception=False,
        set_status_on_exception=False,
    )


def mark_error(span: Span, description: str, error: BaseException | None = None) -> None:
    if error is not None:
        span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, description[:512]))


def current_ids() -> tuple[str, str] | None:
    """The current span's trace and span ids in hex, for log lines; None without one."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
