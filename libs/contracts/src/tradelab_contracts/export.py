"""Export the contracts as JSON schemas and an AsyncAPI 3.0 document.

Run ``uv run tradelab-contracts-export`` after changing a contract and commit the result; the
snapshot test fails until the committed files match the code, so every wire change shows up in
review as a schema diff.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from tradelab_contracts.base import Message
from tradelab_contracts.registry import (
    REPLY_MESSAGES,
    TOPIC_MESSAGES,
    UNION_MEMBERS,
    message_types,
)
from tradelab_contracts.topics import ALL_TOPICS, REPLY_TOPIC_PARTITIONS

# src/tradelab_contracts/export.py -> libs/contracts/schemas (the workspace installs it editable).
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "schemas"
ASYNCAPI_FILE = "asyncapi.json"

_COMPONENT_REF = "#/components/schemas/{model}"
_KAFKA_BINDING_VERSION = "0.5.0"

JsonObject = dict[str, Any]


def render(document: JsonObject) -> str:
    """Serialise a JSON document the one way the committed files are written."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_files() -> dict[str, str]:
    """Return every exported file's name and content: one schema per message, and AsyncAPI."""
    files = {
        f"{model.__name__}.json": render(model.model_json_schema(mode="serialization"))
        for model in message_types()
    }
    files[ASYNCAPI_FILE] = render(build_asyncapi())
    return files


def _add_component_schemas(schemas: JsonObject, model: type[Message]) -> None:
    schema = model.model_json_schema(mode="serialization", ref_template=_COMPONENT_REF)
    # Nested models are hoisted so each is defined once for the whole document.
    found = {**schema.pop("$defs", {}), model.__name__: schema}
    for name, definition in found.items():
        if schemas.setdefault(name, definition) != definition:
            msg = f"two different models export the schema name {name!r}"
            raise ValueError(msg)


def _message_object(model: type[Message]) -> JsonObject:
    summary = (model.__doc__ or model.__name__).strip().splitlines()[0]
    return {
        "name": model.__name__,
        "title": model.__name__,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": _COMPONENT_REF.format(model=model.__name__)},
    }


def _message_refs(models: Sequence[type[Message]]) -> JsonObject:
    return {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in models}


def _kafka_binding(topic: str, partitions: int) -> JsonObject:
    return {
        "kafka": {
            "topic": topic,
            "partitions": partitions,
            "bindingVersion": _KAFKA_BINDING_VERSION,
        }
    }


def build_asyncapi() -> JsonObject:
    """Build the AsyncAPI 3.0 document: one channel per topic, schemas under components."""
    schemas: JsonObject = {}
    messages: JsonObject = {}
    for model in message_types():
        _add_component_schemas(schemas, model)
        messages[model.__name__] = _message_object(model)
    channels: JsonObject = {}
    for spec in ALL_TOPICS:
        carried = TOPIC_MESSAGES[spec.name]
        models = UNION_MEMBERS[spec.name] if isinstance(carried, TypeAdapter) else (carried,)
        channels[spec.name] = {
            "address": spec.name,
            "description": spec.description,
            "messages": _message_refs(models),
            "bindings": _kafka_binding(spec.name, spec.partitions),
        }
    channels["gateway.rpc.reply"] = {
        "address": "gateway.rpc.reply-{instanceId}.v1",
        "description": "Service replies; each gateway instance consumes its own reply topic.",
        "parameters": {"instanceId": {"description": "Gateway instance id, [a-z0-9-]{1,40}."}},
        "messages": _message_refs(list(REPLY_MESSAGES)),
        "bindings": {
            "kafka": {
                "partitions": REPLY_TOPIC_PARTITIONS,
                "bindingVersion": _KAFKA_BINDING_VERSION,
            }
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "tradelab",
            "version": version("tradelab-contracts"),
            "description": "Kafka messages exchanged by tradelab services (JSON values).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def stale_files(out: Path, files: dict[str, str]) -> list[str]:
    """Return the names of files in ``out`` that are missing, out of date, or no longer exported."""
    existing = {p.name for p in out.glob("*.json")} if out.is_dir() else set()
    differing = [
        name
        for name, content in files.items()
        if name not in existing or (out / name).read_bytes() != content.encode()
    ]
    return sorted([*differing, *(existing - files.keys())])


def write_files(out: Path, files: dict[str, str]) -> None:
    """Write ``files`` into ``out``, deleting schemas of messages that no longer exist."""
    out.mkdir(parents=True, exist_ok=True)
    for obsolete in {p.name for p in out.glob("*.json")} - files.keys():
        (out / obsolete).unlink()
    for name, content in files.items():
        (out / name).write_bytes(content.encode())


def main(argv: Sequence[str] | None = None) -> int:
    """Write the schema files, or with ``--check`` report those that are out of date.

    Returns
    -------
    int
        0 on success; 1 when ``--check`` finds files that differ.
    """
    parser = argparse.ArgumentParser(
        prog="tradelab-contracts-export", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is out of date"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    files = build_files()
    if args.check:
        differing = stale_files(out, files)
        for name in differing:
            print(f"out of date: {out / name}")
        if differing:
            print("run `uv run tradelab-contracts-export` and review the diff")
            return 1
        return 0
    write_files(out, files)
    print(f"wrote {len(files)} files to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
