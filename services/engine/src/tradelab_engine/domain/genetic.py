"""Genetic search over a parameter grid: deterministic for a seed, generation by generation.

Genes are parameter values taken from each parameter's axis (the same values a grid would try),
read by index so a range is never listed.
Generation 0 is drawn at random. Each next generation keeps the best individual (elitism), and
fills the rest with children of two parents picked by 3-way tournaments: each gene comes from
either parent (uniform crossover, with probability ``crossover_rate``; otherwise the child copies
the first parent), then is redrawn from its axis with probability ``mutation_rate``. Children
that break a constraint or the strategy's rules are drawn again (a bounded number of times, then
a random valid individual is used). Generation ``g`` uses the generator
``PCG64(SeedSequence(seed, spawn_key=(g,)))``, so a run, or a run resumed after a crash, makes the
same choices from the same scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tradelab_engine.domain.search import Axis

Combination = dict[str, Any]
Accept = Callable[[Combination], Combination | None]
"""The combination with defaults filled in when it is allowed, else None."""

TOURNAMENT = 3
MAX_TRIES = 100


class NoValidIndividualError(ValueError):
    """No allowed combination was found in many random draws."""


def generator(seed: int, generation: int) -> np.random.Generator:
    """The random generator of one generation."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(generation,)))
    )


def _random(axes: Mapping[str, Axis], rng: np.random.Generator) -> Combination:
    return {name: values[int(rng.integers(len(values)))] for name, values in axes.items()}


def random_valid(axes: Mapping[str, Axis], accept: Accept, rng: np.random.Generator) -> Combination:
    """A random allowed combination."""
    for _ in range(MAX_TRIES):
        checked = accept(_random(axes, rng))
        if checked is not None:
            return checked
    msg = f"no allowed combination in {MAX_TRIES} random draws"
    raise NoValidIndividualError(msg)


def first_generation(
    axes: Mapping[str, Axis], population: int, accept: Accept, seed: int
) -> list[Combination]:
    """Generation 0: ``population`` random allowed combinations."""
    rng = generator(seed, 0)
    return [random_valid(axes, accept, rng) for _ in range(population)]


def _fitness(score: float | None, maximize: bool) -> float:
    if score is None or not math.isfinite(score):
        return -math.inf
    return score if maximize else -score


def _tournament(fitness: Sequence[float], rng: np.random.Generator) -> int:
    picks = rng.integers(len(fitness), size=TOURNAMENT)
    return int(max(picks, key=lambda i: (fitness[int(i)], -int(i))))


def next_generation(
    axes: Mapping[str, Axis],
    parents: Sequence[Combination],
    scores: Sequence[float | None],
    *,
    maximize: bool,
    mutation_rate: float,
    crossover_rate: float,
    accept: Accept,
    seed: int,
    generation: int,
) -> list[Combination]:
    """The generation after ``parents`` (scored by ``scores``), the same size."""
    rng = generator(seed, generation)
    fitness = [_fitness(s, maximize) for s in scores]
    best = max(range(len(parents)), key=lambda i: (fitness[i], -i))
    children: list[Combination] = [dict(parents[best])]
    names = list(axes)
    while len(children) < len(parents):
        child: Combination | None = None
        for _ in range(MAX_TRIES):
            mother = parents[_tournament(fitness, rng)]
            father = parents[_tournament(fitness, rng)]
            crossing = rng.random() < crossover_rate
            genes = {
                name: (father if crossing and rng.random() < 0.5 else mother)[name]
                for name in names
            }
            for name in names:
                if rng.random() < mutation_rate:
                    values = axes[name]
                    genes[name] = values[int(rng.integers(len(values)))]
            child = accept(genes)
            if child is not None:
                break
        children.append(child if child is not None else random_valid(axes, accept, rng))
    return children
