"""Secrets that cross the bus sealed (AEAD-encrypted), never in clear.

A password or a token inside a message travels as a `SealedSecret`: the key id that sealed it, a
nonce and the ciphertext. The associated data binds the ciphertext to its message and field
(``tradelab_runtime.sealing``), so it cannot be moved into another message. The contracts only
describe the shape; sealing and opening live in ``tradelab_runtime.sealing``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tradelab_contracts.base import ContractModel

MAX_SEALED_CLEAR_BYTES = 4096
"""Longest clear value a `SealedSecret` may carry (the contracts bound passwords far lower)."""

KeyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
"""A bus key's id, named in every ciphertext it sealed so rotation can find the key."""

_B64URL = r"^[A-Za-z0-9_-]*={0,2}$"
# 12-byte nonce -> 16 characters; ciphertext = clear + 16-byte tag, base64url (4/3) with padding.
Nonce = Annotated[str, StringConstraints(pattern=_B64URL, min_length=16, max_length=16)]
Ciphertext = Annotated[
    str,
    StringConstraints(
        pattern=_B64URL, min_length=24, max_length=4 * ((MAX_SEALED_CLEAR_BYTES + 16 + 2) // 3)
    ),
]


class SealedSecret(ContractModel):
    """A secret sealed with AES-256-GCM under one of the bus keys (``BUS_KEYS``).

    Its repr shows the key id only, so a logged message never prints even the ciphertext.
    """

    alg: Literal["A256GCM"] = Field(default="A256GCM", description="AEAD algorithm.")
    kid: KeyId = Field(description="Id of the bus key that sealed it.")
    nonce: Nonce = Field(description="96-bit nonce, base64url.", repr=False)
    ciphertext: Ciphertext = Field(
        description="Ciphertext with its 128-bit tag, base64url.", repr=False
    )


class SealedTokenPair(ContractModel):
    """An access token and its refresh token, both sealed for the gateway that asked."""

    access_token: SealedSecret = Field(description="Signed JWT access token, sealed.")
    refresh_token: SealedSecret = Field(description="Opaque refresh token, sealed.")
    token_type: Literal["bearer"] = Field(default="bearer", description="Always 'bearer'.")
    expires_in: int = Field(gt=0, description="Seconds until the access token expires.")
