"""The committed JSON schemas and AsyncAPI document match the code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tradelab_contracts.export import ASYNCAPI_FILE, DEFAULT_OUT, main
from tradelab_contracts.registry import message_types
from tradelab_contracts.topics import ALL_TOPICS

COMMITTED = Path(__file__).resolve().parents[2] / "schemas"
REGENERATE = "run `uv run tradelab-contracts-export` and review the diff"


def _contents(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.json"))}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_exporter_writes_into_the_committed_schema_directory_by_default() -> None:
    assert DEFAULT_OUT == COMMITTED


def test_committed_schemas_match_the_contracts(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0

    generated, committed = _contents(tmp_path), _contents(COMMITTED)

    assert generated.keys() == committed.keys(), f"schema files added or removed: {REGENERATE}"
    differing = sorted(name for name in generated if generated[name] != committed[name])
    assert differing == [], f"schemas out of date {differing}: {REGENERATE}"


def test_one_schema_file_per_message_plus_asyncapi(tmp_path: Path) -> None:
    main(["--out", str(tmp_path)])

    expected = {f"{model.__name__}.json" for model in message_types()} | {ASYNCAPI_FILE}
    assert set(_contents(tmp_path)) == expected


def test_check_mode_names_out_of_date_and_obsolete_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--out", str(tmp_path)])
    (tmp_path / "RunBacktest.json").write_text("{}\n")
    (tmp_path / "RemovedMessage.json").write_text("{}\n")
    capsys.readouterr()

    assert main(["--out", str(tmp_path), "--check"]) == 1

    out = capsys.readouterr().out
    assert "RunBacktest.json" in out
    assert "RemovedMessage.json" in out
    assert "tradelab-contracts-export" in out


def test_check_mode_passes_on_freshly_written_files(tmp_path: Path) -> None:
    main(["--out", str(tmp_path)])

    assert main(["--out", str(tmp_path), "--check"]) == 0


def test_writing_removes_schemas_of_messages_that_no_longer_exist(tmp_path: Path) -> None:
    (tmp_path / "RemovedMessage.json").write_text("{}\n")

    main(["--out", str(tmp_path)])

    assert not (tmp_path / "RemovedMessage.json").exists()


def test_asyncapi_has_a_channel_per_topic_and_every_reference_resolves() -> None:
    document = json.loads((COMMITTED / ASYNCAPI_FILE).read_text())

    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {spec.name for spec in ALL_TOPICS} <= addresses
    assert "gateway.rpc.reply-{instanceId}.v1" in addresses
    unresolved = set()
    for ref in set(_refs(document)):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            unresolved.add(ref)
    assert unresolved == set()
    assert not any(ref.startswith("#/$defs") for ref in _refs(document))
