"""Every error leaves the gateway as RFC 9457 problem+json, never as a stack trace."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from tradelab_gateway.api.problems import ProblemError, install_problem_handlers


class Body(BaseModel):
    name: str = Field(min_length=3)


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals at /srv/app.py line 42")

    @app.get("/busy")
    async def busy() -> None:
        raise ProblemError(429, "Slow down.", code="throttled", headers={"Retry-After": "7"})

    return app


async def call(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_validation_error_names_the_field() -> None:
    response = await call("POST", "/things", json={"name": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422
    assert body["code"] == "validation_error"
    assert body["instance"] == "/things"
    assert body["errors"][0]["field"] == "name"
    assert "at least 3 characters" in body["errors"][0]["message"]


@pytest.mark.asyncio
async def test_unhandled_error_is_a_generic_500_without_internals() -> None:
    response = await call("GET", "/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["title"] == "Internal Server Error"


@pytest.mark.asyncio
async def test_problem_keeps_its_code_and_headers() -> None:
    response = await call("GET", "/busy")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["type"].endswith("/throttled")


@pytest.mark.asyncio
async def test_unknown_route_is_a_problem_too() -> None:
    response = await call("GET", "/nowhere")
    assert response.status_code == 404
    assert response.json()["status"] == 404
