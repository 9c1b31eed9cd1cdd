"""A bound on every request body that is not a file upload, checked before it is read.

Each JSON body becomes a broker message (a backtest's parameters, a search's choices, a rule
strategy), so an unbounded one costs the gateway its memory to parse and then fails in the
producer. Uploads (``multipart/form-data``) have their own limits and stream to disk.
"""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradelab_gateway.api.problems import ProblemError, problem_response

UPLOAD_TYPE = b"multipart/form-data"


class BodyLimit:
    """Refuse a non-upload request body over ``max_bytes`` with 413 (``too_large``).

    A declared ``Content-Length`` over the bound is answered before the body is read; a body
    sent without one (chunked) is counted as it arrives and refused at the chunk that passes it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_upload(scope):
            await self.app(scope, receive, send)
            return
        detail = f"Request bodies are limited to {self.max_bytes:,} bytes (files: use uploads)."
        if _declared_length(scope) > self.max_bytes:
            problem = ProblemError(413, detail, code="too_large")
            await problem_response(problem, scope["path"])(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, detail)  # FastAPI's body reader lets it through
            return message

        await self.app(scope, counted, send)


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope["headers"] if key.lower() == name), b"")


def _is_upload(scope: Scope) -> bool:
    return _header(scope, b"content-type").lower().startswith(UPLOAD_TYPE)


def _declared_length(scope: Scope) -> int:
    value = _header(scope, b"content-length")
    return int(value) if value.isdigit() else 0
