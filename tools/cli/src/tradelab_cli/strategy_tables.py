"""Rich tables of strategies: the list, one strategy, a built-in's parameters."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.table import Table

from tradelab_cli.render import key_value_table, text, when

DESCRIPTION_WIDTH = 60
BOUNDS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
)


def shorten(value: Any, width: int = DESCRIPTION_WIDTH) -> str:
    """The first line of ``value``, cut to ``width`` characters with an ellipsis."""
    lines = text(value).strip().splitlines() or ["-"]
    line = lines[0]
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def strategies_table(items: Sequence[Mapping[str, Any]]) -> Table:
    """Strategies, one per row: built-in ones and your saved ones."""
    table = Table(title="Strategies", box=box.SIMPLE_HEAD)
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    table.add_column("description")
    for strategy in items:
        table.add_row(
            text(strategy.get("name")),
            text(strategy.get("kind")),
            shorten(strategy.get("description")),
        )
    return table


def strategy_table(strategy: Mapping[str, Any]) -> Table:
    """One strategy: name, kind, what it does, when it was saved."""
    rows = [
        ("Strategy", text(strategy.get("name"))),
        ("Kind", text(strategy.get("kind"))),
        ("Description", text(strategy.get("description"))),
    ]
    if strategy.get("created_at"):
        rows.append(("Saved", when(strategy["created_at"])))
    return key_value_table(rows)


def bounds(schema: Mapping[str, Any]) -> str:
    """A parameter's bounds from its JSON schema, e.g. ``>= 2, <= 500``; ``-`` when unbounded."""
    parts = [f"{sign} {schema[key]}" for key, sign in BOUNDS if key in schema]
    if "enum" in schema:
        parts.append("one of " + ", ".join(map(str, schema["enum"])))
    return ", ".join(parts) or "-"


def _compact(value: Any) -> str:
    """A default as text: objects and lists as one line of JSON."""
    return json.dumps(value) if isinstance(value, dict | list) else text(value)


def parameters_table(schema: Mapping[str, Any], defaults: Mapping[str, Any]) -> Table:
    """A built-in strategy's parameters: type, default and bounds of each."""
    table = Table(title="Parameters", box=box.SIMPLE_HEAD)
    for column in ("name", "type", "default", "bounds", "description"):
        table.add_column(column, no_wrap=column == "name")
    for name, spec in (schema.get("properties") or {}).items():
        default = defaults.get(name, spec.get("default"))
        table.add_row(
            name,
            text(spec.get("type")),
            shorten(_compact(default)),
            bounds(spec),
            text(spec.get("description")),
        )
    return table
