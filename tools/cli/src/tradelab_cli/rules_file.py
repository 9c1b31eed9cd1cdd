"""Rule-set files: a JSON object holding the ``entry`` and ``exit`` conditions.

Only the shape is checked here; the conditions themselves are the server's to judge (it answers
422 naming the field).
"""

import json
from typing import Any

RULES_STRATEGY = "rules"
"""The built-in strategy whose parameters are a rule set."""

RULE_KEYS = ("entry", "exit")
JSON_KINDS = {
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


class RulesFileError(ValueError):
    """Text that is not a JSON object holding exactly ``entry`` and ``exit``."""


def _refuse_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity, which are not JSON and which no rule means.
    raise RulesFileError(f"not valid JSON: {name} is not a JSON value")


def parse_rule_set(text: str) -> dict[str, Any]:
    """Return the rule set in ``text``: a JSON object with ``entry`` and ``exit``, nothing else.

    Raises
    ------
    RulesFileError
        If ``text`` is not JSON, not an object, lacks ``entry`` or ``exit``, or has other keys.
    """
    try:
        rules = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise RulesFileError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(rules, dict):
        kind = JSON_KINDS.get(type(rules), "null")
        raise RulesFileError(f'expected a JSON object {{"entry": ..., "exit": ...}}, got {kind}')
    missing = [key for key in RULE_KEYS if key not in rules]
    if missing:
        raise RulesFileError(f"the rule set has no {' and no '.join(map(repr, missing))}")
    unknown = sorted(set(rules) - set(RULE_KEYS))
    if unknown:
        keys = "keys" if len(unknown) > 1 else "key"
        named = ", ".join(map(repr, unknown))
        raise RulesFileError(f"unknown {keys} {named}: a rule set holds only 'entry' and 'exit'")
    return rules
