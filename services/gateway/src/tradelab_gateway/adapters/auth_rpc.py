"""The auth service's request/reply, on top of the generic :class:`RpcClient`."""

from tradelab_contracts.auth import AuthCommand, AuthReply
from tradelab_contracts.topics import AUTH_REQUESTS
from tradelab_gateway.adapters.rpc import RpcClient, ServiceUnavailableError

AuthUnavailableError = ServiceUnavailableError


class AuthRpcClient:
    """Send auth commands and await their :class:`AuthReply`."""

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc
        self.reply_topic = rpc.reply_topic

    async def call(self, command: AuthCommand) -> AuthReply:
        """Publish ``command`` and wait for its reply (raises ``AuthUnavailableError``)."""
        return await self._rpc.call("auth", AUTH_REQUESTS, command, AuthReply)
