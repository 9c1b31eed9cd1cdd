"""The gateway's REST API over httpx: parsed JSON in, typed errors out, tokens refreshed once."""

import mimetypes
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any
from uuid import uuid4

import httpx

API = "/api/v1"
TokenListener = Callable[[str, str], None]
MEDIA_TYPES = {".csv": "text/csv", ".parquet": "application/vnd.apache.parquet"}
IDEMPOTENCY_HEADER = "Idempotency-Key"
SUBMIT_ATTEMPTS = 3
"""How often a job submission is sent at most (the first try and two retries)."""
SUBMIT_FIRST_DELAY_S = 1.0
"""Wait before the first retry when the server names none (doubled for each further one)."""
SUBMIT_MAX_DELAY_S = 10.0
"""Longest wait between two tries, whatever ``Retry-After`` asks."""


class ApiError(Exception):
    """The server refused a request (RFC 9457 problem details when it sent them)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        body: Mapping[str, Any] | None = None,
        *,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.body: dict[str, Any] = dict(body or {})
        self.retry_after_s = retry_after_s
        """The response's ``Retry-After`` in seconds, when it sent one in seconds."""

    @classmethod
    def of(cls, response: httpx.Response) -> "ApiError":
        """Build from an error response, problem+json or not."""
        title = response.reason_phrase or f"HTTP {response.status_code}"
        wait = _seconds(response.headers.get("retry-after"))
        try:
            body = response.json()
        except ValueError:
            text = response.text.strip()[:300]
            return cls(response.status_code, title, text, retry_after_s=wait)
        if not isinstance(body, dict):
            return cls(response.status_code, title, str(body)[:300], retry_after_s=wait)
        return cls(
            response.status_code,
            str(body.get("title") or title),
            str(body.get("detail") or ""),
            body,
            retry_after_s=wait,
        )


def _seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds; None when absent or an HTTP date (not worth parsing here)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


class ServerUnreachableError(Exception):
    """No HTTP answer at all: connection refused, DNS failure, timeout."""

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(f"Cannot reach the tradelab server at {server}: {reason}")
        self.server = server
        self.reason = reason


class ApiClient:
    """A session with one gateway.

    Parameters
    ----------
    server
        Base URL, e.g. ``http://127.0.0.1:8000``.
    access_token, refresh_token
        The stored token pair, if logged in.
    on_tokens
        Called with the new pair whenever tokens are refreshed (to store them).
    transport
        An httpx transport (tests pass ``httpx.MockTransport``).
    submit_attempts
        How often `submit` sends a job submission at most.
    sleep
        Waits between two tries of a submission (tests pass one that does not wait).
    """

    def __init__(
        self,
        server: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        on_tokens: TokenListener | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 30.0,
        submit_attempts: int = SUBMIT_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = server.rstrip("/")
        self._submit_attempts = max(1, submit_attempts)
        self._sleep = sleep
        self.access_token = access_token
        self.refresh_token = refresh_token
        self._on_tokens = on_tokens
        self._http = httpx.Client(
            base_url=self.server,
            transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            headers={"Accept": "application/json, application/problem+json"},
        )

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``/api/v1{path}`` and return the parsed JSON."""
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, *, auth: bool = True) -> Any:
        """POST JSON to ``/api/v1{path}`` and return the parsed JSON (None for 204)."""
        return self.request("POST", path, body=body, auth=auth)

    def submit(self, path: str, body: Any) -> Any:
        """POST a job submission under a fresh ``Idempotency-Key`` and return the job.

        A submission that gets no answer (the server is unreachable, or the connection broke
        before the answer came) or a 5xx is sent again with the same key, up to
        ``submit_attempts`` tries, after the server's ``Retry-After`` (at most
        `SUBMIT_MAX_DELAY_S`) or a doubling delay: the gateway answers a retry with the job the
        first try created, so a job is never started twice. Anything else is raised at once.
        """
        headers = {IDEMPOTENCY_HEADER: str(uuid4())}
        for attempt in range(1, self._submit_attempts):
            try:
                return self.request("POST", path, body=body, headers=headers)
            except (ApiError, ServerUnreachableError) as exc:
                if not _retryable(exc):
                    raise
                self._sleep(_retry_delay(exc, attempt))
        return self.request("POST", path, body=body, headers=headers)  # the last try

    def delete(self, path: str) -> Any:
        """DELETE ``/api/v1{path}`` and return the parsed JSON (None for 204)."""
        return self.request("DELETE", path)

    def upload(self, path: str, file: Path, fields: Mapping[str, str]) -> Any:
        """POST ``file`` as the multipart part ``file`` with form ``fields``."""
        return self.request("POST", path, upload=file, fields=fields)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        upload: Path | None = None,
        fields: Mapping[str, str] | None = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send a request; on 401 refresh the tokens once and send it again."""

        def send() -> httpx.Response:
            return self._send(
                method,
                path,
                body=body,
                params=params,
                upload=upload,
                fields=fields,
                auth=auth,
                headers=headers,
            )

        response = send()
        if response.status_code == 401 and auth and self.refresh_token and self.refresh():
            response = send()
        if response.is_error:
            raise ApiError.of(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "Unexpected answer", "not JSON") from exc

    def refresh(self) -> bool:
        """Rotate the token pair; return whether it worked (a refused refresh token is dropped)."""
        if not self.refresh_token:
            return False
        response = self._send(
            "POST", "/auth/refresh", body={"refresh_token": self.refresh_token}, auth=False
        )
        if response.is_error:
            if response.status_code in {400, 401, 403, 422}:
                self.refresh_token = None
            return False
        tokens = response.json()
        self.access_token = str(tokens["access_token"])
        self.refresh_token = str(tokens["refresh_token"])
        if self._on_tokens is not None:
            self._on_tokens(self.access_token, self.refresh_token)
        return True

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        upload: Path | None = None,
        fields: Mapping[str, str] | None = None,
        auth: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if auth and self.access_token:
            sent["Authorization"] = f"Bearer {self.access_token}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            with ExitStack() as stack:
                files = None
                if upload is not None:
                    # Opened per attempt: a retry after a token refresh sends the file again.
                    handle = stack.enter_context(upload.open("rb"))
                    files = {"file": (upload.name, handle, _media_type(upload))}
                return self._http.request(
                    method,
                    API + path,
                    json=body,
                    params=query,
                    files=files,
                    data=dict(fields) if fields else None,
                    headers=sent,
                )
        except httpx.TransportError as exc:
            raise ServerUnreachableError(self.server, str(exc) or type(exc).__name__) from exc


def _retryable(exc: ApiError | ServerUnreachableError) -> bool:
    """Whether a submission that failed so may have been lost, not refused: retry it."""
    return isinstance(exc, ServerUnreachableError) or exc.status >= 500


def _retry_delay(exc: ApiError | ServerUnreachableError, attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1``: the server's ``Retry-After`` when it sent
    one in seconds, else a doubling delay; never more than `SUBMIT_MAX_DELAY_S`."""
    delay = SUBMIT_FIRST_DELAY_S * 2.0 ** (attempt - 1)
    if isinstance(exc, ApiError) and exc.retry_after_s is not None:
        delay = exc.retry_after_s
    return min(delay, SUBMIT_MAX_DELAY_S)


def _media_type(path: Path) -> str:
    known = MEDIA_TYPES.get(path.suffix.lower())
    return known or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
