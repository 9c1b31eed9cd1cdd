"""Idempotent job submission: a retried submit answers the job its key already names.

A client may send an ``Idempotency-Key`` with a job submission; the gateway passes it with a hash
of the normalised request. The first submission of an owner's key creates the job and stores the
key with it; a later one (a retry after a timeout or a 503) is answered with that job as it is
now, or refused as ``idempotency_key_reused`` when its request differs. Two retries racing each
other both try the insert; the unique (owner, key) index lets one win and the other answers the
winner's job.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from tradelab_contracts.engine_rpc import (
    EngineErrorCode,
    EngineReply,
    SubmitBacktest,
    SubmitMonteCarlo,
    SubmitOptimization,
)
from tradelab_engine.lifecycle.idempotency import Earlier, IdempotencyKeyTakenError
from tradelab_engine.service import error_reply, quota_refusal
from tradelab_runtime.quotas import QuotaExceededError

JobT = TypeVar("JobT")
SubmitJob = SubmitBacktest | SubmitOptimization | SubmitMonteCarlo
Find = Callable[[UUID, str], Awaitable[Earlier[JobT] | None]]
"""The owner's job submitted with a key, if any."""
REUSED = "This Idempotency-Key was sent with a different request; use a new key for a new job."


def replay(
    cmd: SubmitJob, earlier: Earlier[JobT], answer: Callable[[JobT], EngineReply]
) -> EngineReply:
    """Answer ``cmd`` with the job its key names, or refuse it if it asks something else."""
    if earlier.request_sha256 != cmd.request_sha256:
        errors = [{"field": "Idempotency-Key", "message": REUSED}]
        return error_reply(cmd, EngineErrorCode.IDEMPOTENCY_KEY_REUSED, REUSED, errors)
    return answer(earlier.job)


async def _admitted(cmd: SubmitJob, create: Callable[[], Awaitable[EngineReply]]) -> EngineReply:
    """Run ``create``; a job its owner's quota has no room for is refused as ``quota_exceeded``."""
    try:
        return await create()
    except QuotaExceededError as exc:
        return quota_refusal(cmd, exc)


async def submit_once(
    cmd: SubmitJob,
    find: Find[JobT],
    create: Callable[[], Awaitable[EngineReply]],
    answer: Callable[[JobT], EngineReply],
) -> EngineReply:
    """Run ``create`` unless ``cmd``'s key names an earlier job of its owner, then answer that.

    A job the owner's quota has no room for is refused as ``quota_exceeded``, unless a retry
    with the same key took the place meanwhile: then that job is the answer.
    """
    key = cmd.idempotency_key
    if key is None:
        return await _admitted(cmd, create)
    earlier = await find(cmd.owner_id, key)
    if earlier is None:
        try:
            return await create()
        except (IdempotencyKeyTakenError, QuotaExceededError) as exc:
            # A concurrent retry stored its job first (and, at the quota's last place, was
            # counted before this one); answer that one.
            earlier = await find(cmd.owner_id, key)
            if earlier is None and isinstance(exc, QuotaExceededError):
                return quota_refusal(cmd, exc)
            if earlier is None:  # ... and it was deleted since: nothing to answer with
                raise
    return replay(cmd, earlier, answer)
