"""``/api/v1/auth``: accounts and tokens, answered by the auth service over Kafka."""

from fastapi import APIRouter, Request, Response

from tradelab_contracts.auth import (
    AuthCommand,
    AuthenticateUser,
    AuthErrorCode,
    AuthReply,
    DeleteUser,
    GetUser,
    RefreshSession,
    RegisterUser,
    RevokeSession,
    TokenPair,
)
from tradelab_gateway.adapters.auth_rpc import AuthRpcClient, AuthUnavailableError
from tradelab_gateway.api.auth_schemas import (
    Credentials,
    JwksPublic,
    RefreshTokenIn,
    Registration,
    SessionPublic,
    TokensPublic,
    UserPublic,
)
from tradelab_gateway.api.deps import (
    AuthClient,
    ClientAddress,
    CurrentUser,
    DatasetCache,
    RateLimiterDep,
    Settings,
    unauthorized,
    unavailable,
)
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.ratelimit.limiter import RateLimiter
from tradelab_gateway.ratelimit.login import after_failed_login, after_login, before_login
from tradelab_gateway.ratelimit.policy import LimitName, account_key
from tradelab_gateway.security.key_cache import KeyCache
from tradelab_runtime.logging import get_logger
from tradelab_runtime.sealing import SealingError

log = get_logger(__name__)
# No THROTTLED: the auth service stopped throttling (the gateway's rate limits do it, in Redis),
# and so stopped sending it or ``retry_after_s``; the contract keeps both (changes are additive).
STATUS_BY_CODE = {
    AuthErrorCode.EMAIL_TAKEN: 409,
    AuthErrorCode.WEAK_PASSWORD: 422,
    AuthErrorCode.INVALID_CREDENTIALS: 401,
    AuthErrorCode.INVALID_TOKEN: 401,
    AuthErrorCode.NOT_FOUND: 404,
    AuthErrorCode.INTERNAL: 500,
}


def _problem(reply: AuthReply) -> ProblemError:
    error = reply.error
    if error is None:
        return ProblemError(500, "The authentication service gave an empty answer.")
    status = STATUS_BY_CODE.get(error.code, 500)
    if status == 401:
        return unauthorized(error.message)
    extra = {"errors": [{"field": error.field, "message": error.message}]} if error.field else {}
    return ProblemError(status, error.message, code=error.code.value, extra=extra)


async def _ask(client: AuthRpcClient, command: AuthCommand, retry_after_s: int) -> AuthReply:
    try:
        reply = await client.call(command)
    except AuthUnavailableError as exc:
        raise unavailable(retry_after_s) from exc
    if not reply.ok:
        raise _problem(reply)
    return reply


def _tokens(client: AuthRpcClient, reply: AuthReply) -> TokenPair:
    try:
        tokens = client.tokens(reply)
    except SealingError as exc:  # bus keys differ between gateway and auth (never the user's)
        log.error("auth reply tokens did not open", reason=str(exc))
        raise ProblemError(500, "The authentication service gave an unreadable answer.") from exc
    if tokens is None:
        raise ProblemError(500, "The authentication service gave an incomplete answer.")
    return tokens


def _session(client: AuthRpcClient, reply: AuthReply) -> SessionPublic:
    if reply.user is None:
        raise ProblemError(500, "The authentication service gave an incomplete answer.")
    return SessionPublic(
        **_tokens(client, reply).model_dump(),
        user=UserPublic(**reply.user.model_dump(mode="json")),
    )


async def _authenticate(
    client: AuthRpcClient,
    command: AuthenticateUser,
    retry_after_s: int,
    limiter: RateLimiter,
    account: str,
) -> AuthReply:
    """Ask auth to check the password; count a refusal, clear the pair's failures on success."""
    try:
        reply = await _ask(client, command, retry_after_s)
    except ProblemError as exc:
        if exc.status == 401:
            await after_failed_login(limiter, account, command.client_address)
        raise
    await after_login(limiter, account, command.client_address)
    return reply


def auth_router() -> APIRouter:
    """Build the auth routes."""
    router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

    @router.post("/register", status_code=201)
    async def register(
        body: Registration,
        client: AuthClient,
        settings: Settings,
        limiter: RateLimiterDep,
        address: ClientAddress,
    ) -> SessionPublic:
        """Create an account and return its first token pair."""
        await limiter.hit(LimitName.REGISTRATION_PER_ADDRESS, address)
        command = client.sealed(RegisterUser, {"password": body.password}, email=body.email)
        return _session(client, await _ask(client, command, settings.retry_after_s))

    @router.post("/login")
    async def login(
        body: Credentials,
        client: AuthClient,
        settings: Settings,
        limiter: RateLimiterDep,
        address: ClientAddress,
    ) -> SessionPublic:
        """Exchange e-mail and password for a token pair."""
        account = account_key(body.email)
        await before_login(limiter, account, address)
        command = client.sealed(
            AuthenticateUser, {"password": body.password}, email=body.email, client_address=address
        )
        reply = await _authenticate(client, command, settings.retry_after_s, limiter, account)
        return _session(client, reply)

    @router.post("/refresh")
    async def refresh(body: RefreshTokenIn, client: AuthClient, settings: Settings) -> TokensPublic:
        """Rotate a refresh token: the old one stops working, a new pair is returned."""
        command = client.sealed(RefreshSession, {"refresh_token": body.refresh_token})
        reply = await _ask(client, command, settings.retry_after_s)
        return TokensPublic(**_tokens(client, reply).model_dump())

    @router.post("/logout", status_code=204)
    async def logout(body: RefreshTokenIn, client: AuthClient, settings: Settings) -> Response:
        """Revoke the refresh token and every token rotated from the same login."""
        command = client.sealed(RevokeSession, {"refresh_token": body.refresh_token})
        await _ask(client, command, settings.retry_after_s)
        return Response(status_code=204)

    @router.get("/me")
    async def me(user: CurrentUser, client: AuthClient, settings: Settings) -> UserPublic:
        """Return the authenticated user."""
        command = GetUser(user_id=user.user_id, reply_to=client.reply_topic)
        reply = await _ask(client, command, settings.retry_after_s)
        if reply.user is None:
            raise ProblemError(404, "User not found.")
        return UserPublic(**reply.user.model_dump(mode="json"))

    @router.delete("/me", status_code=204)
    async def delete_me(
        user: CurrentUser, client: AuthClient, settings: Settings, datasets: DatasetCache
    ) -> Response:
        """Delete the account; every service then erases what it owns, files included."""
        command = DeleteUser(user_id=user.user_id, reply_to=client.reply_topic)
        await _ask(client, command, settings.retry_after_s)
        await datasets.forget_owner(user.user_id)
        return Response(status_code=204)

    return router


def jwks_router() -> APIRouter:
    """``GET /.well-known/jwks.json`` (also under ``/api/v1``)."""
    router = APIRouter(tags=["auth"])

    async def jwks(request: Request, settings: Settings) -> JwksPublic:
        """Return the public keys that verify access tokens."""
        cache: KeyCache = request.app.state.key_cache
        try:
            keys = await cache.current()
        except AuthUnavailableError as exc:
            raise unavailable(settings.retry_after_s) from exc
        return JwksPublic(keys=keys)

    router.add_api_route("/.well-known/jwks.json", jwks, methods=["GET"])
    router.add_api_route("/api/v1/.well-known/jwks.json", jwks, methods=["GET"])
    return router
