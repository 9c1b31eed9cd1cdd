"""The Idempotency-Key header of job submissions: bounded, and the request hash that tells a retry
of one request from another request under the same key."""

from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from tradelab_contracts.base import IdempotencyKey
from tradelab_gateway.api.backtests_schemas import BacktestCreate
from tradelab_gateway.api.deps import IdempotencyKey as IdempotencyKeyHeader
from tradelab_gateway.api.problems import install_problem_handlers
from tradelab_gateway.domain.idempotency import (
    InvalidIdempotencyKeyError,
    checked_key,
    replayed,
    request_sha256,
)

DATASET = "00000000-0000-0000-0000-000000000001"
GOOD = ["k", "0f8fad5b-d9cb-469f-a165-70867728950e", "retry:2026/12/07#1", "~" * 255]
BAD = ["", "x" * 256, "two words", "tab\there", "caf\u00e9", "bell\x07"]
CONTRACT_KEY: TypeAdapter[str] = TypeAdapter(IdempotencyKey)


@pytest.mark.parametrize("key", GOOD)
def test_a_key_of_1_to_255_visible_ascii_characters_is_taken_as_sent(key: str) -> None:
    assert checked_key(key) == key
    assert CONTRACT_KEY.validate_python(key) == key  # the engine will take it too


def test_no_header_is_no_key() -> None:
    assert checked_key(None) is None


@pytest.mark.parametrize("key", BAD)
def test_an_empty_long_or_non_visible_key_is_refused_here_and_by_the_contract(key: str) -> None:
    with pytest.raises(InvalidIdempotencyKeyError):
        checked_key(key)
    with pytest.raises(ValidationError):
        CONTRACT_KEY.validate_python(key)


def create(raw: dict[str, object]) -> BacktestCreate:
    return BacktestCreate.model_validate({"dataset_id": DATASET, "strategy": "sma_cross"} | raw)


def test_one_request_hashes_the_same_however_its_json_was_spelt() -> None:
    terse = create({"parameters": {"fast": 10, "slow": 50}})
    spelt_out = BacktestCreate.model_validate_json(
        '{"parameters": {"slow": 50, "fast": 10}, "options": {}, '
        f'"strategy": "sma_cross", "dataset_id": "{DATASET}"}}'
    )

    assert request_sha256(terse) == request_sha256(spelt_out)
    assert len(request_sha256(terse)) == 64


def test_another_request_hashes_differently() -> None:
    first = create({"parameters": {"fast": 10, "slow": 50}})
    other = create({"parameters": {"fast": 12, "slow": 50}})

    assert request_sha256(first) != request_sha256(other)


def test_an_answer_with_an_earlier_job_is_marked_replayed() -> None:
    asked, earlier = UUID(int=1), UUID(int=2)

    assert replayed(asked, asked) == {}
    assert replayed(earlier, asked) == {"Idempotent-Replayed": "true"}


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/jobs")
    async def submit(key: IdempotencyKeyHeader) -> dict[str, str | None]:
        return {"key": key}

    return app


async def post(headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.post("/jobs", headers=headers)


@pytest.mark.asyncio
async def test_the_header_is_read_whatever_its_case_and_is_optional() -> None:
    assert (await post({"idempotency-key": "abc"})).json() == {"key": "abc"}
    assert (await post({})).json() == {"key": None}


@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["x" * 256, "two words"])
async def test_a_malformed_header_is_a_422_naming_it(key: str) -> None:
    response = await post({"Idempotency-Key": key})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["field"] == "Idempotency-Key"
