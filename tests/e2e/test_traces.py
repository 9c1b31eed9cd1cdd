"""One trace from the REST call through Kafka and PostgreSQL to the engine and analytics.

Every service of the e2e stack exports its spans to the session's in-process OTLP receiver
(``conftest.otlp_receiver``). A backtest submitted through the gateway must leave one trace whose
root is the gateway's HTTP server span and in which every span's parent is present: the gateway's
request to the engine over Kafka, the engine's handling of it, the job handed over through
``engine.runs`` and the outbox, the worker's run, and analytics' handling of the completed event.
"""

import secrets
from collections.abc import Callable

import httpx

from tests.e2e.helpers import auth, upload_goog
from tests.e2e.otlp_receiver import SERVER_KIND, OtlpReceiver, ReceivedSpan
from tests.polling import wait_for
from tradelab_contracts.topics import BACKTEST_COMPLETED, ENGINE_REQUESTS
from tradelab_runtime.telemetry import TRACE_ID_HEADER

Probe = Callable[[ReceivedSpan], bool]


def find(spans: list[ReceivedSpan], probe: Probe) -> ReceivedSpan | None:
    return next((s for s in spans if probe(s)), None)


def ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """``span``'s parent, its parent's parent... up to the root (as far as they arrived)."""
    by_id = {s.span_id: s for s in spans}
    chain = []
    while span.parent_span_id is not None and span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def is_run_span(run_id: str) -> Probe:
    return lambda s: s.name == "backtest run" and s.attributes.get("tradelab.job.id") == run_id


def is_gateway_request(method: str, route: str) -> Probe:
    return lambda s: (
        s.service == "gateway" and s.kind == SERVER_KIND and s.name == f"{method} {route}"
    )


def engine_request_handling(s: ReceivedSpan) -> bool:
    return s.service == "engine" and s.name == f"{ENGINE_REQUESTS} process"


def analytics_handling_completed(s: ReceivedSpan) -> bool:
    return s.service == "analytics" and s.name == f"{BACKTEST_COMPLETED} process"


def complete_trace(receiver: OtlpReceiver, trace_id: str, last: Probe) -> list[ReceivedSpan] | None:
    """The trace once ``last`` arrived and every span's parent with it (spans come in batches)."""
    spans = receiver.trace(trace_id)
    ids = {s.span_id for s in spans}
    if find(spans, last) is None or any(s.parent_span_id not in ids | {None} for s in spans):
        return None
    return spans


def describe(spans: list[ReceivedSpan]) -> str:
    first = min(s.start_ns for s in spans)
    rows = sorted(spans, key=lambda s: s.start_ns)
    return "\n".join(
        f"{(s.start_ns - first) / 1e6:8.1f} ms {(s.end_ns - s.start_ns) / 1e6:7.1f} ms "
        f"{s.service:9} {s.span_id[:6]} <- {(s.parent_span_id or 'root')[:6]:6} {s.name}"
        for s in rows
    )


def test_backtest_is_one_trace_from_the_rest_call_to_analytics(
    gateway: httpx.Client, user_token: str, otlp_receiver: OtlpReceiver
) -> None:
    dataset_id = upload_goog(gateway, user_token)
    # Parameters of this test's own, so the run is computed rather than answered from the cache.
    fast, slow = 3 + secrets.randbelow(20), 30 + secrets.randbelow(60)
    body = {
        "dataset_id": dataset_id,
        "strategy": "sma_cross",
        "parameters": {"fast": fast, "slow": slow},
    }
    submitted = gateway.post("/api/v1/backtests", headers=auth(user_token), json=body)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["cached"] is False
    run_id = submitted.json()["id"]

    def run_span() -> ReceivedSpan | None:
        return find(otlp_receiver.spans(), is_run_span(run_id))

    trace_id = wait_for(run_span, 60, f"the run span of backtest {run_id}").trace_id
    spans = wait_for(
        lambda: complete_trace(otlp_receiver, trace_id, analytics_handling_completed),
        30,
        "analytics' handling of the completed event, in the same trace",
    )
    timeline = describe(spans)

    (root,) = [s for s in spans if s.parent_span_id is None]
    assert is_gateway_request("POST", "/api/v1/backtests")(root), timeline
    request = find(spans, engine_request_handling)
    run = find(spans, is_run_span(run_id))
    analysis = find(spans, analytics_handling_completed)
    assert request is not None, timeline
    assert run is not None, timeline
    assert analysis is not None, timeline
    # A chain: analytics under the run, the run under the engine's request handling (through the
    # job's row), that under the gateway's HTTP span (through Kafka).
    assert run in ancestors(analysis, spans), timeline
    assert request in ancestors(run, spans), timeline
    assert ancestors(request, spans)[-1] == root, timeline
    assert {"gateway", "engine", "analytics"} <= {s.service for s in spans}


def test_error_response_names_a_trace_rooted_at_the_gateway(
    gateway: httpx.Client, user_token: str, otlp_receiver: OtlpReceiver
) -> None:
    missing = gateway.get(
        f"/api/v1/backtests/{secrets.token_hex(16)[:8]}-0000-4000-8000-000000000000",
        headers=auth(user_token),
    )
    assert missing.status_code == 404, missing.text
    trace_id = missing.headers[TRACE_ID_HEADER]
    route = "/api/v1/backtests/{run_id}"
    spans = wait_for(
        lambda: complete_trace(otlp_receiver, trace_id, is_gateway_request("GET", route)),
        30,
        f"the trace {trace_id} of the refused request",
    )
    (root,) = [s for s in spans if s.parent_span_id is None]
    assert is_gateway_request("GET", route)(root), describe(spans)
