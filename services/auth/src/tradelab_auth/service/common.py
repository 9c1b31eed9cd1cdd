"""What every use case is given (`AuthDeps`) and returns (`Outcome`), and token-pair issuance."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from tradelab_auth.domain.hashing import PasswordHashing
from tradelab_auth.domain.keys import KeyRing
from tradelab_auth.domain.refresh import RefreshToken, hash_refresh_token, new_refresh_token
from tradelab_auth.domain.tokens import TokenPolicy, issue_access_token
from tradelab_auth.domain.users import User
from tradelab_auth.ports import AuthStore, AuthTx
from tradelab_auth.settings import AuthSettings
from tradelab_contracts.auth import MAX_SECRET_CHARS, AuthError, PublicJwk, TokenPair, UserInfo
from tradelab_contracts.base import Message
from tradelab_contracts.sealed import SealedSecret
from tradelab_runtime.clock import Clock
from tradelab_runtime.logging import get_logger
from tradelab_runtime.sealing import BusKeys, SealingError

if TYPE_CHECKING:
    from .erasure import AccountEraser

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AuthDeps:
    """The collaborators of the use cases.

    Parameters
    ----------
    store
        Opens transactions on the auth tables.
    clock
        Tells the time.
    keys
        Signs access tokens and lists the public keys.
    hashing
        Hashes and verifies passwords (CPU-heavy: call it through ``asyncio.to_thread``).
    settings
        Token lifetimes, issuer and audience.
    eraser
        Deletes accounts with their `UserDeleted` event.
    """

    store: AuthStore
    clock: Clock
    keys: KeyRing
    hashing: PasswordHashing
    settings: AuthSettings
    eraser: "AccountEraser | None" = None
    """Deletes accounts (``DeleteUser``); None where a test needs none."""

    @property
    def bus(self) -> BusKeys:
        """Return the keys that open sealed request fields and seal issued tokens."""
        return self.settings.bus_keyring()

    @property
    def token_policy(self) -> TokenPolicy:
        """Return issuer, audience and lifetime of access tokens."""
        s = self.settings
        return TokenPolicy(s.jwt_issuer, s.jwt_audience, timedelta(seconds=s.access_token_ttl_s))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a use case produced: an error, or the data to answer with.

    Events are not part of it: a use case stores them in its transaction (``AuthTx.announce``),
    and the outbox publishes them once that commits.
    """

    error: AuthError | None = None
    tokens: TokenPair | None = None
    user: UserInfo | None = None
    keys: list[PublicJwk] | None = None


def opened(deps: AuthDeps, cmd: Message, field_name: str) -> str | None:
    """Return the clear value of the sealed field ``field_name`` of ``cmd``, or None when it does
    not open (logged with its key id, never its value) or exceeds the secret bound."""
    sealed: SealedSecret = getattr(cmd, field_name)
    try:
        clear = deps.bus.open(sealed, message_id=cmd.message_id, field_name=field_name)
    except SealingError as exc:
        log.warning("sealed field refused", field=field_name, kid=sealed.kid, reason=str(exc))
        return None
    return clear if 0 < len(clear) <= MAX_SECRET_CHARS else None


def user_info(user: User) -> UserInfo:
    """Return the public view of a stored user."""
    return UserInfo(id=user.id, email=user.email, created_at=user.created_at, role=user.role)


async def issue_token_pair(
    tx: AuthTx, deps: AuthDeps, user: User, family_id: UUID, now: datetime
) -> TokenPair:
    """Store a new refresh token in ``family_id`` and sign an access token for ``user``.

    Parameters
    ----------
    tx
        The open transaction the refresh token is stored in.
    deps
        Keys, settings.
    user
        Whom the tokens are for.
    family_id
        A fresh id on login and registration; the presented token's family on refresh.
    now
        Issue time.
    """
    refresh = new_refresh_token()
    await tx.add_refresh_token(
        RefreshToken(
            id=uuid4(),
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_refresh_token(refresh),
            issued_at=now,
            expires_at=now + timedelta(seconds=deps.settings.refresh_token_ttl_s),
        )
    )
    policy = deps.token_policy
    access = issue_access_token(deps.keys, policy, user.id, user.email, now, role=user.role)
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(policy.access_ttl.total_seconds()),
    )
