"""Request bodies other than uploads are bounded before they are read: 413 problem+json."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from tradelab_gateway.api.problems import install_problem_handlers
from tradelab_gateway.app import build_app
from tradelab_gateway.security.body_limit import BodyLimit
from tradelab_gateway.settings import GatewaySettings

LIMIT = 1024
JSON = {"content-type": "application/json"}


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=LIMIT, upload_paths=("/upload",))

    @app.post("/things")
    async def create(body: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(body)}

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


async def post(path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.post(path, **kwargs)


def json_of_bytes(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (``{"k":""}`` is 8)."""
    return b'{"k":"' + b"x" * (size - 8) + b'"}'


@pytest.mark.asyncio
async def test_a_body_of_the_limit_is_read() -> None:
    response = await post("/things", content=json_of_bytes(LIMIT), headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json() == {"keys": 1}


@pytest.mark.asyncio
async def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read() -> None:
    response = await post("/things", content=json_of_bytes(LIMIT + 1), headers=JSON)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "too_large"
    assert "limited to 1,024 bytes" in problem["detail"]


@pytest.mark.asyncio
async def test_a_chunked_body_is_counted_and_refused_once_past_the_limit() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 256  # no Content-Length: each chunk arrives on its own

    response = await post("/things", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "too_large"
    assert "limited to 1,024 bytes" in problem["detail"]


@pytest.mark.asyncio
async def test_a_file_upload_is_left_to_the_upload_limits() -> None:
    response = await post("/upload", files={"file": ("bars.csv", b"x" * (4 * LIMIT))})
    assert response.status_code == 200
    assert response.json()["bytes"] > 4 * LIMIT


@pytest.mark.asyncio
async def test_a_body_that_only_calls_itself_an_upload_is_bounded() -> None:
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    response = await post("/things", content=b"x" * (4 * LIMIT), headers=multipart)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/datasets", 401),  # past the body limit, to the route's own checks
        ("/api/v1/backtests/quick", 401),
        ("/api/v1/backtests", 413),
    ],
)
async def test_the_gateway_exempts_its_upload_routes_only(
    tmp_path: Path, path: str, status: int
) -> None:
    settings = GatewaySettings(object_store_url=f"file://{tmp_path}", max_body_bytes=LIMIT)
    transport = httpx.ASGITransport(app=build_app(settings))
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.post(path, content=b"x" * (4 * LIMIT), headers=multipart)
    assert response.status_code == status, response.text
