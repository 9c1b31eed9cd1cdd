"""Idempotency keys of job submissions: the ``Idempotency-Key`` header checked, and the hash of a
request that tells a retry from another request under the same key. Pure: no I/O.

The engine keeps both with the job; see ``tradelab_engine.idempotency``.
"""

import hashlib
import json
from uuid import UUID

from pydantic import BaseModel

MAX_KEY_LENGTH = 255
VISIBLE_ASCII = frozenset(chr(code) for code in range(0x21, 0x7F))
"""What a key may hold: the contract's ``IdempotencyKey`` (no spaces, controls or non-ASCII)."""


class InvalidIdempotencyKeyError(ValueError):
    """An ``Idempotency-Key`` the API does not take."""


def checked_key(raw: str | None) -> str | None:
    """Return the header's key (None when absent), or raise `InvalidIdempotencyKeyError`."""
    if raw is None:
        return None
    if not 1 <= len(raw) <= MAX_KEY_LENGTH:
        msg = f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters long."
        raise InvalidIdempotencyKeyError(msg)
    if not VISIBLE_ASCII.issuperset(raw):
        msg = "The Idempotency-Key may hold visible ASCII characters only (no spaces)."
        raise InvalidIdempotencyKeyError(msg)
    return raw


def request_sha256(body: BaseModel) -> str:
    """Hash a request body as validated, so one request hashes the same however it was spelt.

    Defaults are filled in and keys sorted before hashing: ``{}`` and ``{"options": <the
    defaults>}`` are one request, and the order of a JSON object's keys does not matter.
    """
    document = body.model_dump(mode="json")
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed(job_id: UUID, requested_id: UUID) -> dict[str, str]:
    """The response header telling a client its submission was answered with an earlier job
    (the engine answered another id than the one this submission asked for)."""
    return {} if job_id == requested_id else {"Idempotent-Replayed": "true"}
