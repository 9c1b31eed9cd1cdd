"""A fake gateway for the CLI's in-process tests: routes answered by functions, tokens checked
and refreshed like the real one."""

import json
from collections.abc import Callable
from typing import Any

import httpx
from typer.testing import CliRunner

from tradelab_cli.cli import app
from tradelab_cli.config import Config, save_config
from tradelab_cli.session import Session

SERVER = "http://gateway.test"
PROBLEM = {"content-type": "application/problem+json"}


def problem(status: int, title: str, detail: str) -> httpx.Response:
    body = {"title": title, "detail": detail, "status": status}
    return httpx.Response(status, json=body, headers=PROBLEM)


class FakeGateway:
    """Answers like the gateway for the routes a test needs; records what it received."""

    def __init__(self) -> None:
        self.valid_access = {"access-1"}
        self.refresh_tokens = {"refresh-1"}
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {}
        self.route("POST", "/api/v1/auth/login", self.login)
        self.route("POST", "/api/v1/auth/refresh", self.refresh)

    def route(
        self, method: str, path: str, answer: Callable[[httpx.Request], httpx.Response]
    ) -> None:
        self.routes[(method, path)] = answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return problem(404, "Not Found", "no route")
        open_route = request.url.path.startswith("/api/v1/auth/")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not open_route and token not in self.valid_access:
            return problem(401, "Unauthorized", "Invalid or expired access token.")
        return answer(request)

    def login(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["password"] != "correct horse battery":
            return problem(401, "Unauthorized", "Wrong e-mail or password.")
        user = {"id": "u1", "email": body["email"], "created_at": "2026-01-01T00:00:00Z"}
        tokens = {"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 900}
        return httpx.Response(200, json={**tokens, "token_type": "bearer", "user": user})

    def refresh(self, request: httpx.Request) -> httpx.Response:
        old = json.loads(request.content)["refresh_token"]
        if old not in self.refresh_tokens:
            return problem(401, "Unauthorized", "Invalid refresh token.")
        self.refresh_tokens = {"refresh-2"}
        self.valid_access = {"access-2"}
        tokens = {"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 900}
        return httpx.Response(200, json={**tokens, "token_type": "bearer"})


def invoke(fake: FakeGateway, *args: str, stdin: str | None = None) -> Any:
    runner = CliRunner()
    return runner.invoke(app, list(args), input=stdin, obj=Session(transport=fake.transport()))


def logged_in(access: str = "access-1") -> None:
    save_config(
        Config(
            server=SERVER, email="ada@example.com", access_token=access, refresh_token="refresh-1"
        )
    )
