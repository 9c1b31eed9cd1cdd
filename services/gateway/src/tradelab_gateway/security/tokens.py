"""Access-token verification: local, with the auth service's public keys (JWKS).

Only ``EdDSA`` is accepted, whatever the token's header claims, so ``alg=none`` and the
HS256-signed-with-the-public-key trick both fail. ``exp``, ``iat``, ``sub``, ``jti``, ``iss`` and
``aud`` are required and checked. ``role`` (``user`` or ``admin``) is read when present; a token
without one (issued before roles existed) speaks for a ``user``, one with another value is
invalid.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

from tradelab_contracts.auth import UserRole

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "jti", "iss", "aud")


class InvalidTokenError(Exception):
    """The token is malformed, expired, badly signed or meant for someone else."""


class UnknownKeyError(InvalidTokenError):
    """The token names a key id we do not (yet) know: the key ring may have rotated."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"unknown key id {kid!r}")
        self.kid = kid


@dataclass(frozen=True)
class Principal:
    """Who a verified access token speaks for."""

    user_id: UUID
    email: str
    token_id: str
    expires_at: float = float("inf")
    """``exp`` of the token, seconds since the epoch."""
    role: UserRole = UserRole.USER
    """The user's role when the token was issued (a change shows in the next token)."""


def key_id(token: str) -> str:
    """Return the token's ``kid`` header, refusing any algorithm but EdDSA up front."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidTokenError("malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidTokenError("unsupported signing algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidTokenError("token has no key id")
    return kid


def verify(token: str, jwk: dict[str, Any], *, issuer: str, audience: str) -> Principal:
    """Verify ``token`` with the public ``jwk`` and return its principal."""
    try:
        key = jwt.PyJWK(jwk, algorithm=ALGORITHM)
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": list(REQUIRED_CLAIMS)},
            leeway=5,  # seconds of clock skew between auth and gateway hosts
        )
        return Principal(
            UUID(claims["sub"]),
            str(claims.get("email", "")),
            str(claims["jti"]),
            float(claims["exp"]),
            UserRole(claims.get("role", UserRole.USER.value)),
        )
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidTokenError(str(exc)) from exc
