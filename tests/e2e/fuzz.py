"""What the schemathesis runs need: a user who owns one of everything, ids fed to the generated
cases, and a tally of what was reached.

A generated UUID names nothing, so without help every ``/{id}`` operation answers 404 and the
handler behind it is never fuzzed. Three cases in four therefore get the ids (and a valid file,
strategy and parameters) of resources created up front; the fourth keeps what was generated, so
unknown ids and garbage files are still sent. Deletions take spare resources, so the others stay.
"""

import os
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from schemathesis import Case, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.helpers import (
    FINAL,
    GOOG,
    auth,
    forwarded_for,
    minute_bars_csv,
    run_to_end,
    upload_goog,
)
from tests.polling import wait_for
from tradelab_gateway.app import build_app
from tradelab_gateway.settings import GatewaySettings

PASSWORD = "correct horse battery"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
"""Hypothesis examples per operation: small in ``make test``, ``make fuzz`` raises it."""
COVERAGE = os.environ.get("FUZZ_COVERAGE", "0") == "1"
"""Schemathesis' coverage phase (boundary values of every constraint, ~2,100 cases): ``make
fuzz`` only."""
CONFIG: dict[str, Any] = {
    "phases": {"coverage": {"enabled": COVERAGE}},
    # The rule-tree union is recursive: its coverage phase alone is ~74,000 cases.
    "operations": [
        {
            "include-operation-id": "create_strategy_api_v1_strategies_post",
            "phases": {"coverage": {"enabled": False}},
        }
    ],
}
CROSS = {
    "entry": {
        "type": "compare",
        "left": {"type": "sma", "period": 10},
        "op": "crosses_above",
        "right": {"type": "sma", "period": 50},
    },
    "exit": {
        "type": "compare",
        "left": {"type": "sma", "period": 10},
        "op": "crosses_below",
        "right": {"type": "sma", "period": 50},
    },
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
"""No 5xx, and nothing the document does not declare: status, content type, headers, body."""


def gateway_document() -> dict[str, Any]:
    """The gateway's OpenAPI document, built from its code."""
    document: dict[str, Any] = build_app(GatewaySettings()).openapi()
    return document


@dataclass
class World:
    """One user's resources, by the path parameter that names them."""

    email: str
    token: str
    refresh_token: str
    ids: dict[str, str]
    spares: dict[str, str]
    chart: str
    run_ids: list[str]

    def headers(self) -> dict[str, str]:
        return auth(self.token)


def _user(client: httpx.Client) -> tuple[str, str, str]:
    email = f"fuzz-{secrets.token_hex(6)}@example.com"
    # From an address of its own: the generated register cases share 127.0.0.1's count, and
    # the stateful run of ``make fuzz`` builds its world after they have used it up.
    response = client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD},
        headers=forwarded_for(),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return email, body["access_token"], body["refresh_token"]


def _finished(client: httpx.Client, token: str, url: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(url, headers=auth(token)).json()
        return body if body["status"] in FINAL else None

    found = wait_for(probe, 90, f"{url} finished")
    assert found["status"] == "completed", found
    return found


def _created(response: httpx.Response) -> str:
    assert response.status_code in (200, 201, 202), response.text
    created: str = response.json().get("id") or response.json()["name"]
    return created


def _upload_spare(client: httpx.Client, token: str) -> str:
    files = {"file": ("spare.csv", minute_bars_csv(300, seed=14), "text/csv")}
    return _created(client.post("/api/v1/datasets", headers=auth(token), files=files))


def _post(client: httpx.Client, token: str, url: str, body: dict[str, Any]) -> str:
    return _created(client.post(url, headers=auth(token), json=body))


def _chart(client: httpx.Client, token: str, run: str) -> str:
    """The name of one chart of ``run``, once analytics has analysed it."""

    def analysed() -> str | None:
        if client.get(f"/api/v1/analytics/{run}", headers=auth(token)).status_code != 200:
            return None
        charts: dict[str, Any] = client.get(
            f"/api/v1/analytics/{run}/charts", headers=auth(token)
        ).json()
        return next(iter(charts))

    return wait_for(analysed, 60, "analysis of the fuzz run")


def _jobs(client: httpx.Client, token: str, dataset: str) -> dict[str, str]:
    """A completed backtest, Monte Carlo study and optimisation of ``dataset``."""
    run = run_to_end(client, token, {"dataset_id": dataset, "strategy": "sma_cross"})["id"]
    study = _post(
        client,
        token,
        "/api/v1/monte-carlo",
        {"method": "bootstrap_returns", "run_id": run, "n_simulations": 50},
    )
    optimization = _post(
        client,
        token,
        "/api/v1/optimizations",
        {
            "dataset_id": dataset,
            "strategy": "sma_cross",
            "parameter_space": {"fast": [5, 10], "slow": [30, 50]},
            "walk_forward": {"mode": "rolling", "train_bars": 1000, "test_bars": 500},
        },
    )
    _finished(client, token, f"/api/v1/monte-carlo/{study}")
    _finished(client, token, f"/api/v1/optimizations/{optimization}")
    return {"run_id": run, "simulation_id": study, "optimization_id": optimization}


def build_world(client: httpx.Client) -> World:
    """Register a user and create a dataset, backtests, a study, an optimisation and strategies;
    spares of the deletable ones."""
    email, token, refresh = _user(client)
    dataset = upload_goog(client, token)
    jobs = _jobs(client, token, dataset)
    other = {"dataset_id": dataset, "strategy": "sma_cross", "parameters": {"fast": 5}}
    spares = {
        "dataset_id": _upload_spare(client, token),
        "run_id": _post(client, token, "/api/v1/backtests", other),
        "name": _post(client, token, "/api/v1/strategies", {"name": "fuzz_spare", **CROSS}),
    }
    strategy = _post(client, token, "/api/v1/strategies", {"name": "fuzz_rules", **CROSS})
    return World(
        email=email,
        token=token,
        refresh_token=refresh,
        ids={"dataset_id": dataset, **jobs, "name": strategy},
        spares=spares,
        chart=_chart(client, token, jobs["run_id"]),
        run_ids=[jobs["run_id"], run_to_end(client, token, other)["id"]],
    )


@dataclass
class Tally:
    """Cases per operation, how many carried known ids, and the statuses answered."""

    cases: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    statuses: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    refusals: dict[str, str] = field(default_factory=dict)

    def record(self, label: str, response: Response) -> None:
        """Count the answer; keep the first 422 of each operation (why bodies are refused)."""
        self.statuses[label][response.status_code] += 1
        if response.status_code == 422:
            self.refusals.setdefault(label, response.content[:300].decode(errors="replace"))

    def next_is_known(self, label: str) -> bool:
        """Three cases in four of an operation get known ids (the first one always)."""
        index = self.cases[label]
        self.cases[label] += 1
        return index % 4 != 3

    def summary(self) -> list[str]:
        lines = [
            f"{label}: {self.cases[label]} cases, {self.known[label]} with known ids/files, "
            f"statuses {dict(sorted(self.statuses[label].items()))}"
            for label in sorted(self.cases)
        ]
        lines += [
            f"{label} refused: {text}"
            for label, text in sorted(self.refusals.items())
            if not self.statuses[label].keys() & {200, 201, 202, 204}
        ]
        reached = sum(1 for label in self.cases if self.statuses[label].keys() - {401, 404, 422})
        lines.append(
            f"{len(self.cases)} operations, {sum(self.cases.values())} cases, "
            f"{sum(self.known.values())} with known ids; {reached} operations answered "
            "something other than 401/404/422"
        )
        return lines


def _fill_ids(body: dict[str, Any], case: Case[Any], world: World) -> None:
    if "dataset_id" in body:
        body["dataset_id"] = world.ids["dataset_id"]
    if case.method == "POST" and "run_id" in body:
        body["run_id"] = world.ids["run_id"]
    if "run_ids" in body:
        body["run_ids"] = list(world.run_ids)
    if "refresh_token" in body:
        body["refresh_token"] = world.refresh_token
    if case.path == "/api/v1/auth/login":
        body.update(email=world.email, password=PASSWORD)


def _fill_inputs(body: dict[str, Any], case: Case[Any]) -> None:
    """A strategy that exists, parameters it has, a file it can read."""
    gbm = body.get("method") == "gbm_paths"
    if "strategy" in body and (gbm or case.path != "/api/v1/monte-carlo"):
        body["strategy"] = "sma_cross"
        if "parameters" in body:
            body["parameters"] = "{}" if "file" in body else {}
    space = body.get("parameter_space")
    if isinstance(space, dict):
        body["parameter_space"] = dict(zip(("fast", "slow"), space.values(), strict=False))
        body["constraints"] = []
    if "file" in body:
        body["file"] = GOOG.read_bytes()


def fill(case: Case[Any], world: World) -> None:
    """Give ``case`` the world's ids in its path (spares for a deletion) and its body."""
    pool = world.spares if case.method == "DELETE" else world.ids
    for name in list(case.path_parameters or {}):
        if name == "name" and case.path.startswith("/api/v1/analytics"):
            case.path_parameters[name] = world.chart
        elif name in pool:
            case.path_parameters[name] = pool[name]
    if case.query and {"x", "y"} <= case.query.keys():  # the heatmap's axes
        case.query.update(x="fast", y="slow")
    if isinstance(case.body, dict):
        _fill_ids(case.body, case, world)
        _fill_inputs(case.body, case)
