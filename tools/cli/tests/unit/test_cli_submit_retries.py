"""Job submissions carry an Idempotency-Key and are retried under it, against a fake gateway.

The fake keeps jobs by key as the gateway does (docs/security.md, "Idempotency"): a retry with
the key of a submission that got through answers the job that submission created.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from tools.cli.tests.unit.fake_gateway import FakeGateway, invoke, logged_in, problem

DATASET = "22222222-2222-4222-8222-222222222222"
BACKTEST = ["backtest", "run", "--dataset", DATASET, "--strategy", "sma_cross"]
OPTIMIZE = [
    "optimize", "run", "--dataset", DATASET, "--strategy", "sma_cross", "--range", "fast=5:20:5",
]  # fmt: skip
Failure = Callable[[httpx.Request], httpx.Response]


def unavailable(retry_after: str | None = "5") -> Failure:
    """The gateway's answer when a service did not answer in time."""

    def answer(_: httpx.Request) -> httpx.Response:
        response = problem(503, "Service Unavailable", "engine did not answer")
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response

    return answer


class Jobs:
    """A job route that keeps one job per ``Idempotency-Key``, failing its first tries.

    ``failures`` answer the first tries in turn; ``lost`` makes each of them create the job
    first, as a submission whose answer never reached the client did.
    """

    def __init__(self, failures: list[Failure], *, lost: bool = False) -> None:
        self.failures = failures
        self.lost = lost
        self.keys: list[str | None] = []
        self.jobs: dict[str, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        self.keys.append(key)
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None and not self.lost:
            return failure(request)
        job = self.jobs.setdefault(str(key), self._new_job(request))
        if failure is not None:
            return failure(request)
        return httpx.Response(202, json=job)

    @staticmethod
    def _new_job(request: httpx.Request) -> dict[str, Any]:
        body = json.loads(request.content)
        return {"id": str(uuid4()), "status": "queued", "progress": 0.0, "total": 4, **body}


def timed_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out waiting for the answer", request=request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def submitted(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    job: dict[str, Any] = out.get("optimization", out)
    return job


def one_key(jobs: Jobs) -> str:
    """The key every try carried (a UUID), asserting there was only one."""
    assert len(set(jobs.keys)) == 1, jobs.keys
    key = str(jobs.keys[0])
    assert str(UUID(key)) == key
    return key


@pytest.mark.parametrize("command", [BACKTEST, OPTIMIZE], ids=["backtest", "optimize"])
def test_a_submission_answered_503_is_retried_under_its_key_after_retry_after(
    config_dir: Path, fake: FakeGateway, command: list[str]
) -> None:
    logged_in()
    jobs = Jobs([unavailable("5")])
    fake.route("POST", "/api/v1/backtests", jobs)
    fake.route("POST", "/api/v1/optimizations", jobs)
    job = submitted(invoke(fake, *command, "--no-wait", "--json"))
    key = one_key(jobs)
    assert len(jobs.keys) == 2
    assert fake.slept == [5.0]
    assert job["id"] == jobs.jobs[key]["id"]


@pytest.mark.parametrize("lost", [timed_out, refused], ids=["answer-lost", "unreachable"])
def test_a_submission_without_an_answer_is_retried_and_answers_the_first_job(
    config_dir: Path, fake: FakeGateway, lost: Failure
) -> None:
    logged_in()
    jobs = Jobs([lost], lost=lost is timed_out)
    fake.route("POST", "/api/v1/backtests", jobs)
    job = submitted(invoke(fake, *BACKTEST, "--no-wait", "--json"))
    key = one_key(jobs)
    assert list(jobs.jobs) == [key]  # one job, however many tries
    assert job["id"] == jobs.jobs[key]["id"]
    assert fake.slept == [1.0]


def test_a_submission_failing_every_try_ends_with_the_last_problem(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    jobs = Jobs([unavailable(None), unavailable(None), unavailable("600")])
    fake.route("POST", "/api/v1/backtests", jobs)
    result = invoke(fake, *BACKTEST, "--no-wait")
    assert result.exit_code == 1
    assert "Service Unavailable" in result.stderr
    one_key(jobs)
    assert len(jobs.keys) == 3
    assert fake.slept == [1.0, 2.0]  # doubling, when the server names no wait


def test_a_long_retry_after_is_capped(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    jobs = Jobs([unavailable("600")])
    fake.route("POST", "/api/v1/backtests", jobs)
    submitted(invoke(fake, *BACKTEST, "--no-wait", "--json"))
    assert fake.slept == [10.0]


def test_a_refused_submission_is_not_retried(config_dir: Path, fake: FakeGateway) -> None:
    logged_in()
    refusal = problem(422, "Unprocessable Entity", "idempotency_key_reused")
    jobs = Jobs([lambda _: refusal])
    fake.route("POST", "/api/v1/backtests", jobs)
    result = invoke(fake, *BACKTEST, "--no-wait")
    assert result.exit_code == 1
    assert len(jobs.keys) == 1
    assert fake.slept == []


def test_each_invocation_submits_under_a_key_of_its_own(
    config_dir: Path, fake: FakeGateway
) -> None:
    logged_in()
    jobs = Jobs([])
    fake.route("POST", "/api/v1/backtests", jobs)
    first = submitted(invoke(fake, *BACKTEST, "--no-wait", "--json"))
    second = submitted(invoke(fake, *BACKTEST, "--no-wait", "--json"))
    assert len(set(jobs.keys)) == 2
    assert first["id"] != second["id"]
