import pytest

from tradelab_cli.search_space import (
    SearchSpecError,
    objective,
    parameter_space,
    parse_constraint,
    parse_range,
    parse_values,
    parse_walk_forward,
    search_method,
)


def test_range_has_start_stop_and_step_typed_as_given() -> None:
    assert parse_range("fast=5:50:5") == ("fast", {"start": 5, "stop": 50, "step": 5})
    assert parse_range("stop_loss=0.01:0.05:0.01") == (
        "stop_loss",
        {"start": 0.01, "stop": 0.05, "step": 0.01},
    )


def test_range_step_defaults_to_one() -> None:
    assert parse_range("slow=20:30") == ("slow", {"start": 20, "stop": 30, "step": 1})


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("fast", "name=START:STOP[:STEP]"),
        ("=5:50", "name=START:STOP[:STEP]"),
        ("fast=5-50", "name=START:STOP[:STEP]"),
        ("fast=5:50:5:1", "name=START:STOP[:STEP]"),
        ("fast=a:50", "fast start must be a number"),
        ("fast=5:nan", "fast stop must be a number"),
        ("fast=5:50:0", "step must be above 0"),
        ("fast=50:5:1", "stop 5 is below its start 50"),
    ],
)
def test_malformed_range_is_refused_saying_why(item: str, says: str) -> None:
    with pytest.raises(SearchSpecError, match=says.replace("[", r"\[")):
        parse_range(item)


def test_values_are_typed_like_params() -> None:
    assert parse_values("source=close, open") == ("source", ["close", "open"])
    assert parse_values("long_only=true,false") == ("long_only", [True, False])
    assert parse_values("fast=5,8,13") == ("fast", [5, 8, 13])


@pytest.mark.parametrize("item", ["fast", "fast=", "fast=5,,8"])
def test_values_without_a_name_or_with_an_empty_value_are_refused(item: str) -> None:
    with pytest.raises(SearchSpecError):
        parse_values(item)


def test_space_joins_ranges_and_values_each_parameter_once() -> None:
    space = parameter_space(["fast=5:20:5"], ["source=close,open"])
    assert space == {"fast": {"start": 5, "stop": 20, "step": 5}, "source": ["close", "open"]}
    with pytest.raises(SearchSpecError, match="given twice"):
        parameter_space(["fast=5:20:5"], ["fast=1,2"])
    with pytest.raises(SearchSpecError, match="at least one"):
        parameter_space([], [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fast<slow", {"left": "fast", "op": "<", "right": "slow"}),
        ("fast <= slow", {"left": "fast", "op": "<=", "right": "slow"}),
        ("slow>=fast", {"left": "slow", "op": ">=", "right": "fast"}),
        ("fast!=10", {"left": "fast", "op": "!=", "right": 10}),
        ("fast>2.5", {"left": "fast", "op": ">", "right": 2.5}),
    ],
)
def test_constraint_compares_a_parameter_with_a_parameter_or_a_number(
    text: str, expected: dict[str, object]
) -> None:
    assert parse_constraint(text, {"fast", "slow"}) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("fast", "NAME OP VALUE"),
        ("fast=slow", "NAME OP VALUE"),
        ("fast==slow", "NAME OP VALUE"),
        ("5<slow", "NAME OP VALUE"),
        ("fast<", "NAME OP VALUE"),
        ("fast<<slow", "neither a number nor a parameter name"),
        ("fast<true", "neither a number nor a parameter name"),
        ("fast<slwo", "names 'slwo', which is not a searched parameter"),
        ("fats<slow", "names 'fats'"),
    ],
)
def test_bad_constraint_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(SearchSpecError, match=says):
        parse_constraint(text, {"fast", "slow"})


def test_objective_is_a_sweep_metric_maximised_unless_minimize() -> None:
    assert objective("sharpe", minimize=False) == {"metric": "sharpe", "direction": "maximize"}
    assert objective("max_drawdown", minimize=True) == {
        "metric": "max_drawdown",
        "direction": "minimize",
    }
    with pytest.raises(SearchSpecError, match="one of final_equity"):
        objective("sortino", minimize=False)


def test_search_is_a_grid_unless_random_samples_are_asked_for() -> None:
    assert search_method(None, None) == {"kind": "grid"}
    assert search_method(50, None) == {"kind": "random", "n_samples": 50}
    assert search_method(50, 7) == {"kind": "random", "n_samples": 50, "seed": 7}
    with pytest.raises(SearchSpecError, match="--seed only applies to --random"):
        search_method(None, 7)
    with pytest.raises(SearchSpecError, match="at least 1"):
        search_method(0, None)


def test_walk_forward_has_mode_training_test_and_optional_step_bars() -> None:
    assert parse_walk_forward("rolling:500:250") == {
        "mode": "rolling",
        "train_bars": 500,
        "test_bars": 250,
    }
    assert parse_walk_forward("anchored:500:100:50") == {
        "mode": "anchored",
        "train_bars": 500,
        "test_bars": 100,
        "step_bars": 50,
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rolling:500", "MODE:TRAIN_BARS:TEST_BARS"),
        ("sliding:500:250", "MODE:TRAIN_BARS:TEST_BARS"),
        ("rolling:500:250:10:1", "MODE:TRAIN_BARS:TEST_BARS"),
        ("rolling:500:2.5", "whole numbers"),
        ("rolling:500:-1", "whole numbers"),
        ("rolling:1:250", "2\\+ training bars"),
        ("rolling:500:0", "1\\+ test bars"),
        ("anchored:500:250:0", "steps"),
    ],
)
def test_malformed_walk_forward_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(SearchSpecError, match=says):
        parse_walk_forward(text)
