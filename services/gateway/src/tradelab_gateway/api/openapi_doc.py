"""The OpenAPI document says what the API enforces: every operation's error answers, and the
tag of every discriminated union as a required property.

FastAPI documents a success and a 422 in its own (``application/json``) shape; the gateway
answers every error as ``application/problem+json`` (``problems.py``). ``document_errors``
rewrites the document once, when it is first built: each operation lists the statuses it can
refuse with, each as a problem. The statuses every operation of a kind shares are derived (400
when it takes a JSON body, 401 when it needs a token, 404 when its path names something, 422 when
it takes input, 503 when a service behind the gateway answers it); the others are listed in
``REFUSALS``. A new refusal goes there, or ``tests/e2e/test_openapi_fuzz.py`` fails on it.

Pydantic leaves a union's tag out of ``required`` when it has a default (``"type": "sma"`` of a
rule), yet the union cannot be told apart without it: ``require_tags`` adds it.
"""

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from tradelab_gateway.api.problems import PROBLEM_JSON


class FieldProblem(BaseModel):
    """One invalid input."""

    field: str = Field(description="Dotted path of the field, header or form part ('body').")
    message: str


class Problem(BaseModel):
    """An error as RFC 9457 problem details; ``code`` is the machine-readable reason."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="https://tradelab.dev/problems/{code}")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What went wrong, for a person.")
    instance: str = Field(description="The request path.")
    code: str = Field(description="Reason code, e.g. validation_error, not_found, too_large.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="The invalid fields (422 validation_error)."
    )
    reason: str | None = Field(
        default=None, description="Why a file was refused (quick backtests), as for a dataset."
    )
    rate_limit: str | None = Field(
        default=None, description="The rate limit reached (429 rate_limited), e.g. jobs_per_user."
    )
    retry_after_s: int | None = Field(
        default=None, description="Seconds until the rate limit admits a request again."
    )
    quota: str | None = Field(
        default=None, description="The quota a request would exceed (429 quota_exceeded)."
    )
    usage: int | None = Field(default=None, description="What the quota held before the request.")
    limit: int | None = Field(default=None, description="What the quota allows.")
    requested: int | None = Field(default=None, description="What the request would have added.")


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
UPLOAD = {
    400: "Not a multipart/form-data body, or one past its part limits (malformed_upload).",
    413: "The file is larger than allowed (too_large).",
}
DATASET_QUOTA = "The upload would exceed your datasets or stored_bytes quota (quota_exceeded)."
JOB_REFUSED = (
    "Too many submissions (rate_limited, jobs_per_user) or too many of your jobs queued and "
    "running (quota_exceeded)."
)
ADMIN_ONLY = {403: "Your token is not an administrator's (forbidden)."}
REFUSALS: dict[tuple[str, str], dict[int, str]] = {
    **{
        ("get", f"/api/v1/performance/{report}"): ADMIN_ONLY
        for report in ("system", "database", "cache", "jobs")
    },
    ("post", "/api/v1/auth/register"): {
        409: "The e-mail is registered already (email_taken).",
        429: "Too many registrations from this address (rate_limited).",
    },
    ("post", "/api/v1/auth/login"): {
        401: "Wrong e-mail or password (unauthorized).",
        429: "Too many logins from this address, or failed ones for this account from it "
        "(rate_limited).",
    },
    ("post", "/api/v1/auth/refresh"): {401: "Unknown, expired or revoked refresh token."},
    ("post", "/api/v1/auth/logout"): {401: "Unknown, expired or revoked refresh token."},
    ("post", "/api/v1/datasets"): {**UPLOAD, 429: DATASET_QUOTA},
    ("get", "/api/v1/datasets/{dataset_id}/quality"): {409: "Not ingested (yet)."},
    ("get", "/api/v1/datasets/{dataset_id}/download"): {409: "Not ingested (yet)."},
    ("post", "/api/v1/strategies"): {
        409: "You have a strategy of that name already.",
        429: "You keep as many saved strategies as allowed (quota_exceeded).",
    },
    ("delete", "/api/v1/strategies/{name}"): {409: "A built-in strategy cannot be deleted."},
    ("get", "/api/v1/datasets/{dataset_id}/preview"): {409: "Not ingested (yet)."},
    ("delete", "/api/v1/backtests/{run_id}"): {409: "The backtest has not ended."},
    ("get", "/api/v1/backtests/{run_id}/equity"): {409: "The backtest has not completed."},
    ("get", "/api/v1/backtests/{run_id}/equity/download"): {409: "Not completed."},
    ("get", "/api/v1/backtests/{run_id}/trades"): {409: "The backtest has not completed."},
    ("post", "/api/v1/backtests/{run_id}/cancel"): {409: "The backtest has ended already."},
    ("post", "/api/v1/backtests/quick"): {
        **UPLOAD,
        408: "The run did not finish within GATEWAY_QUICK_TIMEOUT_S (timeout).",
        429: "Too many submissions (rate_limited, jobs_per_user).",
    },
    ("post", "/api/v1/backtests"): {
        404: "The dataset is not yours (not_found).",
        429: JOB_REFUSED,
    },
    ("post", "/api/v1/optimizations"): {
        404: "The dataset is not yours (not_found).",
        429: JOB_REFUSED,
    },
    ("post", "/api/v1/monte-carlo"): {
        404: "The dataset or backtest is not yours (not_found).",
        409: "The backtest to resample has not completed (conflict).",
        429: JOB_REFUSED,
    },
    ("post", "/api/v1/analytics/compare"): {
        404: "A run is not yours (not_found).",
        409: "A run is not analysed (yet).",
    },
    ("post", "/api/v1/monte-carlo/{simulation_id}/cancel"): {409: "The study has ended already."},
    ("post", "/api/v1/optimizations/{optimization_id}/cancel"): {409: "It has ended already."},
    ("get", "/api/v1/analytics/{run_id}"): {409: "Not analysed (yet)."},
    ("get", "/api/v1/analytics/{run_id}/charts"): {409: "Not analysed (yet)."},
    ("get", "/api/v1/analytics/{run_id}/charts/{name}"): {409: "Not analysed (yet)."},
    ("get", "/api/v1/analytics/{run_id}/rolling"): {409: "Not analysed (yet)."},
    ("get", "/api/v1/analytics/{run_id}/report"): {409: "Not analysed (yet)."},
}
ASKS_A_SERVICE = ("/api/v1/", "/.well-known/")
SCHEMAS = "#/components/schemas/"
PROBLEM_REF = {"$ref": SCHEMAS + "Problem"}


def _derived(path: str, operation: dict[str, Any]) -> dict[int, str]:
    statuses: dict[int, str] = {}
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        statuses[400] = "The body is not JSON (bad_request)."
        statuses[413] = "The body is larger than GATEWAY_MAX_BODY_BYTES (too_large)."
    if operation.get("security"):
        statuses[401] = "Missing, invalid or expired bearer token (unauthorized)."
    if "{" in path:
        statuses[404] = "Nothing of that name is yours (not_found)."
    if operation.get("parameters") or operation.get("requestBody"):
        statuses[422] = "Invalid input: each field named in errors (validation_error), or a " + (
            "refusal of the service behind it."
        )
    if path.startswith(ASKS_A_SERVICE) and not path.startswith("/api/v1/system"):
        statuses[503] = (
            "A service behind the gateway (or the rate limits' store) did not answer in time; "
            "retry."
        )
    return statuses


def _problem_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def add_error_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Give every operation of ``document`` its problem answers (in place; also returned)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = _derived(path, operation) | REFUSALS.get((method, path), {})
            responses = operation.setdefault("responses", {})
            for status, description in sorted(statuses.items()):
                responses[str(status)] = _problem_response(status, description)
    return document


def _variants(node: dict[str, Any], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    refs = [v.get("$ref", "") for v in node.get("oneOf", [])]
    inline = [v for v in node.get("oneOf", []) if "$ref" not in v]
    return inline + [schemas[r.rsplit("/", 1)[-1]] for r in refs if r.startswith(SCHEMAS)]


def require_tags(document: dict[str, Any]) -> dict[str, Any]:
    """Make each discriminated union's tag required in its variants (in place; also returned)."""
    schemas = document.get("components", {}).get("schemas", {})
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
        elif isinstance(node, dict):
            tag = node.get("discriminator", {}).get("propertyName")
            for variant in _variants(node, schemas) if tag else []:
                required = variant.setdefault("required", [])
                if tag in variant.get("properties", {}) and tag not in required:
                    required.append(tag)
            pending.extend(node.values())
    return document


def document_errors(app: FastAPI) -> None:
    """Build ``app``'s OpenAPI document with its error answers and required union tags."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = require_tags(add_error_responses(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
