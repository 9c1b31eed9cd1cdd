"""User accounts as the service stores them."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from tradelab_contracts.auth import UserRole


@dataclass(frozen=True, slots=True)
class User:
    """A stored account; ``email`` is normalised and ``password_hash`` an argon2id PHC string."""

    id: UUID
    email: str
    password_hash: str
    created_at: datetime
    updated_at: datetime
    is_active: bool = True
    role: UserRole = UserRole.USER


class EmailAlreadyRegisteredError(Exception):
    """An account with this (normalised) e-mail address exists already."""
