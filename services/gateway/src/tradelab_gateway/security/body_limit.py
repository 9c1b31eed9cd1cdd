"""A bound on every request body that is not a file upload, checked before it is read.

Each JSON body becomes a broker message (a backtest's parameters, a search's choices, a rule
strategy), so an unbounded one costs the gateway its memory to parse and then fails in the
producer. Uploads (``multipart/form-data`` to an upload route) have their own limits and stream
to disk. The exemption names its routes: FastAPI reads any other body whole into memory whatever
its content type, so a body that only calls itself an upload is bounded all the same.
"""

from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradelab_gateway.api.problems import CodedHTTPException, ProblemError, problem_response

UPLOAD_TYPE = b"multipart/form-data"
TOO_LARGE = "too_large"


class BodyLimit:
    """Refuse a non-upload request body over ``max_bytes`` with 413 (``too_large``).

    A declared ``Content-Length`` over the bound is answered before the body is read; a body
    sent without one (chunked) is counted as it arrives and refused at the chunk that passes it.
    ``upload_paths`` are the routes whose ``multipart/form-data`` bodies are left to their own
    upload limits.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, upload_paths: Collection[str] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = frozenset(path.rstrip("/") for path in upload_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_upload(scope):
            await self.app(scope, receive, send)
            return
        detail = f"Request bodies are limited to {self.max_bytes:,} bytes (files: use uploads)."
        if _declared_length(scope) > self.max_bytes:
            problem = ProblemError(413, detail, code=TOO_LARGE)
            await problem_response(problem, scope["path"])(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise CodedHTTPException(413, detail, code=TOO_LARGE)
            return message

        await self.app(scope, counted, send)

    def _is_upload(self, scope: Scope) -> bool:
        return scope["path"].rstrip("/") in self.upload_paths and _header(
            scope, b"content-type"
        ).lower().startswith(UPLOAD_TYPE)


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope["headers"] if key.lower() == name), b"")


def _declared_length(scope: Scope) -> int:
    value = _header(scope, b"content-length")
    return int(value) if value.isdigit() else 0
