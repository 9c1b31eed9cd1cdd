"""Refresh tokens: opaque random strings, stored only as SHA-256 digests, rotated on every use.

Each login starts a *family*; every refresh marks the presented token rotated and issues its
successor in the same family. A rotated token presented again means two parties hold it (one is
likely a thief), so the whole family is revoked (OAuth 2.0 Security BCP, refresh token rotation).
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A stored refresh token (its digest, never the token itself)."""

    id: UUID
    user_id: UUID
    family_id: UUID
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None


class RefreshVerdict(Enum):
    """What to do with a presented refresh token."""

    ROTATE = "rotate"
    """Valid: mark it rotated and issue its successor."""
    REUSE_DETECTED = "reuse_detected"
    """Already rotated: revoke the whole family and refuse."""
    INVALID = "invalid"
    """Unknown, expired or revoked: refuse."""


def new_refresh_token() -> str:
    """Return a fresh opaque refresh token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Return the SHA-256 hex digest under which ``token`` is stored.

    A fast hash is enough: the token has 256 bits of entropy, so it cannot be guessed from it.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def judge_refresh(token: RefreshToken | None, now: datetime) -> RefreshVerdict:
    """Decide what a refresh with ``token`` does.

    Parameters
    ----------
    token
        The stored token matching the presented one, or None when none does.
    now
        The current time.

    Returns
    -------
    RefreshVerdict
        Revoked beats rotated (its family is already dead), and rotated beats expired (a replay of
        an old token still betrays a leak while its successors may be alive).
    """
    if token is None or token.revoked_at is not None:
        return RefreshVerdict.INVALID
    if token.rotated_at is not None:
        return RefreshVerdict.REUSE_DETECTED
    if token.expires_at <= now:
        return RefreshVerdict.INVALID
    return RefreshVerdict.ROTATE
