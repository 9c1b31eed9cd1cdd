"""Seal and open the secrets that cross the bus (one mechanism for every sender and receiver).

Keys come from ``BUS_KEYS`` (or ``<PREFIX>_BUS_KEYS``): comma-separated ``kid:base64key``
entries, each key 32 random bytes (AES-256-GCM). The first key seals; every listed key opens, so a
key is rotated by putting a new one first, deploying, then dropping the old one once nothing
sealed with it can still be in flight (see docs/security.md).

The associated data names the key id, the message id and the field, so a ciphertext opens only in
the message and field it was sealed for: copied into another message it is refused.
"""

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tradelab_contracts.auth import TokenPair
from tradelab_contracts.base import Message
from tradelab_contracts.sealed import MAX_SEALED_CLEAR_BYTES, SealedSecret, SealedTokenPair

M = TypeVar("M", bound=Message)

KEY_BYTES = 32
NONCE_BYTES = 12
DEVELOPMENT_KID = "dev"
_DEVELOPMENT_KEY = hashlib.sha256(b"tradelab well-known development bus key").digest()
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class SealingError(ValueError):
    """A sealed secret could not be opened (unknown key, tampered, or sealed for another field
    or message), or a bus key setting is malformed."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    # Accept standard and URL-safe alphabets (keys are often made with `openssl rand -base64`).
    return base64.urlsafe_b64decode(text.translate(str.maketrans("+/", "-_")))


def _associated_data(kid: str, message_id: UUID, field_name: str) -> bytes:
    return f"tradelab.sealed.v1|{kid}|{message_id}|{field_name}".encode()


def _parse_entry(entry: str) -> tuple[str, bytes]:
    kid, sep, encoded = entry.partition(":")
    kid = kid.strip()
    if not sep or not _KID.fullmatch(kid):
        msg = "each bus key is 'kid:base64key' with a kid of [A-Za-z0-9._-]{1,64}"
        raise SealingError(msg)
    try:
        key = _unb64(encoded.strip())
    except (binascii.Error, ValueError):
        msg = f"bus key {kid!r} is not valid base64"
        raise SealingError(msg) from None
    if len(key) != KEY_BYTES:
        msg = f"bus key {kid!r} must be {KEY_BYTES} bytes, got {len(key)}"
        raise SealingError(msg)
    if len(set(key)) < 8:  # all zeros, a repeated byte: a placeholder, not a random key
        msg = f"bus key {kid!r} is not random (a placeholder?)"
        raise SealingError(msg)
    return kid, key


@dataclass(frozen=True, slots=True)
class BusKeys:
    """The bus keys of one process: the first seals, all open. Its repr lists key ids only."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    def __post_init__(self) -> None:
        kids = [kid for kid, _ in self.keys]
        if not kids:
            msg = "at least one bus key is needed"
            raise SealingError(msg)
        if len(set(kids)) != len(kids):
            msg = "bus key ids must be distinct"
            raise SealingError(msg)

    def __repr__(self) -> str:
        return f"BusKeys(kids={self.kids!r})"

    @classmethod
    def parse(cls, value: str) -> "BusKeys":
        """Read ``kid:base64key[,kid:base64key...]`` (whitespace around entries is ignored)."""
        entries = [e for e in re.split(r"[,\s]+", value.strip()) if e]
        return cls(tuple(_parse_entry(e) for e in entries))

    @classmethod
    def development(cls) -> "BusKeys":
        """Return the well-known development key: it protects nothing, and production refuses
        to start with it (or with none)."""
        return cls(((DEVELOPMENT_KID, _DEVELOPMENT_KEY),))

    @staticmethod
    def generate_entry(kid: str) -> str:
        """Return a new ``kid:base64key`` entry with a random key (for ``BUS_KEYS``)."""
        return f"{kid}:{_b64(os.urandom(KEY_BYTES))}"

    @property
    def kids(self) -> tuple[str, ...]:
        """Key ids, the sealing one first."""
        return tuple(kid for kid, _ in self.keys)

    @property
    def is_development(self) -> bool:
        """Whether the well-known development key is among these keys."""
        return any(key == _DEVELOPMENT_KEY for _, key in self.keys)

    def seal(self, clear: str, *, message_id: UUID, field_name: str) -> SealedSecret:
        """Seal ``clear`` for field ``field_name`` of message ``message_id`` with the first key."""
        data = clear.encode()
        if len(data) > MAX_SEALED_CLEAR_BYTES:
            msg = f"a sealed secret holds at most {MAX_SEALED_CLEAR_BYTES} bytes"
            raise SealingError(msg)
        kid, key = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        aad = _associated_data(kid, message_id, field_name)
        ciphertext = AESGCM(key).encrypt(nonce, data, aad)
        return SealedSecret(kid=kid, nonce=_b64(nonce), ciphertext=_b64(ciphertext))

    def open(self, sealed: SealedSecret, *, message_id: UUID, field_name: str) -> str:
        """Return the clear value of ``sealed``, sealed for ``field_name`` of ``message_id``.

        Raises
        ------
        SealingError
            If no key has the sealing key's id, or the ciphertext does not authenticate (tampered,
            another key under that id, or sealed for another message or field).
        """
        key = dict(self.keys).get(sealed.kid)
        if key is None:
            msg = f"no bus key with id {sealed.kid!r}"
            raise SealingError(msg)
        aad = _associated_data(sealed.kid, message_id, field_name)
        try:
            data = AESGCM(key).decrypt(_unb64(sealed.nonce), _unb64(sealed.ciphertext), aad)
        except (InvalidTag, binascii.Error, ValueError):
            msg = f"sealed {field_name!r} does not open under bus key {sealed.kid!r}"
            raise SealingError(msg) from None
        return data.decode()

    def command(self, cls: type[M], secrets: Mapping[str, str], **fields: Any) -> M:
        """Build a ``cls`` message whose ``secrets`` fields are sealed for it.

        The message id is chosen here, since the seal binds each secret to it.
        """
        message_id = fields.pop("message_id", None) or uuid4()
        sealed: dict[str, Any] = {
            name: self.seal(value, message_id=message_id, field_name=name)
            for name, value in secrets.items()
        }
        return cls.model_validate({**fields, **sealed, "message_id": message_id})

    def seal_tokens(self, pair: TokenPair, message_id: UUID) -> SealedTokenPair:
        """Seal an issued token pair for the reply ``message_id``."""
        return SealedTokenPair(
            access_token=self.seal(
                pair.access_token, message_id=message_id, field_name="tokens.access_token"
            ),
            refresh_token=self.seal(
                pair.refresh_token, message_id=message_id, field_name="tokens.refresh_token"
            ),
            expires_in=pair.expires_in,
        )

    def open_tokens(self, sealed: SealedTokenPair, message_id: UUID) -> TokenPair:
        """Open a token pair sealed for the reply ``message_id`` (raises `SealingError`)."""
        return TokenPair(
            access_token=self.open(
                sealed.access_token, message_id=message_id, field_name="tokens.access_token"
            ),
            refresh_token=self.open(
                sealed.refresh_token, message_id=message_id, field_name="tokens.refresh_token"
            ),
            expires_in=sealed.expires_in,
        )
