"""OpenTelemetry, off by default: with an exporter installed, each payment is one trace with a span per stage.

The spans go to the SDK's in-memory exporter; the payment goes through the real HTTP API to a real
loopback provider, which receives the W3C ``traceparent``; the trace id is on the log line and the
payment's page.
"""

import json

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import tracing
from tests.portal.conftest import FINAL_PASSWORD, PortalSession, create_user

STAGES = ["auth", "validate", "claim", "request_function", "forward", "response_function", "answer", "finish"]


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.uninstall()


def test_without_an_endpoint_nothing_is_traced(integrator, downstream):
    assert integrator.pay().status_code == 200
    assert "traceparent" not in downstream.received[-1]["headers"]


def test_each_payment_is_one_trace_with_a_span_per_stage(spans, integrator, downstream, db, capfd):
    answer = integrator.pay()

    assert answer.status_code == 200, answer.text
    finished = spans.get_finished_spans()
    [root] = [span for span in finished if span.name == "payment"]
    trace_id = format(root.context.trace_id, "032x")
    children = [span for span in finished if span.parent is not None]
    assert [span.name for span in children] == STAGES
    assert all(span.parent.span_id == root.context.span_id and span.context.trace_id == root.context.trace_id
               for span in children)
    assert root.attributes["mospay.transaction_ref"] == answer.json()["transaction_ref"]
    assert root.start_time <= children[0].start_time and children[-1].end_time <= root.end_time
    traceparent = downstream.received[-1]["headers"]["traceparent"]
    assert traceparent.split("-")[1] == trace_id  # the provider's call continues the payment's trace
    assert db("SELECT trace_id FROM mospay.transactions WHERE unique_id = %s",
              (answer.json()["unique_id"],))[0]["trace_id"] == trace_id
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    [logged] = [line for line in lines if line.get("transaction_ref") == answer.json()["transaction_ref"]]
    assert logged["trace_id"] == trace_id


def test_the_trace_id_is_on_the_payment_s_page(spans, integrator, admin, base_url):
    ref = integrator.pay().json()["transaction_ref"]
    [root] = [span for span in spans.get_finished_spans() if span.name == "payment"]
    username = create_user(admin, "viewer")
    session = PortalSession(base_url)
    session.sign_in(username, "first-password-1")
    session.post("/portal/password", data={"current_password": "first-password-1", "new_password": FINAL_PASSWORD,
                                           "confirm": FINAL_PASSWORD, "csrf_token": session.token("/portal/password")})

    page = session.get(f"/portal/transactions/{ref}").text

    assert f'<code id="tx-trace-id">{format(root.context.trace_id, "032x")}</code>' in page


def test_a_refused_payment_leaves_no_trace_context_behind(spans, integrator, downstream):
    integrator.pay(integrator.message(f004="not money"))
    spans.clear()
    tracing.uninstall()  # tracing off again: the next payment must carry nothing of the refused one's trace

    integrator.pay()

    assert "traceparent" not in downstream.received[-1]["headers"]
