"""Dependencies shared by the gateway's routes (``CurrentUser``, the auth client)."""

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tradelab_contracts.auth import UserRole
from tradelab_gateway.adapters.auth_rpc import AuthRpcClient, AuthUnavailableError
from tradelab_gateway.adapters.dataset_cache import ReadyDatasetCache
from tradelab_gateway.api.problems import ProblemError, invalid_fields
from tradelab_gateway.domain.idempotency import InvalidIdempotencyKeyError, checked_key
from tradelab_gateway.ratelimit.client_address import client_address
from tradelab_gateway.ratelimit.limiter import RateLimiter
from tradelab_gateway.security.key_cache import KeyCache
from tradelab_gateway.security.tokens import InvalidTokenError, Principal, key_id, verify
from tradelab_gateway.settings import GatewaySettings

_bearer = HTTPBearer(auto_error=False)
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="tradelab"'}


def unauthorized(detail: str) -> ProblemError:
    """A 401 that tells the client to authenticate with a bearer token."""
    return ProblemError(401, detail, code="unauthorized", headers=UNAUTHORIZED_HEADERS)


def unavailable(retry_after_s: int, service: str = "auth") -> ProblemError:
    """A 503 for a backend service that did not answer."""
    return ProblemError(
        503,
        f"The {service} service is not answering; retry shortly.",
        code=f"{service}_unavailable",
        headers={"Retry-After": str(retry_after_s)},
    )


def get_auth_client(request: Request) -> AuthRpcClient:
    """The replica's auth request/reply client."""
    client: AuthRpcClient = request.app.state.auth_client
    return client


def get_settings(request: Request) -> GatewaySettings:
    """The gateway's settings."""
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_rate_limiter(request: Request) -> RateLimiter:
    """The replica's rate limiter (its counts live in the shared Redis)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


def get_dataset_cache(request: Request) -> ReadyDatasetCache:
    """The ready datasets every replica shares (Redis)."""
    cache: ReadyDatasetCache = request.app.state.dataset_cache
    return cache


DatasetCache = Annotated[ReadyDatasetCache, Depends(get_dataset_cache)]


def get_client_address(request: Request) -> str:
    """The client's address, read through the trusted proxies (GATEWAY_TRUSTED_PROXIES)."""
    settings = get_settings(request)
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, settings.trusted_proxies)


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Verify the bearer access token locally; every failure is the same 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("Missing bearer access token.")
    settings = get_settings(request)
    keys: KeyCache = request.app.state.key_cache
    try:
        kid = key_id(credentials.credentials)
        jwk = await keys.get(kid)
        if jwk is None:
            raise InvalidTokenError("unknown key")
        return verify(
            credentials.credentials,
            jwk,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    except InvalidTokenError as exc:
        raise unauthorized("Invalid or expired access token.") from exc
    except AuthUnavailableError as exc:
        raise unavailable(settings.retry_after_s) from exc


async def current_admin(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    """The verified user, if an admin; 403 ``forbidden`` for anyone else (401 without a token).

    The role is the token's: a promotion or demotion shows from the user's next token.
    """
    if user.role is not UserRole.ADMIN:
        raise ProblemError(403, "This needs an administrator's token.", code="forbidden")
    return user


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Retry safely: a second submission with the same key (1-255 visible "
            "ASCII characters) answers the job the first created; with another body it is "
            "refused with 422 idempotency_key_reused.",
        ),
    ] = None,
) -> str | None:
    """The job submission's ``Idempotency-Key``, if sent; 422 when malformed."""
    try:
        return checked_key(key)
    except InvalidIdempotencyKeyError as exc:
        errors = [{"field": "Idempotency-Key", "message": str(exc)}]
        raise invalid_fields(errors, str(exc)) from exc


CurrentUser = Annotated[Principal, Depends(current_user)]
AdminUser = Annotated[Principal, Depends(current_admin)]
IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
AuthClient = Annotated[AuthRpcClient, Depends(get_auth_client)]
Settings = Annotated[GatewaySettings, Depends(get_settings)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
ClientAddress = Annotated[str, Depends(get_client_address)]
