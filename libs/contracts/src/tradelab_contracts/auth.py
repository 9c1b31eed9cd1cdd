"""Auth request/reply over Kafka, and the user-registered and user-deleted events.

A gateway publishes an `AuthRequest` on ``auth.rpc.request.v1`` with ``reply_to`` set to its own
reply topic (`tradelab_contracts.topics.reply_topic`); the auth service answers with an `AuthReply`
whose ``request_id`` is the request's ``message_id``. Secrets (passwords, refresh tokens, the
issued token pair) travel sealed (`SealedSecret`, opened only by the gateway and auth with the bus
keys), bound to their message and field; the clear values exist only inside those two processes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self, TypeAlias
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, TypeAdapter, model_validator

from tradelab_contracts.base import ContractModel, Event, Reply, Request
from tradelab_contracts.sealed import SealedSecret, SealedTokenPair

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]
"""An e-mail address, checked only for shape; the auth service normalises it."""

MAX_SECRET_CHARS = 1024
"""Longest password or token accepted (bounded so argon2 never hashes megabytes); checked by the
gateway before sealing and by auth again after opening."""

ReplyTopic = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9._-]{1,249}$")]
"""A legal Kafka topic name."""


class AuthCommand(Request):
    """Base of the auth requests: each names the topic its reply goes to."""

    reply_to: ReplyTopic = Field(description="Topic the AuthReply is published to.")


class RegisterUser(AuthCommand):
    """Create a user account."""

    kind: Literal["register"] = Field(default="register", description="Request discriminator.")
    email: Email = Field(description="E-mail address, the login name.")
    password: SealedSecret = Field(description="Password, sealed (field name 'password').")


class AuthenticateUser(AuthCommand):
    """Check credentials and issue a token pair (log in)."""

    kind: Literal["authenticate"] = Field(
        default="authenticate", description="Request discriminator."
    )
    email: Email = Field(description="E-mail address, the login name.")
    password: SealedSecret = Field(description="Password, sealed (field name 'password').")
    client_address: str = Field(
        min_length=1,
        max_length=128,
        description="Client IP address (the gateway throttles failed logins by it; auth does "
        "not read it).",
    )


class RefreshSession(AuthCommand):
    """Exchange a refresh token for a new token pair; the old refresh token is revoked."""

    kind: Literal["refresh"] = Field(default="refresh", description="Request discriminator.")
    refresh_token: SealedSecret = Field(
        description="Refresh token, sealed (field name 'refresh_token')."
    )


class RevokeSession(AuthCommand):
    """Revoke a refresh token (log out)."""

    kind: Literal["revoke"] = Field(default="revoke", description="Request discriminator.")
    refresh_token: SealedSecret = Field(
        description="Refresh token, sealed (field name 'refresh_token')."
    )


class GetUser(AuthCommand):
    """Look up a user."""

    kind: Literal["get_user"] = Field(default="get_user", description="Request discriminator.")
    user_id: UUID = Field(description="Id of the user.")


class DeleteUser(AuthCommand):
    """Delete a user account; every service then erases what the user owns (`UserDeleted`)."""

    kind: Literal["delete_user"] = Field(
        default="delete_user", description="Request discriminator."
    )
    user_id: UUID = Field(description="Id of the user to delete (the caller).")


class GetPublicKeys(AuthCommand):
    """List the public keys that verify access tokens (the JWKS)."""

    kind: Literal["get_public_keys"] = Field(
        default="get_public_keys", description="Request discriminator."
    )


AuthRequest: TypeAlias = Annotated[
    RegisterUser
    | AuthenticateUser
    | RefreshSession
    | RevokeSession
    | GetUser
    | GetPublicKeys
    | DeleteUser,
    Field(discriminator="kind"),
]
"""Any auth request, told apart by its ``kind``."""

AUTH_REQUEST_TYPES: tuple[type[AuthCommand], ...] = (
    RegisterUser,
    AuthenticateUser,
    RefreshSession,
    RevokeSession,
    GetUser,
    GetPublicKeys,
    DeleteUser,
)
"""The members of `AuthRequest`, in the same order."""

AUTH_REQUEST_ADAPTER: TypeAdapter[AuthRequest] = TypeAdapter(AuthRequest)
"""Validates an `AuthRequest` from JSON (``validate_json``) or a dict (``validate_python``)."""


class AuthErrorCode(StrEnum):
    """Why an auth request failed."""

    EMAIL_TAKEN = "email_taken"
    WEAK_PASSWORD = "weak_password"  # noqa: S105 - an error code, not a secret
    INVALID_CREDENTIALS = "invalid_credentials"
    THROTTLED = "throttled"
    """No longer sent: failed logins are throttled by the gateway (HTTP 429) before a request
    reaches auth. Kept so older readers still parse (contract changes are additive)."""
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret
    NOT_FOUND = "not_found"
    INTERNAL = "internal"
    REPLY_TOO_LARGE = "reply_too_large"
    """The answer would not fit in one broker message (``KAFKA_MAX_MESSAGE_BYTES``)."""


class AuthError(ContractModel):
    """A failed auth request's error, shaped so the gateway can map it to problem+json."""

    code: AuthErrorCode = Field(description="Machine-readable error code.")
    message: str = Field(max_length=1024, description="Human-readable explanation.")
    field: str | None = Field(default=None, description="Input field at fault, if one is.")
    retry_after_s: int | None = Field(
        default=None,
        ge=0,
        description="Seconds to wait before retrying (with 'throttled', which auth no longer "
        "sends).",
    )


class TokenPair(ContractModel):
    """An access token and the refresh token that renews it, in clear: only inside auth and the
    gateway; on the bus it travels as a `SealedTokenPair`."""

    access_token: str = Field(
        min_length=1, description="Signed JWT access token; never logged.", repr=False
    )
    refresh_token: str = Field(
        min_length=1, description="Opaque refresh token; never logged.", repr=False
    )
    token_type: Literal["bearer"] = Field(default="bearer", description="Always 'bearer'.")
    expires_in: int = Field(gt=0, description="Seconds until the access token expires.")


class UserRole(StrEnum):
    """What an account may do: ``admin`` also reads the platform's performance reports."""

    USER = "user"
    ADMIN = "admin"


class UserInfo(ContractModel):
    """A user as other services may see it (no credentials)."""

    id: UUID = Field(description="User id.")
    email: Email = Field(description="E-mail address.")
    created_at: AwareDatetime = Field(description="When the account was created.")
    role: UserRole = Field(
        default=UserRole.USER,
        description="The account's role (absent from older replies: 'user').",
    )


class PublicJwk(ContractModel):
    """A public key as a JSON Web Key (RFC 7517); OKP/EC keys use crv/x(/y), RSA keys n/e."""

    kty: Literal["OKP", "EC", "RSA"] = Field(description="Key type.")
    kid: str = Field(min_length=1, description="Key id, matched against the JWT 'kid' header.")
    alg: str = Field(min_length=1, description="Signing algorithm, e.g. 'EdDSA' or 'RS256'.")
    use: Literal["sig"] = Field(default="sig", description="Key use: signatures.")
    crv: str | None = Field(default=None, description="Curve (OKP/EC), e.g. 'Ed25519'.")
    x: str | None = Field(default=None, description="Public key / x coordinate, base64url.")
    y: str | None = Field(default=None, description="y coordinate (EC), base64url.")
    n: str | None = Field(default=None, description="Modulus (RSA), base64url.")
    e: str | None = Field(default=None, description="Exponent (RSA), base64url.")


class AuthReply(Reply):
    """The auth service answered a request: either ``error`` or the requested data is set."""

    error: AuthError | None = Field(default=None, description="Why it failed (when not ok).")
    tokens: SealedTokenPair | None = Field(
        default=None, description="Issued tokens (login, refresh), sealed for the gateway."
    )
    user: UserInfo | None = Field(default=None, description="The user (register, login, get).")
    keys: list[PublicJwk] | None = Field(default=None, description="Public keys (JWKS).")

    @model_validator(mode="after")
    def _error_iff_not_ok(self) -> Self:
        # A reply with both or neither would leave the gateway guessing the HTTP status.
        if self.ok == (self.error is not None):
            msg = "an AuthReply carries an error exactly when ok is false"
            raise ValueError(msg)
        return self


class UserRegistered(Event):
    """A user account was created."""

    user_id: UUID = Field(description="Id of the new user.")
    email: Email = Field(description="E-mail address of the new user.")


class UserDeleted(Event):
    """A user account was deleted; each service erases the user's rows and files, idempotently."""

    user_id: UUID = Field(description="Id of the deleted user.")
