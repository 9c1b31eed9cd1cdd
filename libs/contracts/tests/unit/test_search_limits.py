"""Search sizes are counted from the ranges' bounds and refused before anything is listed."""

import pytest
from pydantic import ValidationError

from tradelab_contracts.optimization import (
    GeneticSearch,
    GridSearch,
    ParameterRange,
    ParameterSpace,
    RandomSearch,
)
from tradelab_contracts.search_limits import (
    DEFAULT_MAX_COMBINATIONS,
    DEFAULT_MAX_PARAMETER_VALUES,
    SearchLimits,
    size_refusal,
    space_size,
)

FIFTY_MILLION = ParameterRange(start=1, stop=50_000_000, step=1)
HUGE: ParameterSpace = {"fast": FIFTY_MILLION, "slow": [20, 30]}
LIMITS = SearchLimits()


def test_a_range_is_counted_and_indexed_without_listing_it() -> None:
    assert FIFTY_MILLION.count() == 50_000_000
    assert FIFTY_MILLION.value_at(49_999_999) == 50_000_000
    assert ParameterRange(start=0.1, stop=0.3, step=0.1).value_at(2) == 0.3
    assert ParameterRange(start=0, stop=10**30, step=1).count() == 10**30 + 1
    assert space_size(HUGE) == 100_000_000


def test_a_range_too_wide_to_count_is_invalid() -> None:
    with pytest.raises(ValidationError, match="more values than can be counted"):
        ParameterRange(start=0.0, stop=1e300, step=1e-300)
    with pytest.raises(ValidationError, match="more values than can be counted"):
        ParameterRange(start=0, stop=10**400, step=0.5)


def test_a_grid_larger_than_the_maximum_is_refused_naming_its_size() -> None:
    refusal = size_refusal(HUGE, GridSearch(), LIMITS)
    assert refusal == (
        "The parameter space holds 100,000,000 combinations; at most 200,000 are allowed."
    )
    at_most: ParameterSpace = {"a": ParameterRange(start=1, stop=DEFAULT_MAX_COMBINATIONS, step=1)}
    assert size_refusal(at_most, GridSearch(), LIMITS) is None


@pytest.mark.parametrize(
    "search",
    [RandomSearch(n_samples=100, seed=1), GeneticSearch(population=10, generations=5, seed=1)],
)
def test_a_parameter_with_too_many_values_is_refused_for_any_search(
    search: RandomSearch | GeneticSearch,
) -> None:
    refusal = size_refusal(HUGE, search, LIMITS)
    assert refusal == (
        "Parameter 'fast' holds 50,000,000 values; at most 1,000,000 are allowed per parameter."
    )
    at_most: ParameterSpace = {
        name: ParameterRange(start=1, stop=DEFAULT_MAX_PARAMETER_VALUES, step=1)
        for name in ("a", "b", "c")
    }
    assert size_refusal(at_most, search, LIMITS) is None  # 10^18 combinations, sampled


def test_too_many_samples_or_runs_are_refused() -> None:
    small: ParameterSpace = {"a": [1, 2]}
    limits = SearchLimits(max_combinations=1_000)
    too_many = size_refusal(small, RandomSearch(n_samples=1_001, seed=1), limits)
    assert too_many == "A random search of 1,001 samples is too large; at most 1,000."
    genetic = GeneticSearch(population=100, generations=11, seed=1)
    assert "population x generations is 1,100 runs" in str(size_refusal(small, genetic, limits))


def test_an_astronomical_space_is_refused_from_its_bounds_alone() -> None:
    # Listing 10^48 combinations (or 10^12 values) would never end: counting them is instant.
    space: ParameterSpace = {
        name: ParameterRange(start=0, stop=10**12 - 1, step=1) for name in ("a", "b", "c", "d")
    }
    assert "holds 1,000,000,000,000,000,000,000,000,000,000,000,000,000,000,000,000" in str(
        size_refusal(space, GridSearch(), LIMITS)
    )
    assert "holds 1,000,000,000,000 values" in str(
        size_refusal(space, RandomSearch(n_samples=10, seed=1), LIMITS)
    )
