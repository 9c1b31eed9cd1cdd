"""The analytics service's request/reply, on top of the generic :class:`RpcClient`."""

from tradelab_contracts.analytics_rpc import AnalyticsCommand, AnalyticsReply
from tradelab_contracts.topics import ANALYTICS_REQUESTS
from tradelab_gateway.adapters.rpc import RpcClient


class AnalyticsRpcClient:
    """Send analytics requests and await their :class:`AnalyticsReply`."""

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc
        self.reply_topic = rpc.reply_topic

    async def call(self, command: AnalyticsCommand) -> AnalyticsReply:
        """Publish ``command`` and wait for its reply (raises ``ServiceUnavailableError``)."""
        return await self._rpc.call("analytics", ANALYTICS_REQUESTS, command, AnalyticsReply)
