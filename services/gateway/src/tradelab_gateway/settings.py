"""Settings of the gateway (environment variables prefixed ``GATEWAY_``)."""

from typing import ClassVar, Self

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from tradelab_contracts.search_limits import DEFAULT_MAX_COMBINATIONS, DEFAULT_MAX_PARAMETER_VALUES
from tradelab_gateway.ratelimit.policy import parse_rates
from tradelab_runtime.settings import ServiceSettings

BACKEND_SERVICES = ("auth", "datasets", "engine", "analytics")


class GatewaySettings(ServiceSettings):
    """Configuration of one gateway replica."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    USES_BUS_KEYS: ClassVar[bool] = True

    service_name: str = "gateway"
    port: int = 8000
    expected_services: tuple[str, ...] = Field(
        default=("gateway", *BACKEND_SERVICES),
        description="Services /system/health lists even before their first heartbeat.",
    )
    rpc_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "How long to wait for a backend service before a 503; also each request's deadline "
            "(past it the service drops the request unanswered)."
        ),
    )
    retry_after_s: int = Field(
        default=5, ge=1, description="Retry-After sent with a 503 when a service does not answer."
    )
    jwks_ttl_s: float = Field(
        default=30.0,
        gt=0,
        le=60,
        description="Most seconds the auth service's public keys are cached: a signing key "
        "removed from AUTH_SIGNING_KEYS stops verifying at the gateway within this time.",
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Removed: refused at start when true; list the proxies' networks in "
        "GATEWAY_TRUSTED_PROXIES instead.",
    )
    trusted_proxies: tuple[IPvAnyNetwork, ...] = Field(
        default=(),
        description="Networks of the reverse proxies in front of the gateway, as a JSON list "
        "('[\"10.0.0.0/8\"]'). Only when the direct peer is inside one is X-Forwarded-For read, "
        "and the client is its right-most hop outside them. Empty: trust none.",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis every replica shares: the rate-limit counts and the ready datasets.",
    )
    rate_limit_prefix: str = Field(
        default="tradelab",
        min_length=1,
        max_length=64,
        description="Prefix of every rate-limit key in Redis (one per deployment or test stack).",
    )
    rate_limit_timeout_s: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="How long to wait for Redis; beyond it, the request is refused with 503.",
    )
    dataset_cache_ttl_s: int = Field(
        default=600,
        ge=1,
        le=86_400,
        description="How long a ready dataset's descriptor (storage URI, hash, timeframe) stays "
        "in Redis for submissions; deletions drop it at once, this bounds a missed one.",
    )
    rate_limit_registration_per_address: str = Field(
        default="5/minute;20/hour",
        description="Registrations from one client address (429 registration_per_address).",
    )
    rate_limit_login_per_address: str = Field(
        default="30/minute",
        description="Login attempts from one client address (429 login_per_address).",
    )
    rate_limit_login_failures_per_account_address: str = Field(
        default="5/15 minutes",
        description="Failed logins for one account from one address; a success clears them "
        "(429 login_failures_per_account_address).",
    )
    rate_limit_login_failures_per_address: str = Field(
        default="20/15 minutes",
        description="Failed logins from one client address, any account "
        "(429 login_failures_per_address).",
    )
    rate_limit_jobs_per_user: str = Field(
        default="60/minute",
        description="Job submissions (every job POST) of one user (429 jobs_per_user).",
    )
    equity_max_points: int = Field(
        default=5000,
        ge=2,
        le=100_000,
        description=(
            "Most points an equity curve answers as JSON (thinned evenly when longer); the full "
            "curve is the streamed /equity/download."
        ),
    )
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=512 * 1024,
        description="Largest request body that is not a file upload (413 beyond): each becomes "
        "one broker message, which holds 1 MiB.",
    )
    max_upload_bytes: int = Field(
        default=500 * 1024 * 1024, gt=0, description="Largest dataset file accepted (413 beyond)."
    )
    quick_max_upload_bytes: int = Field(
        default=50 * 1024 * 1024,
        gt=0,
        description="Largest file a quick backtest accepts (413 beyond).",
    )
    quick_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Time a quick backtest may take once its file is received (408 beyond).",
    )
    heartbeat_timeout_s: float = Field(
        default=10.0, gt=0, description="A service silent for this long is reported down."
    )
    optimization_max_combinations: int = Field(
        default=DEFAULT_MAX_COMBINATIONS,
        ge=1,
        description="Combinations an optimisation may evaluate (grid size, random samples, "
        "population x generations); refused with 422 before the engine is asked. Keep it equal "
        "to ENGINE_OPTIMIZATION_MAX_COMBINATIONS, which the engine enforces again.",
    )
    optimization_max_parameter_values: int = Field(
        default=DEFAULT_MAX_PARAMETER_VALUES,
        ge=1,
        description="Values one parameter's range may hold in an optimisation (422 beyond). Keep "
        "it equal to ENGINE_OPTIMIZATION_MAX_PARAMETER_VALUES.",
    )
    ws_ping_interval_s: float = Field(
        default=15.0, gt=0, description="Seconds between the pings sent on every WebSocket."
    )
    ws_idle_timeout_s: float = Field(
        default=60.0, gt=0, description="A WebSocket silent this long is closed (4408)."
    )
    ws_auth_timeout_s: float = Field(
        default=10.0, gt=0, description="Time a WebSocket has to send its auth message (4408)."
    )
    ws_max_message_bytes: int = Field(
        default=4096,
        ge=1024,
        description="Largest message a WebSocket client may send (1009 beyond); uvicorn refuses "
        "a larger frame before buffering it.",
    )
    ws_outbox_limit: int = Field(
        default=1000,
        ge=400,
        description="Unsent messages one WebSocket may hold (4008 beyond); progress of a job is "
        "coalesced, and the snapshots of 100 active jobs of each kind must fit.",
    )
    ws_max_connections_per_user: int = Field(
        default=10,
        ge=1,
        description="Open WebSockets of one user on one gateway replica (4429 beyond).",
    )

    @field_validator(
        "rate_limit_registration_per_address",
        "rate_limit_login_per_address",
        "rate_limit_login_failures_per_account_address",
        "rate_limit_login_failures_per_address",
        "rate_limit_jobs_per_user",
    )
    @classmethod
    def _check_rates(cls, value: str) -> str:
        parse_rates(value)  # fail at start, not at the first request
        return value

    @model_validator(mode="after")
    def _refuse_trust_forwarded_for(self) -> Self:
        if self.trust_forwarded_for:
            msg = (
                "GATEWAY_TRUST_FORWARDED_FOR is removed (it trusted the client's own entry): "
                "list your proxies' networks in GATEWAY_TRUSTED_PROXIES instead"
            )
            raise ValueError(msg)
        return self
