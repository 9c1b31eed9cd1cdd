"""Build the replica's rate limiter from its settings."""

from tradelab_gateway.settings import GatewaySettings

from .limiter import RateLimiter, redis_storage
from .policy import LimitName, Rule, parse_rates


def rules_from(settings: GatewaySettings) -> dict[LimitName, Rule]:
    """Each limit's rates, read from the ``rate_limit_<name>`` settings."""
    return {
        name: Rule(name, parse_rates(getattr(settings, f"rate_limit_{name.value}")))
        for name in LimitName
    }


def build_rate_limiter(settings: GatewaySettings) -> RateLimiter:
    """A limiter on the Redis of ``settings`` (connections open on first use)."""
    storage, pool = redis_storage(
        settings.redis_url, settings.rate_limit_prefix, settings.rate_limit_timeout_s
    )
    return RateLimiter(storage, rules_from(settings), close=pool.aclose)
