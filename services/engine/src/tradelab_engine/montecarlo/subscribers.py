"""Kafka subscribers of Monte Carlo studies: thin, they hand messages to ``worker``."""

from faststream.kafka import KafkaBroker

from tradelab_contracts.montecarlo import CancelMonteCarlo, RunMonteCarlo
from tradelab_contracts.topics import MONTECARLO_CANCEL_REQUESTED, MONTECARLO_REQUESTED
from tradelab_runtime.broker import RPC_FETCH_MAX_WAIT_MS
from tradelab_runtime.consumers import RetryPolicy, work_subscriber
from tradelab_runtime.dead_letters import DeadLetters

from . import worker
from .use_cases import MonteCarloDeps


def register_montecarlo_handlers(
    broker: KafkaBroker,
    deps: MonteCarloDeps,
    instance_id: str,
    letters: DeadLetters,
    policy: RetryPolicy,
) -> None:
    """Subscribe the study runner and the cancel listener."""

    # One study at a time per replica, committed after it ends, under the failure policy (as
    # backtests, and for the same reasons). Each message is a turn: the runner takes the next
    # claimable study in the fair order (lifecycle.fair: the user with the fewest running jobs,
    # then that user's most urgent study), so a user's high-priority study runs before their low
    # ones queued earlier but never before another user's, and a study whose worker died is
    # taken over once its lease expired.
    async def run_study(job: RunMonteCarlo) -> None:
        await worker.run_next_study(job, deps)

    work_subscriber(
        broker,
        MONTECARLO_REQUESTED,
        group_id="engine-montecarlo",
        model=RunMonteCarlo,
        handle=run_study,
        dead_letters=letters,
        policy=policy,
    )

    # Every replica hears every cancel request; only the one running the study acts on it.
    @broker.subscriber(
        MONTECARLO_CANCEL_REQUESTED,
        group_id=f"engine-montecarlo-cancel-{instance_id}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=RPC_FETCH_MAX_WAIT_MS,
    )
    async def on_cancel(cmd: CancelMonteCarlo) -> None:
        deps.engine.cancelled.add(str(cmd.simulation_id))
