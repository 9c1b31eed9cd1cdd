"""Kafka subscribers of Monte Carlo studies: thin, they hand messages to ``montecarlo_jobs``."""

from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from tradelab_contracts.montecarlo import CancelMonteCarlo, RunMonteCarlo
from tradelab_contracts.topics import MONTECARLO_CANCEL_REQUESTED, MONTECARLO_REQUESTED
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS

from . import montecarlo_jobs
from .montecarlo_service import MonteCarloDeps


def register_montecarlo_handlers(
    broker: KafkaBroker, deps: MonteCarloDeps, instance_id: str
) -> None:
    """Subscribe the study runner and the cancel listener."""

    # One study at a time per replica, committed after it ends (as backtests, and for the same
    # reasons: a replica that dies mid-study leaves the message to another one, which resumes the
    # study as its next attempt; "earliest" so a first message on a fresh partition is not lost).
    # Each message is a turn: the runner takes the most urgent queued study, so a high-priority
    # study submitted while this replica is busy runs before low ones queued earlier.
    @broker.subscriber(
        MONTECARLO_REQUESTED,
        group_id="engine-montecarlo",
        ack_policy=AckPolicy.ACK,
        auto_offset_reset="earliest",
    )
    async def on_study(job: RunMonteCarlo) -> None:
        await montecarlo_jobs.run_next_study(job, deps)

    # Every replica hears every cancel request; only the one running the study acts on it.
    @broker.subscriber(
        MONTECARLO_CANCEL_REQUESTED,
        group_id=f"engine-montecarlo-cancel-{instance_id}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_cancel(cmd: CancelMonteCarlo) -> None:
        deps.engine.cancelled.add(str(cmd.simulation_id))
