"""Rule-set files: the shape is checked here, the conditions are the server's to judge."""

import re

import pytest

from tradelab_cli.rules_file import RulesFileError, parse_rule_set


def test_object_with_entry_and_exit_is_returned_as_is() -> None:
    text = '{"exit": {"type": "not", "condition": {}}, "entry": {"type": "anything"}}'
    assert parse_rule_set(text) == {
        "entry": {"type": "anything"},
        "exit": {"type": "not", "condition": {}},
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "not valid JSON: Expecting value (line 1, column 1)"),
        ('"entry"', 'expected a JSON object {"entry": ..., "exit": ...}, got a string'),
        ("null", "got null"),
        ("{}", "the rule set has no 'entry' and no 'exit'"),
        ('{"entry": 1, "exit": 2, "b": 0, "a": 0}', "unknown keys 'a', 'b'"),
        ('{"entry": Infinity, "exit": {}}', "not valid JSON: Infinity is not a JSON value"),
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(RulesFileError, match=re.escape(says)):
        parse_rule_set(text)
