"""Turn a parameter search into the list of combinations to evaluate, and split it into chunks.

Grid: every combination, in the order of the space's parameters (the last one varies fastest).
Random: ``n_samples`` distinct combinations of the grid drawn with ``numpy``'s PCG64 from the
seed (all of them when the grid is smaller). Constraints and the strategy's own parameter rules
(e.g. fast < slow) leave combinations out; those are counted as skipped, never evaluated.

Nothing is expanded before the search is checked against its :class:`SearchLimits`: ranges are
read through :class:`RangeAxis` (a value computed from its index) and random indices are drawn
digit by digit, so a huge space costs no memory before it is refused.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tradelab_contracts.optimization import (
    Constraint,
    GridSearch,
    ParameterRange,
    ParameterSpace,
    RandomSearch,
    SearchMethod,
)
from tradelab_contracts.search_limits import SearchLimits, size_refusal, space_size

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "!=": operator.ne,
}
DENSE = 4
"""A random search drawing at least 1/DENSE of the grid permutes it; a sparser one draws
indices one by one and skips repeats (at most DENSE / (DENSE - 1) draws per sample on average)."""

Combination = dict[str, Any]
Validate = Callable[[Combination], Combination | None]
"""Returns the combination with defaults filled in, or None when the strategy refuses it."""


class SearchError(ValueError):
    """The search cannot be run as asked (too large, unsupported method, empty)."""


class Axis(Protocol):
    """One parameter's values, by index: a list of choices or a :class:`RangeAxis`."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...


@dataclass(frozen=True)
class RangeAxis:
    """A range's values, each computed when asked for (the range is never listed)."""

    spec: ParameterRange

    def __len__(self) -> int:
        return self.spec.count()

    def __getitem__(self, index: int, /) -> float | int:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.spec.value_at(index)


@dataclass(frozen=True)
class SearchPlan:
    """The combinations to evaluate, in order, and how many were left out."""

    combinations: list[Combination]
    skipped: int


def space_axes(space: ParameterSpace) -> dict[str, Axis]:
    """Every parameter's values, in the space's order, without listing any range."""
    return {
        name: RangeAxis(spec) if isinstance(spec, ParameterRange) else list(spec)
        for name, spec in space.items()
    }


def combination_at(axes: Mapping[str, Axis], index: int) -> Combination:
    """The ``index``-th combination of the grid (mixed radix, last parameter fastest)."""
    combination: Combination = {}
    for name in reversed(list(axes)):
        values = axes[name]
        index, digit = divmod(index, len(values))
        combination[name] = values[digit]
    return {name: combination[name] for name in axes}


def sample_indices(lengths: Sequence[int], n_samples: int, rng: np.random.Generator) -> list[int]:
    """``n_samples`` distinct grid indices drawn uniformly (all of them if the grid is smaller).

    A sparse draw picks each parameter's digit on its own, so the grid's size may exceed any
    machine integer and nothing proportional to it is allocated.
    """
    size = math.prod(lengths)
    if n_samples >= size:
        return list(range(size))
    if size <= DENSE * n_samples:
        return [int(i) for i in rng.choice(size, n_samples, replace=False)]
    seen: set[int] = set()
    order: list[int] = []
    while len(order) < n_samples:
        index = 0
        for length in lengths:
            index = index * length + int(rng.integers(length))
        if index not in seen:
            seen.add(index)
            order.append(index)
    return order


def grid_indices(
    space: ParameterSpace, search: SearchMethod, limits: SearchLimits
) -> Iterator[int]:
    """Indices of the grid combinations the search visits, in visiting order; raise
    ``SearchError`` (before anything is expanded) when the search exceeds ``limits``."""
    refusal = size_refusal(space, search, limits)
    if refusal is not None:
        raise SearchError(refusal)
    match search:
        case GridSearch():
            yield from range(space_size(space))
        case RandomSearch():
            rng = np.random.Generator(np.random.PCG64(search.seed))
            lengths = [len(axis) for axis in space_axes(space).values()]
            yield from sample_indices(lengths, search.n_samples, rng)
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
    limits: SearchLimits,
) -> SearchPlan:
    """Expand the search; raise ``SearchError`` when it exceeds ``limits`` (checked before
    anything is expanded) or nothing would be evaluated."""
    axes = space_axes(space)
    combinations: list[Combination] = []
    skipped = 0
    for index in grid_indices(space, search, limits):
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


DEFAULT_CHUNK_SIZE = 2_000
"""Combinations per chunk at most (``ENGINE_OPTIMIZATION_CHUNK_SIZE``)."""
DEFAULT_CHUNK_WORK = 200_000_000
"""Bar-combinations per chunk (``ENGINE_OPTIMIZATION_CHUNK_WORK``): about a third of a second of
the sweep kernel on two cores, against a few tens of milliseconds of a chunk's bookkeeping."""


def chunk_size_for(bars: int, work: int, most: int) -> int:
    """Combinations per chunk for a search over ``bars`` bars: as many as make ``work``
    bar-combinations (at least one), at most ``most``.

    The work of a combination is proportional to the bars it runs over, so a chunk sized by
    work takes about the same time whatever the dataset: a small or medium grid runs in one or
    a few chunks (each chunk costs fixed bookkeeping: its message, its results transaction, its
    progress), while a large one still splits into many chunks that replicas share.
    """
    return max(1, min(most, -(-work // max(1, bars))))


def chunk_bounds(total: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each chunk of at most ``chunk_size`` combinations."""
    return [(start, min(start + chunk_size, total)) for start in range(0, total, chunk_size)]
