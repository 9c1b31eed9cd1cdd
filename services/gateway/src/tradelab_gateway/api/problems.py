"""Errors as RFC 9457 problem details (``application/problem+json``), never a stack trace; each
names its request's trace in ``X-Trace-Id`` (docs/tracing.md)."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tradelab_runtime.logging import get_logger
from tradelab_runtime.telemetry import TRACE_ID_HEADER, current_trace_id

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://tradelab.dev/problems/"
log = get_logger(__name__)


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or HTTPStatus(status).phrase.lower().replace(" ", "_")
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra or {}


class CodedHTTPException(StarletteHTTPException):
    """An ``HTTPException`` with a problem ``code``, for code under FastAPI's body reader: it lets
    only an ``HTTPException`` through and turns anything else into a 400."""

    def __init__(self, status: int, detail: str, *, code: str) -> None:
        super().__init__(status, detail)
        self.code = code


def invalid_fields(errors: list[dict[str, str]], detail: str | None = None) -> ProblemError:
    """The 422 ``validation_error`` problem naming each invalid field of ``errors``
    (``field``, ``message``); ``detail`` defaults to them all, joined."""
    text = detail or "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return ProblemError(422, text, code="validation_error", extra={"errors": errors})


def problem_response(problem: ProblemError, instance: str) -> JSONResponse:
    """Render ``problem`` for the request path ``instance``, naming the request's trace."""
    body = {
        "type": PROBLEM_BASE + problem.code,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
        "code": problem.code,
        **problem.extra,
    }
    headers = dict(problem.headers)
    if (trace_id := current_trace_id()) is not None:
        headers[TRACE_ID_HEADER] = trace_id
    return JSONResponse(body, status_code=problem.status, headers=headers, media_type=PROBLEM_JSON)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
        errors.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", ""))})
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error leave the gateway as problem+json."""

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(invalid_fields(_field_errors(exc)), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        code = exc.code if isinstance(exc, CodedHTTPException) else None
        problem = ProblemError(exc.status_code, str(exc.detail), code=code, headers=headers)
        return problem_response(problem, request.url.path)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path, error_type=type(exc).__name__)
        problem = ProblemError(500, "The server failed to handle this request.")
        return problem_response(problem, request.url.path)
