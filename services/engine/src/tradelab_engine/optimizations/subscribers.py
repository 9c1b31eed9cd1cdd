"""Kafka subscribers of optimisations: thin, they hand chunks to ``worker`` and genetic searches
to ``evolver``, both under the failure policy (retried with back-off, then the optimisation is
failed and the message parked as a dead letter)."""

from functools import partial

from faststream.kafka import KafkaBroker

from tradelab_contracts.optimization import RunOptimization, RunOptimizationChunk
from tradelab_contracts.topics import OPTIMIZATION_CHUNK_REQUESTED, OPTIMIZATION_REQUESTED
from tradelab_runtime.broker import JOB_FETCH_MAX_WAIT_MS
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetters

from . import evolver, worker
from .deps import OptimizationDeps


def register_optimization_handlers(
    broker: KafkaBroker, deps: OptimizationDeps, letters: DeadLetters, policy: RetryPolicy
) -> None:
    """Subscribe the chunk worker and the genetic evolver."""
    # Every replica of the group takes chunks, committed after the chunk is stored, so a replica
    # killed mid-chunk leaves it to another (counted once by the repository).
    work_subscriber(
        broker,
        OPTIMIZATION_CHUNK_REQUESTED,
        group_id="engine-chunks",
        model=RunOptimizationChunk,
        handle=partial(worker.run_chunk, deps=deps),
        dead_letters=letters,
        policy=policy,
        on_give_up=partial(worker.give_up_chunk, deps=deps),
        fetch_max_wait_ms=JOB_FETCH_MAX_WAIT_MS,
    )
    # One replica evolves each genetic search under a lease, committed after the search ends; a
    # replica killed mid-way leaves it to the sweeper, and the next claim resumes from the
    # stored generations.
    work_subscriber(
        broker,
        OPTIMIZATION_REQUESTED,
        group_id="engine-optimizations",
        model=RunOptimization,
        handle=partial(evolver.run_genetic, deps=deps),
        dead_letters=letters,
        policy=policy,
        on_give_up=partial(evolver.give_up_genetic, deps=deps),
    )
