"""OpenTelemetry traces of payments, off by default (issue 15 §4).

With ``MOSPAY_OTLP_ENDPOINT`` (or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``) set, each payment
is one trace: a ``payment`` span with a child per stage the hot path already times (auth,
validate, claim, token, request_function, forward, response_function, finish), made from the
same lap timer, so tracing adds no clock reads of its own. The downstream call carries a W3C
``traceparent``; the trace id is on the payment's log line and its page.

Off, nothing here runs on the hot path but one ``is None`` test. The switch keeps its own tracer
provider (not the process-global one), so tests can install an in-memory exporter and remove it.
"""

import contextvars
import logging
import time

log = logging.getLogger(__name__)
traceparent_var = contextvars.ContextVar("traceparent", default=None)
trace_id_var = contextvars.ContextVar("trace_id", default=None)
_tracer = None
_provider = None


def configure(config):
    """Export to the configured OTLP endpoint (HTTP/protobuf), if any; returns True when tracing is on."""
    endpoint = getattr(config, "OTLP_ENDPOINT", None)
    if not endpoint or _tracer is not None:
        return _tracer is not None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    url = endpoint.rstrip("/") + ("" if endpoint.rstrip("/").endswith("/v1/traces") else "/v1/traces")
    install(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    log.info("tracing payments to %s", url)
    return True


def install(processor, service_name="mospay"):
    """Trace payments through ``processor`` (an SDK span processor: batch to OTLP, or in-memory in tests)."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    _provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    _provider.add_span_processor(processor)
    _tracer = _provider.get_tracer("mospay.payments")


def uninstall():
    """Stop tracing (flushing what was recorded)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def start_payment(started_perf):
    """A ``PaymentTrace`` whose root span began at ``started_perf`` (``time.perf_counter``), or ``None`` when off."""
    if _tracer is None:
        return None
    return PaymentTrace(_tracer, started_perf)


class PaymentTrace:
    """One payment's trace: the root span, its stage spans (recorded after the fact from the lap timer)."""

    def __init__(self, tracer, started_perf):
        self._tracer = tracer
        self._offset_ns = time.time_ns() - int(time.perf_counter() * 1e9)  # perf_counter → epoch nanoseconds
        self.root = tracer.start_span("payment", start_time=self._ns(started_perf))
        context = self.root.get_span_context()
        self.trace_id = format(context.trace_id, "032x")
        self.traceparent = f"00-{self.trace_id}-{format(context.span_id, '016x')}-01"
        self._tokens = (traceparent_var.set(self.traceparent), trace_id_var.set(self.trace_id))

    def _ns(self, perf):
        return self._offset_ns + int(perf * 1e9)

    def stage(self, name, started_perf, ended_perf):
        """Record one stage as a child span of the payment."""
        from opentelemetry import trace

        span = self._tracer.start_span(name, context=trace.set_span_in_context(self.root),
                                       start_time=self._ns(started_perf))
        span.end(end_time=self._ns(ended_perf))

    def end(self, attributes):
        """End the payment's span with what it became (state, route, reference)."""
        self.root.set_attributes({k: v for k, v in attributes.items() if v is not None})
        self.root.end()
        traceparent_var.reset(self._tokens[0])
        trace_id_var.reset(self._tokens[1])
