"""The quota requests of the datasets service: would an upload fit, and what is used."""

from tradelab_contracts.datasets_rpc import CheckUpload, DatasetsReply, GetDatasetsUsage
from tradelab_runtime.quotas import QuotaExceededError

from .service import Deps, quota_refusal, reply


async def check_upload(cmd: CheckUpload, deps: Deps) -> DatasetsReply:
    """Refuse an upload of ``cmd.size_bytes`` the owner's quotas have no room for now, before
    the gateway receives it (advisory: `RegisterUpload` checks again under the owner's lock)."""
    try:
        deps.quotas.admit(await deps.repo.footprint(cmd.owner_id), cmd.size_bytes)
    except QuotaExceededError as exc:
        return quota_refusal(cmd, exc)
    return reply(cmd, ok=True)


async def get_usage(cmd: GetDatasetsUsage, deps: Deps) -> DatasetsReply:
    """The owner's datasets and stored bytes, with their limits."""
    kept = await deps.repo.footprint(cmd.owner_id)
    return reply(cmd, ok=True, quotas=deps.quotas.usage(kept))
