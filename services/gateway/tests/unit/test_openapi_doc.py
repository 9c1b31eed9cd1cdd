"""The OpenAPI document lists each operation's problem answers and requires union tags."""

from pathlib import Path
from typing import Any

from tradelab_gateway.api.openapi_doc import REFUSALS, add_error_responses, require_tags
from tradelab_gateway.api.problems import PROBLEM_JSON
from tradelab_gateway.app import build_app
from tradelab_gateway.settings import GatewaySettings


def _document() -> dict[str, Any]:
    json_body = {"content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "paths": {
            "/api/v1/backtests/{run_id}/cancel": {
                "post": {"security": [{"HTTPBearer": []}], "responses": {"202": {}}}
            },
            "/api/v1/auth/login": {"post": {"requestBody": json_body, "responses": {"200": {}}}},
            "/healthz": {"get": {"responses": {"200": {}}}},
        },
        "components": {"schemas": {"HTTPValidationError": {}, "ValidationError": {}}},
    }


def test_each_operation_gets_the_problems_it_can_answer() -> None:
    paths = add_error_responses(_document())["paths"]

    cancel = paths["/api/v1/backtests/{run_id}/cancel"]["post"]["responses"]
    login = paths["/api/v1/auth/login"]["post"]["responses"]
    health = paths["/healthz"]["get"]["responses"]
    assert sorted(cancel) == ["202", "401", "404", "409", "503"]
    assert sorted(login) == ["200", "400", "401", "413", "422", "429", "503"]
    assert sorted(health) == ["200"]
    assert cancel["409"]["content"] == {
        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert "Retry-After" in login["429"]["headers"]
    assert "Retry-After" in cancel["503"]["headers"]
    assert "headers" not in cancel["404"]


def test_the_problem_schema_replaces_fastapis_validation_error() -> None:
    schemas = add_error_responses(_document())["components"]["schemas"]

    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(
        schemas["Problem"]["required"]
    )
    assert schemas["FieldProblem"]["required"] == ["field", "message"]


def test_a_union_tag_with_a_default_becomes_required_in_every_variant() -> None:
    tag = {"type": "string", "const": "sma", "default": "sma"}
    document: dict[str, Any] = {
        "paths": {},
        "components": {
            "schemas": {
                "Sma": {"properties": {"type": tag, "period": {}}, "required": ["period"]},
                "Price": {"properties": {"type": {"const": "price"}}},
                "Rule": {
                    "properties": {
                        "entry": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/Sma"},
                                {"$ref": "#/components/schemas/Price"},
                            ],
                            "discriminator": {"propertyName": "type"},
                        }
                    }
                },
            }
        },
    }

    schemas = require_tags(document)["components"]["schemas"]

    assert schemas["Sma"]["required"] == ["period", "type"]
    assert schemas["Price"]["required"] == ["type"]
    assert "required" not in schemas["Rule"]


def test_every_listed_refusal_names_an_operation_of_the_gateway(tmp_path: Path) -> None:
    settings = GatewaySettings(object_store_url=f"file://{tmp_path}")
    document = build_app(settings).openapi()
    operations = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert set(REFUSALS) - operations == set()  # a renamed route leaves its refusals unlisted
    for method, path in REFUSALS:
        listed = document["paths"][path][method]["responses"]
        assert {str(status) for status in REFUSALS[method, path]} <= set(listed)
