"""The signing key ring: Ed25519 private keys, the first of which signs; all are published.

Rotation: put the new key first (it signs from then on) and keep the old one listed after it
until every token it signed has expired, so verifiers holding the JWKS accept both meanwhile.
A key's id (``kid``) is its RFC 7638 JWK thumbprint, so it is stable across restarts and replicas.
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

ALGORITHM = "EdDSA"
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)


def b64url(data: bytes) -> str:
    """Encode ``data`` as unpadded base64url (the JOSE encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """Return the public JWK (RFC 8037) of ``public_key``, with its thumbprint as ``kid``."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    required = {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
    return {**required, "kid": thumbprint(required), "alg": ALGORITHM, "use": "sig"}


def thumbprint(required_members: dict[str, str]) -> str:
    """Return the RFC 7638 thumbprint of a JWK given its required members only."""
    canonical = json.dumps(required_members, sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One Ed25519 key pair and its key id."""

    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> "SigningKey":
        """Wrap ``private_key``, deriving its key id."""
        return cls(public_jwk(private_key.public_key())["kid"], private_key)

    def jwk(self) -> dict[str, str]:
        """Return the public JWK of this key."""
        return public_jwk(self.private_key.public_key())


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys the service knows: ``keys[0]`` signs, every one is published."""

    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            msg = "a key ring needs at least one key"
            raise ValueError(msg)

    @property
    def signing_key(self) -> SigningKey:
        """Return the key new tokens are signed with."""
        return self.keys[0]

    def jwks(self) -> list[dict[str, str]]:
        """Return every public key as a JWK, the signing key first."""
        return [key.jwk() for key in self.keys]

    @classmethod
    def from_pem(cls, pem_text: str) -> "KeyRing":
        """Build a ring from concatenated PEM private keys (see `parse_private_keys`)."""
        return cls(tuple(SigningKey.of(k) for k in parse_private_keys(pem_text)))

    @classmethod
    def generate(cls) -> "KeyRing":
        """Build a ring with one fresh key (development only: tokens die with the process)."""
        return cls((SigningKey.of(Ed25519PrivateKey.generate()),))


def parse_private_keys(pem_text: str) -> list[Ed25519PrivateKey]:
    """Parse concatenated PEM-encoded, unencrypted Ed25519 private keys.

    Parameters
    ----------
    pem_text
        One or more PEM blocks (PKCS#8 ``PRIVATE KEY``). Literal ``\\n`` sequences are read as
        line breaks, so a key can sit on one line of an environment file.

    Returns
    -------
    list of Ed25519PrivateKey
        The keys in the order given.

    Raises
    ------
    ValueError
        When there is no PEM block, a block does not parse, or a key is not Ed25519. The message
        never quotes key material.
    """
    blocks = [m.group(0) for m in _PEM_BLOCK.finditer(pem_text.replace("\\n", "\n"))]
    if not blocks:
        msg = "signing keys hold no PEM block"
        raise ValueError(msg)
    keys = []
    for index, block in enumerate(blocks):
        try:
            key = load_pem_private_key(block.encode("ascii"), password=None)
        except (ValueError, TypeError) as exc:
            msg = f"signing key #{index + 1} is not a readable unencrypted PEM private key"
            raise ValueError(msg) from exc
        if not isinstance(key, Ed25519PrivateKey):
            msg = f"signing key #{index + 1} is not an Ed25519 key"
            raise ValueError(msg)
        keys.append(key)
    return keys
