"""Password hashing with argon2id.

Defaults (settings ``AUTH_ARGON2_TIME_COST``, ``AUTH_ARGON2_MEMORY_COST``,
``AUTH_ARGON2_PARALLELISM``): ``time_cost=3`` passes, ``memory_cost=65536`` KiB (64 MiB),
``parallelism=1`` lane; 32-byte hashes with 16-byte random salts. Hashing takes tens of
milliseconds of CPU, so callers run it off the event loop. When the parameters change, each stored
hash is upgraded at its owner's next successful login (:meth:`PasswordHashing.needs_rehash`).
"""

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True, slots=True)
class HashingParams:
    """Cost parameters of argon2id.

    Parameters
    ----------
    time_cost
        Number of passes over the memory.
    memory_cost
        Memory per hash, in KiB.
    parallelism
        Number of lanes (threads) per hash.
    """

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 1


class PasswordHashing:
    """Hash and verify passwords; verify unknown accounts against a dummy hash.

    Parameters
    ----------
    params
        The argon2id cost parameters new hashes use.
    """

    def __init__(self, params: HashingParams) -> None:
        self.params = params
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            type=Type.ID,
        )
        # Checking a login for an unknown account against this costs as much as a wrong
        # password, so response time does not reveal which e-mail addresses have accounts.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        """Return the argon2id hash of ``password`` (PHC string, ``$argon2id$...``)."""
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Return whether ``password`` matches ``stored_hash``.

        Parameters
        ----------
        stored_hash
            The account's hash, or None for no account: the dummy hash is checked instead so the
            call takes as long, and the answer is False.
        password
            The password presented, in clear.
        """
        try:
            matches = self._hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matches and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """Return whether ``stored_hash`` was made with other parameters than the current ones."""
        return self._hasher.check_needs_rehash(stored_hash)
