"""Expanding a parameter search: grid order, random sampling, constraints, chunks, ranking."""

from typing import Any

import pytest

from tradelab_contracts.optimization import (
    Constraint,
    GeneticSearch,
    GridSearch,
    ParameterRange,
    ParameterSpace,
    RandomSearch,
)
from tradelab_engine.domain.optimize import heatmap
from tradelab_engine.domain.search import (
    MAX_COMBINATIONS,
    SearchError,
    chunk_bounds,
    combination_at,
    grid_size,
    plan_search,
    satisfies,
)

SPACE: ParameterSpace = {
    "fast": ParameterRange(start=5, stop=15, step=5),
    "slow": [20, 30],
}


def accept(combination: dict[str, Any]) -> dict[str, Any]:
    return combination


def test_grid_visits_every_combination_last_parameter_fastest() -> None:
    plan = plan_search(SPACE, GridSearch(), [], accept)
    assert plan.combinations == [
        {"fast": 5, "slow": 20},
        {"fast": 5, "slow": 30},
        {"fast": 10, "slow": 20},
        {"fast": 10, "slow": 30},
        {"fast": 15, "slow": 20},
        {"fast": 15, "slow": 30},
    ]
    assert plan.skipped == 0
    assert grid_size(SPACE) == 6
    assert combination_at({"a": [1, 2], "b": [3, 4, 5]}, 4) == {"a": 2, "b": 4}


def test_constraints_and_strategy_rules_skip_combinations() -> None:
    space: ParameterSpace = {"fast": ParameterRange(start=10, stop=30, step=10), "slow": [20, 30]}
    fast_below_slow = [Constraint(left="fast", op="<", right="slow")]
    plan = plan_search(space, GridSearch(), fast_below_slow, accept)
    assert plan.combinations == [
        {"fast": 10, "slow": 20},
        {"fast": 10, "slow": 30},
        {"fast": 20, "slow": 30},
    ]
    assert plan.skipped == 3

    def refuse_slow_30(c: dict[str, Any]) -> dict[str, Any] | None:
        return None if c["slow"] == 30 else {**c, "filled": True}

    plan = plan_search(space, GridSearch(), [], refuse_slow_30)
    assert plan.combinations == [{"fast": f, "slow": 20, "filled": True} for f in (10, 20, 30)]
    assert satisfies({"fast": 5}, [Constraint(left="fast", op="<=", right=5)])
    assert not satisfies({"fast": 5}, [Constraint(left="fast", op="!=", right=5)])


def test_random_search_is_reproducible_distinct_and_within_the_grid() -> None:
    space: ParameterSpace = {
        "a": ParameterRange(start=0, stop=99, step=1),
        "b": ParameterRange(start=0, stop=9, step=1),
    }
    first = plan_search(space, RandomSearch(n_samples=50, seed=7), [], accept).combinations
    again = plan_search(space, RandomSearch(n_samples=50, seed=7), [], accept).combinations
    other = plan_search(space, RandomSearch(n_samples=50, seed=8), [], accept).combinations
    assert first == again
    assert first != other
    assert len({(c["a"], c["b"]) for c in first}) == 50
    assert all(0 <= c["a"] <= 99 and 0 <= c["b"] <= 9 for c in first)
    everything = plan_search(space, RandomSearch(n_samples=5_000, seed=1), [], accept)
    assert len(everything.combinations) == 1_000  # more samples than the grid: the grid


def test_refused_searches_raise_with_a_clear_message() -> None:
    huge: ParameterSpace = {
        "a": ParameterRange(start=0, stop=MAX_COMBINATIONS, step=1),
        "b": [1, 2],
    }
    with pytest.raises(SearchError, match="combinations; at most"):
        plan_search(huge, GridSearch(), [], accept)
    with pytest.raises(SearchError, match="genetic search is evolved generation by generation"):
        plan_search(SPACE, GeneticSearch(population=4, generations=2, seed=1), [], accept)
    with pytest.raises(SearchError, match="no combination passes"):
        plan_search(SPACE, GridSearch(), [], lambda c: None)


def test_chunks_cover_the_combinations_once() -> None:
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds(4, 4) == [(0, 4)]


class Row:
    def __init__(self, parameters: dict[str, Any], metrics: dict[str, float | None]) -> None:
        self.parameters = parameters
        self.metrics = metrics


def test_heatmap_keeps_the_best_value_per_cell() -> None:
    rows = [
        Row({"fast": 5, "slow": 20, "k": 1}, {"sharpe": 0.5}),
        Row({"fast": 5, "slow": 20, "k": 2}, {"sharpe": 0.9}),
        Row({"fast": 10, "slow": 20, "k": 1}, {"sharpe": None}),
        Row({"fast": 5, "slow": 30, "k": 1}, {"sharpe": -0.1}),
    ]
    grid = heatmap(rows, "fast", "slow", "sharpe")
    assert grid["x_values"] == [5, 10]
    assert grid["y_values"] == [20, 30]
    assert grid["z"] == [[0.9, None], [-0.1, None]]
    lowest = heatmap(rows, "fast", "slow", "sharpe", maximize=False)
    assert lowest["z"][0][0] == 0.5
