"""Build the gateway's app from its settings; nothing is created at import time."""

from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from redis.asyncio import Redis

from tradelab_contracts.auth import AuthErrorCode, GetPublicKeys
from tradelab_runtime.service_app import build_service_app, create_runtime
from tradelab_runtime.storage import LocalObjectStore

from .adapters.analytics_rpc import AnalyticsRpcClient
from .adapters.auth_rpc import AuthRpcClient
from .adapters.dataset_cache import DATASET_CACHE, ReadyDatasetCache
from .adapters.datasets_rpc import DatasetsRpcClient
from .adapters.engine_rpc import EngineRpcClient
from .adapters.rpc import attach_rpc
from .api.analytics import analytics_router
from .api.auth import auth_router, jwks_router
from .api.backtests import backtests_router
from .api.datasets import UPLOAD_PATH as DATASET_UPLOAD_PATH
from .api.datasets import datasets_router
from .api.montecarlo import montecarlo_router
from .api.openapi_doc import document_errors
from .api.optimizations import optimizations_router
from .api.performance import performance_router
from .api.problems import install_problem_handlers
from .api.quick import UPLOAD_PATH as QUICK_UPLOAD_PATH
from .api.quick import quick_router
from .api.rate_limits import install_rate_limit_handlers
from .api.service_replies import install_unavailable_handlers
from .api.strategies import strategies_router
from .api.system import system_router
from .api.usage import usage_router
from .api.ws import ws_router
from .domain.hub import EventHub
from .domain.service_registry import ServiceRegistry
from .handlers import (
    register_dataset_cache_subscriber,
    register_heartbeat_subscriber,
    register_job_event_subscriber,
)
from .ratelimit.setup import build_rate_limiter
from .security.body_limit import BodyLimit
from .security.key_cache import JWKS_CACHE, KeyCache, KeyFetcher
from .settings import GatewaySettings


def _key_fetcher(client: AuthRpcClient) -> KeyFetcher:
    async def fetch() -> list[dict[str, Any]]:
        reply = await client.call(GetPublicKeys(reply_to=client.reply_topic))
        if not reply.ok or reply.keys is None:
            code = reply.error.code if reply.error else AuthErrorCode.INTERNAL
            msg = f"auth refused to publish its keys: {code}"
            raise RuntimeError(msg)
        return [k.model_dump(exclude_none=True) for k in reply.keys]

    return fetch


def build_app(settings: GatewaySettings) -> FastAPI:
    """Assemble the gateway: REST routers over a broker; it owns no tables."""
    runtime = create_runtime(settings, with_database=False)
    registry = ServiceRegistry(
        timeout=timedelta(seconds=settings.heartbeat_timeout_s),
        expected=settings.expected_services,
    )
    register_heartbeat_subscriber(runtime.broker, registry, runtime.clock, settings.instance_id)
    hub = EventHub(
        max_per_owner=settings.ws_max_connections_per_user,
        outbox_limit=settings.ws_outbox_limit,
    )
    register_job_event_subscriber(runtime.broker, hub, settings.instance_id)
    dataset_cache = ReadyDatasetCache(
        Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.rate_limit_timeout_s,
            socket_connect_timeout=settings.rate_limit_timeout_s,
        ),
        prefix=settings.rate_limit_prefix,
        ttl_s=settings.dataset_cache_ttl_s,
        stats=runtime.metrics.cache(DATASET_CACHE),
    )
    register_dataset_cache_subscriber(runtime.broker, dataset_cache)
    rpc = attach_rpc(runtime, settings.rpc_timeout_s)
    auth_client = AuthRpcClient(rpc, settings.bus_keyring())
    app = build_service_app(
        runtime,
        migrations=None,
        routers=[
            system_router(registry, runtime.clock),
            auth_router(),
            jwks_router(),
            datasets_router(),
            strategies_router(),
            backtests_router(),
            analytics_router(),
            ws_router(),
            montecarlo_router(),
            optimizations_router(),
            usage_router(),
            performance_router(registry, runtime.clock),
        ],
    )
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        upload_paths=(DATASET_UPLOAD_PATH, QUICK_UPLOAD_PATH),
    )
    app.state.settings = settings
    app.state.rpc = rpc
    app.state.event_hub = hub
    app.state.auth_client = auth_client
    app.state.datasets_client = DatasetsRpcClient(rpc)
    app.state.engine_client = EngineRpcClient(rpc)
    app.state.analytics_client = AnalyticsRpcClient(rpc)
    app.state.object_store = LocalObjectStore.from_url(settings.object_store_url)
    app.state.key_cache = KeyCache(
        _key_fetcher(auth_client),
        ttl_s=settings.jwks_ttl_s,
        stats=runtime.metrics.cache(JWKS_CACHE),
    )
    app.state.rate_limiter = limiter = build_rate_limiter(settings)
    runtime.on_shutdown.append(limiter.aclose)
    app.state.dataset_cache = dataset_cache
    runtime.after_stop.append(dataset_cache.aclose)
    app.include_router(quick_router())
    install_problem_handlers(app)
    document_errors(app)
    install_unavailable_handlers(app, settings.retry_after_s)
    install_rate_limit_handlers(app, settings.retry_after_s)
    return app
