"""Access tokens: short-lived JWTs signed with the ring's first Ed25519 key.

Header ``{"alg": "EdDSA", "typ": "JWT", "kid": <thumbprint>}``; claims ``iss``, ``aud``, ``sub``
(user id), ``email``, ``role`` (``user`` or ``admin``, as stored when the token was issued: a
role change takes effect at the next login or refresh), ``iat``, ``exp`` (``iat`` + the
access-token lifetime, in whole seconds) and ``jti`` (a random hex id).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from tradelab_contracts.auth import UserRole

from .keys import ALGORITHM, KeyRing


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """Who issues access tokens, for whom, and for how long.

    Parameters
    ----------
    issuer
        The ``iss`` claim.
    audience
        The ``aud`` claim: the API that accepts these tokens.
    access_ttl
        Lifetime of an access token.
    """

    issuer: str
    audience: str
    access_ttl: timedelta


def access_claims(
    policy: TokenPolicy,
    user_id: uuid.UUID,
    email: str,
    now: datetime,
    jti: str,
    role: UserRole = UserRole.USER,
) -> dict[str, Any]:
    """Return the claim set of an access token issued at ``now``."""
    issued_at = int(now.timestamp())
    return {
        "iss": policy.issuer,
        "aud": policy.audience,
        "sub": str(user_id),
        "email": email,
        "role": role.value,
        "iat": issued_at,
        "exp": issued_at + int(policy.access_ttl.total_seconds()),
        "jti": jti,
    }


def issue_access_token(
    ring: KeyRing,
    policy: TokenPolicy,
    user_id: uuid.UUID,
    email: str,
    now: datetime,
    jti: str | None = None,
    role: UserRole = UserRole.USER,
) -> str:
    """Sign an access token for a user.

    Parameters
    ----------
    ring
        The key ring; its signing key signs and names itself in the ``kid`` header.
    policy
        Issuer, audience and lifetime.
    user_id, email
        The user the token speaks for.
    now
        Issue time (from the injected clock).
    jti
        Token id; a random one when None.
    role
        The user's role now (the ``role`` claim).

    Returns
    -------
    str
        The compact JWS.
    """
    key = ring.signing_key
    claims = access_claims(policy, user_id, email, now, jti or uuid.uuid4().hex, role)
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
