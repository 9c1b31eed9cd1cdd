"""Turn a parameter search into the list of combinations to evaluate, and split it into chunks.

Grid: every combination, in the order of the space's parameters (the last one varies fastest).
Random: ``n_samples`` distinct combinations of the grid drawn with ``numpy``'s PCG64 from the
seed (all of them when the grid is smaller). Constraints and the strategy's own parameter rules
(e.g. fast < slow) leave combinations out; those are counted as skipped, never evaluated.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tradelab_contracts.optimization import (
    Constraint,
    GridSearch,
    ParameterRange,
    ParameterSpace,
    RandomSearch,
    SearchMethod,
)

MAX_COMBINATIONS = 200_000
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "!=": operator.ne,
}

Combination = dict[str, Any]
Validate = Callable[[Combination], Combination | None]
"""Returns the combination with defaults filled in, or None when the strategy refuses it."""


class SearchError(ValueError):
    """The search cannot be run as asked (too large, unsupported method, empty)."""


@dataclass(frozen=True)
class SearchPlan:
    """The combinations to evaluate, in order, and how many were left out."""

    combinations: list[Combination]
    skipped: int


def axis_values(space: ParameterSpace) -> dict[str, list[Any]]:
    """Every parameter's values, in the space's order."""
    return {
        name: spec.values() if isinstance(spec, ParameterRange) else list(spec)
        for name, spec in space.items()
    }


def grid_size(space: ParameterSpace) -> int:
    """Number of combinations of the full grid."""
    return math.prod(len(values) for values in axis_values(space).values())


def combination_at(axes: Mapping[str, Sequence[Any]], index: int) -> Combination:
    """The ``index``-th combination of the grid (mixed radix, last parameter fastest)."""
    combination: Combination = {}
    for name in reversed(list(axes)):
        values = axes[name]
        index, digit = divmod(index, len(values))
        combination[name] = values[digit]
    return {name: combination[name] for name in axes}


def grid_indices(space: ParameterSpace, search: SearchMethod) -> Iterator[int]:
    """Indices of the grid combinations the search visits, in visiting order."""
    size = grid_size(space)
    match search:
        case GridSearch():
            if size > MAX_COMBINATIONS:
                msg = f"the grid has {size:,} combinations; at most {MAX_COMBINATIONS:,} are run"
                raise SearchError(msg)
            yield from range(size)
        case RandomSearch():
            if search.n_samples > MAX_COMBINATIONS:
                msg = f"at most {MAX_COMBINATIONS:,} samples are run"
                raise SearchError(msg)
            rng = np.random.Generator(np.random.PCG64(search.seed))
            if search.n_samples >= size:
                yield from range(size)
            else:
                yield from (int(i) for i in rng.choice(size, search.n_samples, replace=False))
        case _:
            msg = f"the {search.kind} search is evolved generation by generation (genetic.py)"
            raise SearchError(msg)


def satisfies(combination: Mapping[str, Any], constraints: Sequence[Constraint]) -> bool:
    """Whether every constraint holds (a constraint on incomparable values fails)."""
    for constraint in constraints:
        left = combination[constraint.left]
        right = constraint.right
        if isinstance(right, str) and right in combination:
            right = combination[right]
        try:
            if not OPERATORS[constraint.op](left, right):
                return False
        except TypeError:
            return False
    return True


def plan_search(
    space: ParameterSpace,
    search: SearchMethod,
    constraints: Sequence[Constraint],
    validate: Validate,
) -> SearchPlan:
    """Expand the search; raise ``SearchError`` when nothing would be evaluated."""
    axes = axis_values(space)
    combinations: list[Combination] = []
    skipped = 0
    for index in grid_indices(space, search):
        combination = combination_at(axes, index)
        checked = validate(combination) if satisfies(combination, constraints) else None
        if checked is None:
            skipped += 1
        else:
            combinations.append(checked)
    if not combinations:
        msg = f"no combination passes the constraints and the strategy's rules ({skipped} tried)"
        raise SearchError(msg)
    return SearchPlan(combinations, skipped)


def chunk_bounds(total: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each chunk of at most ``chunk_size`` combinations."""
    return [(start, min(start + chunk_size, total)) for start in range(0, total, chunk_size)]
