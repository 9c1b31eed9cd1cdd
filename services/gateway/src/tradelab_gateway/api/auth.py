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
from tradelab_gateway.api.deps import AuthClient, CurrentUser, Settings, unauthorized, unavailable
from tradelab_gateway.api.problems import ProblemError
from tradelab_gateway.security.key_cache import KeyCache

JWKS_MAX_AGE_S = 60.0
STATUS_BY_CODE = {
    AuthErrorCode.EMAIL_TAKEN: 409,
    AuthErrorCode.WEAK_PASSWORD: 422,
    AuthErrorCode.INVALID_CREDENTIALS: 401,
    AuthErrorCode.INVALID_TOKEN: 401,
    AuthErrorCode.THROTTLED: 429,
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
    headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s else {}
    extra = {"errors": [{"field": error.field, "message": error.message}]} if error.field else {}
    return ProblemError(status, error.message, code=error.code.value, headers=headers, extra=extra)


async def _ask(client: AuthRpcClient, command: AuthCommand, retry_after_s: int) -> AuthReply:
    try:
        reply = await client.call(command)
    except AuthUnavailableError as exc:
        raise unavailable(retry_after_s) from exc
    if not reply.ok:
        raise _problem(reply)
    return reply


def _session(reply: AuthReply) -> SessionPublic:
    if reply.tokens is None or reply.user is None:
        raise ProblemError(500, "The authentication service gave an incomplete answer.")
    return SessionPublic(
        **reply.tokens.model_dump(), user=UserPublic(**reply.user.model_dump(mode="json"))
    )


def _client_address(request: Request, trust_forwarded_for: bool) -> str:
    forwarded = request.headers.get("x-forwarded-for") if trust_forwarded_for else None
    if forwarded:
        return forwarded.split(",")[0].strip()[:128]
    return request.client.host if request.client else "unknown"


def auth_router() -> APIRouter:
    """Build the auth routes."""
    router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

    @router.post("/register", status_code=201)
    async def register(body: Registration, client: AuthClient, settings: Settings) -> SessionPublic:
        """Create an account and return its first token pair."""
        command = RegisterUser(
            email=body.email, password=body.password, reply_to=client.reply_topic
        )
        return _session(await _ask(client, command, settings.retry_after_s))

    @router.post("/login")
    async def login(
        body: Credentials, request: Request, client: AuthClient, settings: Settings
    ) -> SessionPublic:
        """Exchange e-mail and password for a token pair."""
        command = AuthenticateUser(
            email=body.email,
            password=body.password,
            client_address=_client_address(request, settings.trust_forwarded_for),
            reply_to=client.reply_topic,
        )
        return _session(await _ask(client, command, settings.retry_after_s))

    @router.post("/refresh")
    async def refresh(body: RefreshTokenIn, client: AuthClient, settings: Settings) -> TokensPublic:
        """Rotate a refresh token: the old one stops working, a new pair is returned."""
        command = RefreshSession(refresh_token=body.refresh_token, reply_to=client.reply_topic)
        reply = await _ask(client, command, settings.retry_after_s)
        if reply.tokens is None:
            raise ProblemError(500, "The authentication service gave an incomplete answer.")
        return TokensPublic(**reply.tokens.model_dump())

    @router.post("/logout", status_code=204)
    async def logout(body: RefreshTokenIn, client: AuthClient, settings: Settings) -> Response:
        """Revoke the refresh token and every token rotated from the same login."""
        command = RevokeSession(refresh_token=body.refresh_token, reply_to=client.reply_topic)
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
    async def delete_me(user: CurrentUser, client: AuthClient, settings: Settings) -> Response:
        """Delete the account; every service then erases what it owns, files included."""
        command = DeleteUser(user_id=user.user_id, reply_to=client.reply_topic)
        await _ask(client, command, settings.retry_after_s)
        return Response(status_code=204)

    return router


def jwks_router() -> APIRouter:
    """``GET /.well-known/jwks.json`` (also under ``/api/v1``)."""
    router = APIRouter(tags=["auth"])

    async def jwks(request: Request, settings: Settings) -> JwksPublic:
        """Return the public keys that verify access tokens."""
        cache: KeyCache = request.app.state.key_cache
        try:
            await cache.ensure_fresh(max_age_s=JWKS_MAX_AGE_S)
        except AuthUnavailableError as exc:
            if not cache.keys:
                raise unavailable(settings.retry_after_s) from exc
        return JwksPublic(keys=cache.keys)

    router.add_api_route("/.well-known/jwks.json", jwks, methods=["GET"])
    router.add_api_route("/api/v1/.well-known/jwks.json", jwks, methods=["GET"])
    return router
