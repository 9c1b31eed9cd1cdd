"""The engine's request/reply, on top of the generic :class:`RpcClient`."""

from typing import TypeVar

from tradelab_contracts.engine_rpc import REPLY_OF, EngineCommand, EngineReply
from tradelab_contracts.topics import ENGINE_REQUESTS
from tradelab_gateway.adapters.rpc import RpcClient

R = TypeVar("R", bound=EngineReply)


class EngineRpcClient:
    """Send engine requests and await their replies, each of its request kind's class."""

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc
        self.reply_topic = rpc.reply_topic

    async def call(
        self, command: EngineCommand, expected: type[R], *, timeout_s: float | None = None
    ) -> R:
        """Publish ``command`` and wait for its reply (raises ``ServiceUnavailableError``).

        ``expected`` is the command's reply class (``REPLY_OF``); naming another is a wiring
        error, refused before anything is sent. ``timeout_s`` overrides the usual RPC timeout
        (quick backtests take longer).
        """
        if REPLY_OF[type(command)] is not expected:
            msg = f"{type(command).__name__} is answered by {REPLY_OF[type(command)].__name__}"
            raise TypeError(msg)
        return await self._rpc.call(
            "engine", ENGINE_REQUESTS, command, expected, timeout_s=timeout_s
        )
