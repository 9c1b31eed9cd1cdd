"""An OTLP/HTTP trace receiver inside the test process: the stack's services export their spans
to it (``OTEL_EXPORTER_OTLP_ENDPOINT``) and the tests read the traces back.

A collector's trace endpoint is one POST of a protobuf ``ExportTraceServiceRequest`` to
``/v1/traces``; this keeps only what the tests look at (ids, names, services) of every span.
"""

import gzip
import threading
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

SERVER_KIND = Span.SpanKind.SPAN_KIND_SERVER


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, as the tests read it."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, str]


def _text_attributes(attributes: list[KeyValue]) -> dict[str, str]:
    return {
        a.key: str(getattr(a.value, a.value.WhichOneof("value") or "string_value"))
        for a in attributes
    }


def _received(span: Span, service: str) -> ReceivedSpan:
    return ReceivedSpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() or None,
        name=span.name,
        service=service,
        kind=span.kind,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        attributes=_text_attributes(list(span.attributes)),
    )


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one OTLP/HTTP protobuf export request."""
    request = ExportTraceServiceRequest.FromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        service = _text_attributes(list(resource_spans.resource.attributes))["service.name"]
        for scope_spans in resource_spans.scope_spans:
            spans.extend(_received(span, service) for span in scope_spans.spans)
    return spans


class OtlpReceiver:
    """A trace receiver on a free loopback port, serving from a thread until closed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traces: dict[str, list[ReceivedSpan]] = defaultdict(list)
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The base URL to give services as ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        """The spans received so far of trace ``trace_id`` (32 hex digits)."""
        with self._lock:
            return list(self._traces.get(trace_id, ()))

    def spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self._lock:
            return [span for spans in self._traces.values() for span in spans]

    def _receive(self, spans: list[ReceivedSpan]) -> None:
        with self._lock:
            self.requests += 1
            for span in spans:
                self._traces[span.trace_id].append(span)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                receiver._receive(decode(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: one line per export would bury the test output."""

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
