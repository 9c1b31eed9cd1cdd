"""The auth service's request/reply, on top of the generic :class:`RpcClient`.

Secrets never cross the bus in clear: this client seals the password or refresh token of a
request and opens the tokens of a reply with the bus keys (`tradelab_runtime.sealing`), the same
mechanism the auth service uses on its side.
"""

from typing import Any, TypeVar

from tradelab_contracts.auth import AuthCommand, AuthReply, TokenPair
from tradelab_contracts.topics import AUTH_REQUESTS
from tradelab_gateway.adapters.rpc import RpcClient, ServiceUnavailableError
from tradelab_runtime.sealing import BusKeys

AuthUnavailableError = ServiceUnavailableError
C = TypeVar("C", bound=AuthCommand)


class AuthRpcClient:
    """Send auth commands and await their :class:`AuthReply`."""

    def __init__(self, rpc: RpcClient, bus: BusKeys) -> None:
        self._rpc = rpc
        self._bus = bus
        self.reply_topic = rpc.reply_topic

    def sealed(self, cls: type[C], secrets: dict[str, str], **fields: Any) -> C:
        """Build a ``cls`` request answered on this replica's reply topic, ``secrets`` sealed."""
        return self._bus.command(cls, secrets, reply_to=self.reply_topic, **fields)

    def tokens(self, reply: AuthReply) -> TokenPair | None:
        """Open the token pair of ``reply`` (raises `SealingError` when it does not open)."""
        if reply.tokens is None:
            return None
        return self._bus.open_tokens(reply.tokens, reply.message_id)

    async def call(self, command: AuthCommand) -> AuthReply:
        """Publish ``command`` and wait for its reply (raises ``AuthUnavailableError``)."""
        return await self._rpc.call("auth", AUTH_REQUESTS, command, AuthReply)
