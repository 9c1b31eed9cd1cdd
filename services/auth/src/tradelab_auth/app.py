"""Build the auth service's app from its settings; nothing is created at import time."""

from fastapi import FastAPI

from tradelab_runtime.clock import Clock
from tradelab_runtime.logging import get_logger
from tradelab_runtime.service_app import build_service_app, create_runtime

from .adapters.erasure import SqlAccountEraser
from .adapters.repository import SqlAuthStore
from .adapters.tables import SCHEMA
from .domain.hashing import HashingParams, PasswordHashing
from .domain.keys import KeyRing
from .handlers import register_auth_handler
from .service import AuthDeps
from .service.roles import ensure_configured_admin
from .settings import AuthSettings

MIGRATIONS = "tradelab_auth:migrations"
log = get_logger(__name__)


def load_key_ring(settings: AuthSettings) -> tuple[KeyRing, bool]:
    """Return the configured key ring, or an ephemeral one, and whether it is ephemeral.

    Settings already refuse an empty key list in production, so only development and test
    processes get an ephemeral key.
    """
    pems = settings.signing_keys.get_secret_value()
    if pems.strip():
        return KeyRing.from_pem(pems), False
    return KeyRing.generate(), True


def build_app(settings: AuthSettings, *, clock: Clock | None = None) -> FastAPI:
    """Assemble the auth service: request handler, broker, database, migrations, health.

    Parameters
    ----------
    settings
        The process's settings.
    clock
        Time source; the wall clock when None.
    """
    runtime = create_runtime(settings, clock=clock)
    if runtime.engine is None:  # pragma: no cover - create_runtime opens one by default
        msg = "the auth service needs a database"
        raise RuntimeError(msg)
    # Built here rather than in a start-up hook: the broker starts consuming before the hooks
    # run, and the handler must have its keys from the first message on.
    keys, ephemeral = load_key_ring(settings)
    hashing = PasswordHashing(
        HashingParams(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        )
    )
    # Account deletions store their UserDeleted event with the delete (the outbox).
    outbox = runtime.outbox or runtime.use_outbox(SCHEMA)
    eraser = SqlAccountEraser(runtime.engine, outbox)
    deps = AuthDeps(
        SqlAuthStore(runtime.engine, outbox), runtime.clock, keys, hashing, settings, eraser=eraser
    )
    register_auth_handler(runtime.broker, deps)

    async def configured_admin() -> None:
        await ensure_configured_admin(deps)

    runtime.on_startup.append(configured_admin)

    async def warn_about_ephemeral_key() -> None:
        log.warning(
            "AUTH_SIGNING_KEYS is empty: signing with an ephemeral key; tokens will not survive "
            "a restart and replicas will not accept each other's tokens",
            kid=keys.signing_key.kid,
            environment=settings.environment,
        )

    if ephemeral:
        runtime.on_startup.append(warn_about_ephemeral_key)
    return build_service_app(runtime, migrations=(MIGRATIONS, SCHEMA))
