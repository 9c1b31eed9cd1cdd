"""The engine's request/reply, on top of the generic :class:`RpcClient`."""

from tradelab_contracts.engine_rpc import EngineCommand, EngineReply
from tradelab_contracts.topics import ENGINE_REQUESTS
from tradelab_gateway.adapters.rpc import RpcClient


class EngineRpcClient:
    """Send engine requests and await their :class:`EngineReply`."""

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc
        self.reply_topic = rpc.reply_topic

    async def call(self, command: EngineCommand, *, timeout_s: float | None = None) -> EngineReply:
        """Publish ``command`` and wait for its reply (raises ``ServiceUnavailableError``).

        ``timeout_s`` overrides the usual RPC timeout (quick backtests take longer).
        """
        return await self._rpc.call(
            "engine", ENGINE_REQUESTS, command, EngineReply, timeout_s=timeout_s
        )
