"""An upload form past its limit, malformed or without a file is refused as a problem."""

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from tradelab_gateway.api.problems import install_problem_handlers
from tradelab_gateway.api.uploads import MULTIPART_OVERHEAD, declared_length, receive_form

LIMIT = 1024
DETAIL = "Files up to 1024 bytes."


def make_app(scratch: Path) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        declared_length(request, LIMIT, DETAIL)
        fields, received = await receive_form(request, scratch, LIMIT, DETAIL)
        return {"fields": fields, "size": received.size_bytes}

    return app


async def post(scratch: Path, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(scratch))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.post("/upload", **kwargs)


@pytest.mark.asyncio
async def test_a_file_within_the_limit_is_received(tmp_path: Path) -> None:
    response = await post(tmp_path, files={"file": ("a.csv", b"x" * LIMIT)}, data={"k": "v"})
    assert response.status_code == 200, response.text
    assert response.json() == {"fields": {"k": "v"}, "size": LIMIT}


@pytest.mark.asyncio
async def test_a_file_past_the_limit_is_413_too_large(tmp_path: Path) -> None:
    response = await post(tmp_path, files={"file": ("a.csv", b"x" * (LIMIT + 1))})
    assert response.status_code == 413
    assert (response.json()["code"], response.json()["detail"]) == ("too_large", DETAIL)


@pytest.mark.asyncio
async def test_a_declared_length_past_limit_and_overhead_is_413_unread(tmp_path: Path) -> None:
    response = await post(
        tmp_path,
        content=b"x" * (LIMIT + MULTIPART_OVERHEAD + 1),
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 413
    assert (response.json()["code"], response.json()["detail"]) == ("too_large", DETAIL)


@pytest.mark.asyncio
async def test_a_body_that_is_not_the_form_is_400_malformed_upload(tmp_path: Path) -> None:
    response = await post(tmp_path, json={"file": "nope"})
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_upload"


@pytest.mark.asyncio
async def test_a_form_without_a_file_is_422(tmp_path: Path) -> None:
    response = await post(tmp_path, files={"name": (None, b"bars")})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
