"""The saved-strategy body: a named rule set, checked up front so a bad rule names its field."""

from typing import Any

import pytest
from pydantic import ValidationError

from tradelab_contracts.rules import RuleSet
from tradelab_gateway.api.strategies_schemas import StrategyCreate

SMA_10 = {"type": "sma", "period": 10}
SMA_50 = {"type": "sma", "period": 50}
ENTRY = {"type": "compare", "left": SMA_10, "op": "crosses_above", "right": SMA_50}
EXIT = {"type": "compare", "left": SMA_10, "op": "crosses_below", "right": SMA_50}


def body(**changes: Any) -> dict[str, Any]:
    return {"name": "my_cross", "entry": ENTRY, "exit": EXIT, **changes}


def refused_fields(raw: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        StrategyCreate.model_validate(raw)
    return {".".join(str(part) for part in e["loc"]) for e in caught.value.errors()}


def test_a_named_rule_set_is_accepted_and_its_rules_are_the_contracts_rule_set() -> None:
    created = StrategyCreate.model_validate(body(description="SMA 10/50 crossover"))
    assert created.description == "SMA 10/50 crossover"
    assert created.rules() == RuleSet.model_validate({"entry": ENTRY, "exit": EXIT})


def test_the_description_is_optional() -> None:
    assert StrategyCreate.model_validate(body()).description == ""


def test_entry_and_exit_are_required_not_defaulted() -> None:
    assert refused_fields({"name": "my_cross"}) == {"entry", "exit"}


def test_a_period_below_two_is_refused_naming_the_operand_field() -> None:
    bad = {**ENTRY, "left": {"type": "sma", "period": 0}}
    fields = refused_fields(body(entry=bad))
    assert "entry.compare.left.sma.period" in fields


def test_an_unknown_operand_type_is_refused_naming_the_operand() -> None:
    bad = {**EXIT, "right": {"type": "vwap", "period": 5}}
    assert refused_fields(body(exit=bad)) == {"exit.compare.right"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "My Cross"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"description": "x" * 501}, "description"),
        ({"parameters": {}}, "parameters"),
    ],
)
def test_bad_names_long_descriptions_and_unknown_keys_are_refused(
    changes: dict[str, Any], field: str
) -> None:
    assert refused_fields(body(**changes)) == {field}
