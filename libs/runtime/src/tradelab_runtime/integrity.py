"""Small helpers for the CHECK constraints the services' migrations and table metadata share."""

import re
from collections.abc import Iterable

_SIMPLE = re.compile(r"^[a-z0-9_]+$")


def one_of(column: str, values: Iterable[str]) -> str:
    """SQL condition: ``column`` holds one of ``values`` (or NULL, as every CHECK allows).

    Values are lower-case snake_case codes (enum values), so they are quoted as they are.
    """
    allowed = sorted(set(values))
    if not allowed or not all(_SIMPLE.match(v) for v in (column, *allowed)):
        msg = f"one_of needs snake_case codes, got {column!r}: {allowed!r}"
        raise ValueError(msg)
    listed = ", ".join(f"'{value}'" for value in allowed)
    return f"{column} IN ({listed})"


def json_number(document: str, key: str, condition: str) -> str:
    """SQL condition: ``document->key`` is absent or a JSON number meeting ``condition``.

    ``condition`` names the number ``{v}``, e.g. ``"{v} > 0"``. A JSON null, string or object
    under ``key`` is refused; an absent key is allowed (the contract's default applies). The
    CASE keeps the numeric cast away from values that are not numbers.
    """
    value = f"{document}->'{key}'"
    number = f"({document}->>'{key}')::numeric"
    return (
        f"CASE WHEN jsonb_typeof({value}) = 'number' THEN {condition.format(v=number)} "
        f"ELSE {value} IS NULL END"
    )
