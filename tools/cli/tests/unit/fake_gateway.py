"""A fake gateway for the CLI's in-process tests: routes answered by functions, tokens checked
and refreshed like the real one."""

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
from typer.testing import CliRunner

from tradelab_cli.cli import app
from tradelab_cli.config import Config, save_config
from tradelab_cli.session import Session

SERVER = "http://gateway.test"
PROBLEM = {"content-type": "application/problem+json"}


STRATEGIES = "/api/v1/strategies"
STRATEGY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
CONDITION_TYPES = frozenset({"compare", "all", "any", "not"})
SMA_CROSS = {
    "name": "sma_cross",
    "description": "Long when the fast SMA crosses above the slow one.\nFlat when it crosses back.",
    "kind": "builtin",
    "parameters_schema": {
        "type": "object",
        "properties": {
            "fast": {
                "type": "integer",
                "default": 10,
                "minimum": 2,
                "maximum": 500,
                "description": "Fast period.",
            },
            "slow": {"type": "integer", "default": 50, "exclusiveMinimum": 2},
        },
    },
    "defaults": {"fast": 10, "slow": 50},
    "rules": None,
    "created_at": None,
}


def problem(
    status: int, title: str, detail: str, extra: dict[str, Any] | None = None
) -> httpx.Response:
    body = {"title": title, "detail": detail, "status": status, **(extra or {})}
    return httpx.Response(status, json=body, headers=PROBLEM)


def invalid(errors: list[dict[str, str]]) -> httpx.Response:
    """A 422 as the gateway writes a refused request body: one line, and the fields."""
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    extra = {"code": "validation_error", "errors": errors}
    return problem(422, "Unprocessable Entity", detail, extra)


def _rule_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    """What the gateway's validation of a rule set would say (a few of its checks)."""
    errors = []
    if not STRATEGY_NAME.match(str(body.get("name", ""))):
        errors.append({"field": "name", "message": "String should match pattern"})
    for side in ("entry", "exit"):
        condition = body.get(side)
        if not isinstance(condition, dict) or condition.get("type") not in CONDITION_TYPES:
            message = "Input tag does not match any of the expected tags"
            errors.append({"field": side, "message": message})
    return errors


class FakeGateway:
    """Answers like the gateway for the routes a test needs; records what it received."""

    def __init__(self) -> None:
        self.valid_access = {"access-1"}
        self.refresh_tokens = {"refresh-1"}
        self.requests: list[httpx.Request] = []
        self.slept: list[float] = []
        """What the CLI waited between retried submissions (it never really waits here)."""
        self.routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {}
        self.route("POST", "/api/v1/auth/login", self.login)
        self.route("POST", "/api/v1/auth/refresh", self.refresh)
        self.builtins = {"sma_cross": SMA_CROSS}
        self.saved: dict[str, dict[str, Any]] = {}
        self.route("GET", STRATEGIES, self.list_strategies)
        self.route("POST", STRATEGIES, self.create_strategy)
        self.route("GET", STRATEGIES + "/{name}", self.get_strategy)
        self.route("DELETE", STRATEGIES + "/{name}", self.delete_strategy)

    def route(
        self, method: str, path: str, answer: Callable[[httpx.Request], httpx.Response]
    ) -> None:
        self.routes[(method, path)] = answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        # A route registered as ".../{name}" answers any last path segment.
        named = path.rsplit("/", 1)[0] + "/{name}"
        answer = self.routes.get((request.method, path)) or self.routes.get((request.method, named))
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

    def list_strategies(self, _: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[*self.builtins.values(), *self.saved.values()])

    def get_strategy(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[1]
        found = self.builtins.get(name) or self.saved.get(name)
        if found is None:
            return problem(404, "Not Found", f"No strategy named {name!r}.")
        return httpx.Response(200, json=found)

    def create_strategy(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        name = str(body.get("name"))
        errors = _rule_errors(body)
        if name in self.builtins:
            message = f"{name} is a built-in strategy; choose another name."
            errors.append({"field": "name", "message": message})
        if errors:
            return invalid(errors)
        if name in self.saved:
            return problem(409, "Conflict", f"You already have a strategy named {name}.")
        self.saved[name] = {
            "name": name,
            "description": body.get("description", ""),
            "kind": "saved",
            "parameters_schema": {},
            "defaults": {},
            "rules": {"entry": body["entry"], "exit": body["exit"]},
            "created_at": "2026-02-01T09:30:00Z",
        }
        return httpx.Response(201, json=self.saved[name])

    def delete_strategy(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[1]
        if name in self.builtins:
            return problem(409, "Conflict", "Built-in strategies cannot be deleted.")
        if self.saved.pop(name, None) is None:
            return problem(404, "Not Found", f"No strategy named {name!r}.")
        return httpx.Response(204)


def invoke(fake: FakeGateway, *args: str, stdin: str | None = None) -> Any:
    runner = CliRunner()
    session = Session(transport=fake.transport(), sleep=fake.slept.append)
    return runner.invoke(app, list(args), input=stdin, obj=session)


def logged_in(access: str = "access-1") -> None:
    save_config(
        Config(
            server=SERVER, email="ada@example.com", access_token=access, refresh_token="refresh-1"
        )
    )
