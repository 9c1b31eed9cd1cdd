"""The gateway's REST API over httpx: parsed JSON in, typed errors out, tokens refreshed once."""

import mimetypes
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

API = "/api/v1"
TokenListener = Callable[[str, str], None]
MEDIA_TYPES = {".csv": "text/csv", ".parquet": "application/vnd.apache.parquet"}


class ApiError(Exception):
    """The server refused a request (RFC 9457 problem details when it sent them)."""

    def __init__(
        self, status: int, title: str, detail: str, body: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.body: dict[str, Any] = dict(body or {})

    @classmethod
    def of(cls, response: httpx.Response) -> "ApiError":
        """Build from an error response, problem+json or not."""
        title = response.reason_phrase or f"HTTP {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            return cls(response.status_code, title, response.text.strip()[:300])
        if not isinstance(body, dict):
            return cls(response.status_code, title, str(body)[:300])
        return cls(
            response.status_code,
            str(body.get("title") or title),
            str(body.get("detail") or ""),
            body,
        )


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
    ) -> None:
        self.server = server.rstrip("/")
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
    ) -> Any:
        """Send a request; on 401 refresh the tokens once and send it again."""

        def send() -> httpx.Response:
            return self._send(
                method, path, body=body, params=params, upload=upload, fields=fields, auth=auth
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
    ) -> httpx.Response:
        headers = {}
        if auth and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
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
                    headers=headers,
                )
        except httpx.TransportError as exc:
            raise ServerUnreachableError(self.server, str(exc) or type(exc).__name__) from exc


def _media_type(path: Path) -> str:
    known = MEDIA_TYPES.get(path.suffix.lower())
    return known or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
