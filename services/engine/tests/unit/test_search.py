"""Expanding a parameter search: grid order, random sampling, constraints, chunks, ranking."""

from typing import Any

import numpy as np
import pytest

from tradelab_contracts.optimization import (
    Constraint,
    GeneticSearch,
    GridSearch,
    ParameterRange,
    ParameterSpace,
    RandomSearch,
    SearchMethod,
)
from tradelab_contracts.search_limits import SearchLimits, space_size
from tradelab_engine.domain.optimize import HeatmapTooLargeError, heatmap
from tradelab_engine.domain.search import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CHUNK_WORK,
    SearchError,
    SearchPlan,
    Validate,
    chunk_bounds,
    chunk_size_for,
    combination_at,
    sample_indices,
    satisfies,
    space_axes,
)
from tradelab_engine.domain.search import plan_search as plan_within

LIMITS = SearchLimits()

SPACE: ParameterSpace = {
    "fast": ParameterRange(start=5, stop=15, step=5),
    "slow": [20, 30],
}


def accept(combination: dict[str, Any]) -> dict[str, Any]:
    return combination


def plan_search(
    space: ParameterSpace, search: SearchMethod, constraints: list[Constraint], validate: Validate
) -> SearchPlan:
    return plan_within(space, search, constraints, validate, LIMITS)


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
    assert space_size(SPACE) == 6
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
        "a": ParameterRange(start=0, stop=LIMITS.max_combinations, step=1),
        "b": [1, 2],
    }
    with pytest.raises(SearchError, match="holds 400,002 combinations; at most 200,000"):
        plan_search(huge, GridSearch(), [], accept)
    with pytest.raises(SearchError, match="genetic search is evolved generation by generation"):
        plan_search(SPACE, GeneticSearch(population=4, generations=2, seed=1), [], accept)
    with pytest.raises(SearchError, match="no combination passes"):
        plan_search(SPACE, GridSearch(), [], lambda c: None)


def test_chunks_cover_the_combinations_once() -> None:
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds(4, 4) == [(0, 4)]


def test_a_chunk_holds_a_fixed_amount_of_work_within_the_cap() -> None:
    # 200M bar-combinations: 2,000 combinations of 100,000 bars, 200 of 1,000,000 bars.
    assert chunk_size_for(100_000, 200_000_000, 5_000) == 2_000
    assert chunk_size_for(1_000_000, 200_000_000, 5_000) == 200
    assert chunk_size_for(300, 1_000, 5_000) == 4  # rounded up: never more chunks than needed
    assert chunk_size_for(5_000, 200_000_000, 20) == 20  # the cap
    assert chunk_size_for(10**9, 1_000, 20) == 1  # at least one combination
    assert chunk_size_for(0, 1_000, 20) == 20  # no bars: the cap


def test_the_bench_grid_runs_in_one_chunk_and_a_large_one_still_splits() -> None:
    default = (DEFAULT_CHUNK_WORK, DEFAULT_CHUNK_SIZE)
    assert len(chunk_bounds(1_590, chunk_size_for(100_000, *default))) == 1
    assert len(chunk_bounds(50_000, chunk_size_for(100_000, *default))) == 25
    assert len(chunk_bounds(50_000, chunk_size_for(1_000_000, *default))) == 250


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


def test_heatmap_over_the_cell_bound_is_refused_naming_its_size_before_any_cell_is_made() -> None:
    # 200,000 random samples of two continuous parameters: 4e10 cells were it drawn.
    rows = [Row({"fast": i, "slow": 1000 + i}, {"sharpe": 0.1}) for i in range(200_000)]
    with pytest.raises(HeatmapTooLargeError, match=r"200,000 x 200,000 = 40,000,000,000 cells"):
        heatmap(rows, "fast", "slow", "sharpe", max_cells=20_000)
    grid = heatmap(rows[:100], "fast", "slow", "sharpe", max_cells=10_000)
    assert len(grid["z"]) * len(grid["z"][0]) == 10_000


def test_a_range_axis_reads_values_by_index_without_listing_them() -> None:
    axis = space_axes({"fast": ParameterRange(start=1, stop=50_000_000, step=1)})["fast"]
    assert len(axis) == 50_000_000
    assert (axis[0], axis[49_999_999]) == (1, 50_000_000)
    with pytest.raises(IndexError):
        axis[50_000_000]


def test_sparse_random_indices_are_drawn_digit_by_digit_from_an_astronomical_grid() -> None:
    lengths = [1_000_000] * 5  # 10^30 combinations: beyond any machine integer
    first = sample_indices(lengths, 1_000, np.random.Generator(np.random.PCG64(3)))
    again = sample_indices(lengths, 1_000, np.random.Generator(np.random.PCG64(3)))
    assert first == again
    assert len(set(first)) == 1_000
    assert all(0 <= i < 10**30 for i in first)
    assert max(first) > 2**64


def test_dense_random_indices_cover_a_small_grid_without_repeats() -> None:
    rng = np.random.Generator(np.random.PCG64(3))
    assert sorted(sample_indices([3, 4], 12, rng)) == list(range(12))
    assert len(set(sample_indices([3, 4], 10, rng))) == 10


def test_random_search_over_wide_ranges_evaluates_only_its_samples() -> None:
    # 10^15 combinations: sampled, and every value read off its range.
    wide: ParameterSpace = {
        name: ParameterRange(start=0, stop=999_999, step=1) for name in ("a", "b", "c")
    }
    plan = plan_search(wide, RandomSearch(n_samples=500, seed=5), [], accept)
    assert len(plan.combinations) == 500
    assert len({tuple(c.values()) for c in plan.combinations}) == 500
    assert all(0 <= v <= 999_999 for c in plan.combinations for v in c.values())


def test_a_search_beyond_its_limits_is_refused_before_it_is_expanded() -> None:
    fifty_million: ParameterSpace = {"fast": ParameterRange(start=1, stop=50_000_000, step=1)}
    with pytest.raises(SearchError, match="holds 50,000,000 combinations; at most 200,000"):
        plan_search(fifty_million, GridSearch(), [], accept)
    with pytest.raises(SearchError, match="holds 50,000,000 values; at most 1,000,000"):
        plan_search(fifty_million, RandomSearch(n_samples=10, seed=1), [], accept)
    tight = SearchLimits(max_combinations=5, max_parameter_values=5)
    with pytest.raises(SearchError, match="holds 6 combinations; at most 5"):
        plan_within(SPACE, GridSearch(), [], accept, tight)
