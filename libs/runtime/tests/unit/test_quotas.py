"""A quota admits up to its limit and refuses past it, naming the quota, usage and limit."""

import pytest

from tradelab_contracts.quotas import Quota, QuotaUsage
from tradelab_runtime.quotas import QuotaExceededError, check, refusal_message


def test_a_request_that_fills_the_quota_exactly_is_admitted() -> None:
    check(Quota.BACKTESTS, usage=49, requested=1, limit=50)
    check(Quota.STORED_BYTES, usage=0, requested=5 * 1024**3, limit=5 * 1024**3)


def test_one_more_than_the_limit_is_refused_with_usage_limit_and_request() -> None:
    with pytest.raises(QuotaExceededError) as refused:
        check(Quota.BACKTESTS, usage=50, requested=1, limit=50)
    assert refused.value.usage == QuotaUsage(quota=Quota.BACKTESTS, usage=50, limit=50, requested=1)


def test_a_single_request_larger_than_the_whole_limit_is_refused_on_an_empty_account() -> None:
    with pytest.raises(QuotaExceededError) as refused:
        check(Quota.MONTE_CARLO_SIMULATION_BARS, usage=0, requested=60_000_000, limit=50_000_000)
    assert refused.value.usage.requested == 60_000_000
    assert refused.value.usage.usage == 0


def test_the_message_states_the_quota_and_the_numbers() -> None:
    usage = QuotaUsage(quota=Quota.STORED_BYTES, usage=1_000, limit=1_500, requested=600)
    message = refusal_message(usage)
    assert "'stored_bytes'" in message
    assert "1,000 bytes in use" in message
    assert "600 more requested" in message
    assert "1,500 allowed" in message


def test_every_quota_has_a_readable_message() -> None:
    for quota in Quota:
        message = refusal_message(QuotaUsage(quota=quota, usage=3, limit=3, requested=1))
        assert f"'{quota.value}'" in message
        assert "3 allowed" in message
