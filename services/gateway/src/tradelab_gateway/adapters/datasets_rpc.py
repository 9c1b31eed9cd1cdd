"""The datasets service's request/reply, on top of the generic :class:`RpcClient`."""

from tradelab_contracts.datasets_rpc import DatasetsCommand, DatasetsReply
from tradelab_contracts.topics import DATASETS_REQUESTS
from tradelab_gateway.adapters.rpc import RpcClient


class DatasetsRpcClient:
    """Send dataset requests and await their :class:`DatasetsReply`."""

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc
        self.reply_topic = rpc.reply_topic

    async def call(
        self, command: DatasetsCommand, *, timeout_s: float | None = None
    ) -> DatasetsReply:
        """Publish ``command`` and wait for its reply (raises ``ServiceUnavailableError``).

        ``timeout_s`` overrides the usual RPC timeout (quick backtests take longer).
        """
        return await self._rpc.call(
            "datasets", DATASETS_REQUESTS, command, DatasetsReply, timeout_s=timeout_s
        )
