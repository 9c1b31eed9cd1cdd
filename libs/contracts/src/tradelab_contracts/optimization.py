"""Parameter optimisation jobs: the search specification, chunked evaluation and lifecycle events.

A coordinator consumes `RunOptimization`, expands the search into combinations and publishes
`RunOptimizationChunk` batches (keyed by optimisation id and chunk index so they spread over the
partitions); any engine consumer evaluates a chunk and publishes `OptimizationChunkCompleted`; the
coordinator ranks the results and publishes progress and the final event.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Self, TypeAlias
from uuid import UUID

from pydantic import Field, model_validator

from tradelab_contracts.base import (
    Command,
    ContractModel,
    Event,
    JsonScalar,
    MetricName,
    Parameters,
    Seed,
    Sha256,
    StorageUri,
    StrategyName,
)
from tradelab_contracts.engine import EngineOptions, FailureReason


class ParameterRange(ContractModel):
    """Evenly spaced values from ``start`` to ``stop`` inclusive, ``step`` apart.

    Counted from its bounds: a range is checked against the services' limits before any of its
    values is made.
    """

    start: float | int = Field(description="First value.")
    stop: float | int = Field(description="Last value, included when it falls on a step.")
    step: float | int = Field(
        gt=0,
        description="Distance between values. A range holding more values than the service "
        "allows per parameter (1,000,000 by default) is refused with 422.",
    )

    @model_validator(mode="after")
    def _stop_not_below_start(self) -> Self:
        if self.stop < self.start:
            msg = "stop must not be below start"
            raise ValueError(msg)
        if not self._integral():
            try:
                ratio = (self.stop - self.start) / self.step
            except OverflowError:
                ratio = math.inf
            if not math.isfinite(ratio):
                msg = "the range holds more values than can be counted"
                raise ValueError(msg)
        return self

    def _integral(self) -> bool:
        return all(isinstance(v, int) for v in (self.start, self.stop, self.step))

    def count(self) -> int:
        """Return how many values the range holds, without making them."""
        if self._integral():
            return int((self.stop - self.start) // self.step) + 1
        # The epsilon keeps a stop that is a float-rounding hair short of the last step included.
        return math.floor((self.stop - self.start) / self.step + 1e-9) + 1

    def value_at(self, index: int) -> float | int:
        """Return the ``index``-th value (from 0); integers when start, stop and step all are."""
        value = self.start + index * self.step
        # Rounding drops float noise (0.1 + 2 * 0.1 = 0.30000000000000004) so values print and
        # hash as the user typed them; 12 decimals is far below any meaningful parameter step.
        return round(value, 12) if isinstance(value, float) else value

    def values(self) -> list[float | int]:
        """Return every value; check :meth:`count` against a bound first."""
        return [self.value_at(i) for i in range(self.count())]


ParameterChoices = Annotated[list[JsonScalar], Field(min_length=1)]
ParameterSpace: TypeAlias = dict[str, ParameterRange | ParameterChoices]
"""Values to search per parameter: a range, or an explicit list of choices."""


class GridSearch(ContractModel):
    """Evaluate every combination of the parameter space (at most 200,000 by default)."""

    kind: Literal["grid"] = Field(default="grid", description="Search method discriminator.")


class RandomSearch(ContractModel):
    """Evaluate combinations drawn uniformly at random, without replacement."""

    kind: Literal["random"] = Field(default="random", description="Search method discriminator.")
    n_samples: int = Field(
        ge=1,
        le=1_000_000,
        description="Combinations to evaluate; more than the service's maximum combinations "
        "(200,000 by default) is refused with 422.",
    )
    seed: Seed = Field(description="Random seed; set by the gateway so a redelivery reproduces.")


class GeneticSearch(ContractModel):
    """Evolve a population of combinations towards the objective."""

    kind: Literal["genetic"] = Field(default="genetic", description="Search method discriminator.")
    population: int = Field(ge=2, le=10_000, description="Combinations per generation.")
    generations: int = Field(
        ge=1,
        le=10_000,
        description="Generations to evolve; population x generations above the service's "
        "maximum combinations (200,000 by default) is refused with 422.",
    )
    mutation_rate: float = Field(
        default=0.1, ge=0, le=1, description="Probability that a gene mutates."
    )
    crossover_rate: float = Field(
        default=0.8, ge=0, le=1, description="Probability that two parents cross over."
    )
    seed: Seed = Field(description="Random seed; set by the gateway so a redelivery reproduces.")


SearchMethod: TypeAlias = Annotated[
    GridSearch | RandomSearch | GeneticSearch, Field(discriminator="kind")
]
"""How the parameter space is searched, told apart by ``kind``."""


class Objective(ContractModel):
    """The metric to optimise and in which direction."""

    metric: MetricName = Field(description="Metric name, e.g. 'sharpe'.")
    direction: Literal["maximize", "minimize"] = Field(
        default="maximize", description="Whether larger or smaller is better."
    )


class Constraint(ContractModel):
    """A combination is evaluated only when ``left op right`` holds, e.g. ``fast < slow``."""

    left: str = Field(min_length=1, description="Name of a parameter of the space.")
    op: Literal["<", "<=", ">", ">=", "!="] = Field(description="Comparison operator.")
    right: float | int | str = Field(description="A number, or the name of another parameter.")


class WalkForward(ContractModel):
    """Optimise on a training window, test the best combination on the following window, slide."""

    mode: Literal["rolling", "anchored"] = Field(
        description="'rolling': fixed-length training window; 'anchored': it starts at bar 0."
    )
    train_bars: int = Field(ge=2, description="Bars in each training window.")
    test_bars: int = Field(ge=1, description="Bars in each out-of-sample test window.")
    step_bars: int | None = Field(
        default=None, ge=1, description="Bars between fold starts; test_bars when None."
    )


class BarWindow(ContractModel):
    """A half-open range of bar indices ``[start_bar, end_bar)``."""

    start_bar: int = Field(ge=0, description="First bar index, included.")
    end_bar: int = Field(ge=1, description="Last bar index, excluded.")

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.end_bar <= self.start_bar:
            msg = "end_bar must be after start_bar"
            raise ValueError(msg)
        return self


class RunOptimization(Command):
    """Search a strategy's parameter space for the best value of an objective."""

    optimization_id: UUID = Field(description="Id of the optimisation.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    dataset_id: UUID = Field(description="Id of the dataset.")
    dataset_uri: StorageUri = Field(description="Where the dataset's Parquet file lives.")
    dataset_sha256: Sha256 = Field(description="Content hash of the dataset.")
    strategy: StrategyName = Field(description="Strategy name in the catalogue.")
    parameter_space: ParameterSpace = Field(min_length=1, description="Values to search.")
    search: SearchMethod = Field(default_factory=GridSearch, description="Search method.")
    objective: Objective = Field(description="What to optimise.")
    constraints: list[Constraint] = Field(
        default_factory=list, description="Combinations breaking any of these are skipped."
    )
    min_trades: int | None = Field(
        default=None, ge=0, description="Results with fewer trades are not ranked."
    )
    options: EngineOptions = Field(default_factory=EngineOptions, description="Simulation options.")
    walk_forward: WalkForward | None = Field(
        default=None, description="Walk-forward scheme; optimise over the whole dataset if None."
    )
    timeframe: str | None = Field(default=None, description="Bar size, for annualising.")

    @model_validator(mode="after")
    def _constraints_name_parameters(self) -> Self:
        names = self.parameter_space.keys()
        for constraint in self.constraints:
            right = constraint.right
            for name in (constraint.left, right if isinstance(right, str) else None):
                if name is not None and name not in names:
                    msg = f"constraint names {name!r}, which is not in the parameter space"
                    raise ValueError(msg)
        return self


class RunOptimizationChunk(Command):
    """Evaluate a batch of combinations; carries everything the engine needs to do so."""

    optimization_id: UUID = Field(description="Id of the optimisation.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    chunk_index: int = Field(ge=0, description="Index of this chunk, from 0.")
    chunk_count: int = Field(ge=1, description="Chunks in the optimisation (or fold).")
    fold_index: int | None = Field(
        default=None, ge=0, description="Walk-forward fold this chunk belongs to, if any."
    )
    window: BarWindow | None = Field(
        default=None, description="Bars to evaluate over; the whole dataset when None."
    )
    test_window: BarWindow | None = Field(
        default=None, description="The walk-forward fold's out-of-sample bars, if any."
    )
    combinations: list[Parameters] = Field(min_length=1, description="Parameter sets to run.")
    first_index: int = Field(
        default=0, ge=0, description="Position of the first combination in the whole search."
    )
    dataset_uri: StorageUri = Field(description="Where the dataset's Parquet file lives.")
    dataset_sha256: Sha256 = Field(description="Content hash of the dataset.")
    strategy: StrategyName = Field(description="Strategy name in the catalogue.")
    options: EngineOptions = Field(description="Simulation options.")
    objective: Objective = Field(description="What the optimisation ranks by.")
    min_trades: int | None = Field(
        default=None, ge=0, description="Results with fewer trades are not ranked."
    )
    timeframe: str | None = Field(default=None, description="Bar size, for annualising.")

    @model_validator(mode="after")
    def _index_within_count(self) -> Self:
        if self.chunk_index >= self.chunk_count:
            msg = "chunk_index must be below chunk_count"
            raise ValueError(msg)
        return self


class Evaluation(ContractModel):
    """Metrics of one evaluated combination."""

    parameters: Parameters = Field(description="The combination.")
    metrics: dict[MetricName, float | None] = Field(
        description="Metrics by name; None when undefined (e.g. Sharpe of a flat curve)."
    )


class OptimizationChunkCompleted(Event):
    """An engine consumer evaluated a chunk."""

    optimization_id: UUID = Field(description="Id of the optimisation.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    chunk_index: int = Field(ge=0, description="Index of the chunk.")
    chunk_count: int = Field(ge=1, description="Chunks in the optimisation (or fold).")
    fold_index: int | None = Field(default=None, ge=0, description="Walk-forward fold, if any.")
    results: list[Evaluation] = Field(description="One result per combination of the chunk.")
    duration_s: float = Field(ge=0, description="Wall-clock seconds the chunk took.")


class OptimizationProgress(Event):
    """An optimisation advanced."""

    optimization_id: UUID = Field(description="Id of the optimisation.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    progress: float = Field(ge=0, le=1, description="Fraction done, 0 to 1.")
    evaluated: int = Field(ge=0, description="Combinations evaluated so far.")
    total: int = Field(ge=0, description="Combinations to evaluate.")
    best_parameters: Parameters | None = Field(
        default=None, description="Best combination so far, if any qualifies."
    )
    best_value: float | None = Field(default=None, description="Objective value of the best.")
    sequence: int = Field(
        ge=0, description="Position among the optimisation's events (kept by the engine)."
    )


class OptimizationCompleted(Event):
    """An optimisation finished; all results are stored at ``results_uri``."""

    sequence: int = Field(
        default=0, ge=0, description="Position among the optimisation's events; the final is last."
    )
    optimization_id: UUID = Field(description="Id of the optimisation.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    evaluated: int = Field(ge=0, description="Combinations evaluated.")
    best_parameters: Parameters | None = Field(
        description="Best combination; None when none met the constraints."
    )
    best_metrics: dict[MetricName, float | None] = Field(
        default_factory=dict, description="Metrics of the best combination."
    )
    results_uri: StorageUri = Field(
        description="Parquet file of every result (and walk-forward folds)."
    )
    duration_s: float = Field(ge=0, description="Wall-clock seconds the optimisation took.")


class OptimizationFailed(Event):
    """An optimisation ended in error."""

    sequence: int = Field(
        default=0, ge=0, description="Position among the optimisation's events; the final is last."
    )
    optimization_id: UUID = Field(description="Id of the optimisation.")
    owner_id: UUID = Field(description="Id of the requesting user.")
    reason_code: FailureReason = Field(description="Machine-readable reason.")
    message: str = Field(max_length=2048, description="Explanation for the user.")


class CancelOptimization(Command):
    """Stop a running optimisation; a no-op if it already ended."""

    optimization_id: UUID = Field(description="Id of the optimisation.")
    owner_id: UUID = Field(description="Id of the requesting user.")


class OptimizationCancelled(Event):
    """An optimisation was stopped on request; no result will follow."""

    sequence: int = Field(
        default=0, ge=0, description="Position among the optimisation's events; the final is last."
    )
    optimization_id: UUID = Field(description="Id of the optimisation.")
    owner_id: UUID = Field(description="Id of the requesting user.")
