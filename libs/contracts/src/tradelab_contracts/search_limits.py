"""How large a parameter search may be, counted arithmetically before anything is expanded.

The gateway checks a submitted search with :func:`size_refusal` before it asks the engine, and the
engine checks it again (with its own settings) before it expands anything: a range of 50,000,000
values is refused from its ``start``, ``stop`` and ``step``, never by listing them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tradelab_contracts.base import JsonScalar
from tradelab_contracts.optimization import (
    GeneticSearch,
    GridSearch,
    ParameterRange,
    ParameterSpace,
    RandomSearch,
    SearchMethod,
)

DEFAULT_MAX_COMBINATIONS = 200_000
"""Combinations a search evaluates at most: a grid's size, random samples, genetic runs."""
DEFAULT_MAX_PARAMETER_VALUES = 1_000_000
"""Values one parameter's range may hold at most (any search method)."""


@dataclass(frozen=True)
class SearchLimits:
    """The bounds a service enforces on a parameter search."""

    max_combinations: int = DEFAULT_MAX_COMBINATIONS
    max_parameter_values: int = DEFAULT_MAX_PARAMETER_VALUES


def value_count(spec: ParameterRange | Sequence[JsonScalar]) -> int:
    """How many values one parameter takes: a range counted, a list of choices measured."""
    return spec.count() if isinstance(spec, ParameterRange) else len(spec)


def space_size(space: ParameterSpace) -> int:
    """Number of combinations of the full grid, counted without expanding it."""
    return math.prod(value_count(spec) for spec in space.values())


def size_refusal(space: ParameterSpace, search: SearchMethod, limits: SearchLimits) -> str | None:
    """Why the search is too large to run, as a sentence for the user; None when it fits."""
    most = limits.max_combinations
    if isinstance(search, GridSearch):
        size = space_size(space)
        if size > most:
            return f"The parameter space holds {size:,} combinations; at most {most:,} are allowed."
    for name, spec in space.items():
        count = value_count(spec)
        if count > limits.max_parameter_values:
            return (
                f"Parameter {name!r} holds {count:,} values; at most "
                f"{limits.max_parameter_values:,} are allowed per parameter."
            )
    if isinstance(search, RandomSearch) and search.n_samples > most:
        return f"A random search of {search.n_samples:,} samples is too large; at most {most:,}."
    if isinstance(search, GeneticSearch):
        runs = search.population * search.generations
        if runs > most:
            return (
                f"A genetic search of population x generations is {runs:,} runs; "
                f"at most {most:,} are allowed."
            )
    return None
