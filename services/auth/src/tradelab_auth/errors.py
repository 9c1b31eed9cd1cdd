"""The errors the auth service answers with, worded once so equal failures look identical."""

from tradelab_contracts.auth import AuthError, AuthErrorCode

INVALID_CREDENTIALS = AuthError(
    code=AuthErrorCode.INVALID_CREDENTIALS, message="Invalid e-mail address or password."
)
"""Unknown account, wrong password and disabled account all get this, so none is revealed."""

INVALID_TOKEN = AuthError(
    code=AuthErrorCode.INVALID_TOKEN, message="The refresh token is invalid, expired or revoked."
)
EMAIL_TAKEN = AuthError(
    code=AuthErrorCode.EMAIL_TAKEN,
    message="An account with this e-mail address already exists.",
    field="email",
)
USER_NOT_FOUND = AuthError(code=AuthErrorCode.NOT_FOUND, message="No such user.")
INTERNAL = AuthError(
    code=AuthErrorCode.INTERNAL, message="The auth service failed unexpectedly; try again later."
)

UNREADABLE_SECRET = AuthError(
    code=AuthErrorCode.INTERNAL,
    message="The auth service could not read the request's credentials; try again later.",
)
"""A sealed field did not open (bus keys differ between gateway and auth, or it was tampered
with): the sender's fault or the operator's, never the user's."""


def reply_too_large(message: str) -> AuthError:
    """Return the error for an answer that would not fit in one broker message."""
    return AuthError(code=AuthErrorCode.REPLY_TOO_LARGE, message=message)


def weak_password(message: str) -> AuthError:
    """Return the error for a password the policy refuses, pointing at the password field."""
    return AuthError(code=AuthErrorCode.WEAK_PASSWORD, message=message, field="password")
