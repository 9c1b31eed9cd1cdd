"""Request and response bodies of ``/api/v1/auth`` (API layer, apart from wire contracts)."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from tradelab_contracts.auth import UserRole

EmailIn = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]
# The password policy lives in the auth service; here only a bound so nobody posts megabytes.
PasswordIn = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
# The policy's length bounds (tradelab_auth.domain.passwords), so the document states them.
NewPasswordIn = Annotated[str, StringConstraints(min_length=10, max_length=128)]
TokenIn = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class Credentials(BaseModel):
    """``POST /auth/login`` (and, with the policy's bounds, ``POST /auth/register``)."""

    email: EmailIn = Field(max_length=320, description="E-mail address (the login name).")
    password: PasswordIn = Field(description="10 to 128 characters, not the e-mail address.")


class Registration(Credentials):
    """``POST /auth/register``: the password policy's length bounds checked here already."""

    password: NewPasswordIn = Field(
        description="10 to 128 characters (Unicode code points), not the e-mail address."
    )


class RefreshTokenIn(BaseModel):
    """``POST /auth/refresh`` and ``POST /auth/logout``."""

    refresh_token: TokenIn = Field(description="The refresh token from login or refresh.")


class UserPublic(BaseModel):
    """A user as the API shows it."""

    id: UUID
    email: str
    created_at: datetime
    role: UserRole = Field(
        default=UserRole.USER,
        description="user or admin, as stored now; access tokens carry the role they were "
        "issued with, so a change shows in the next one (docs/admin.md).",
    )


class TokensPublic(BaseModel):
    """A token pair: a short-lived access JWT and a rotating refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class SessionPublic(TokensPublic):
    """Tokens plus the user they belong to (register, login)."""

    user: UserPublic


class JwksPublic(BaseModel):
    """The auth service's public signing keys (RFC 7517 JWK set)."""

    keys: list[dict[str, str]]
