"""Pure pieces of the job runner: the result cache key and the progress throttle."""

from tradelab_engine.domain.cache_key import cache_key
from tradelab_engine.lifecycle.progress import ProgressThrottle

SHA = "a" * 64


def test_cache_key_ignores_dict_order_but_not_values() -> None:
    first = cache_key(SHA, "sma_cross", {"fast": 10, "slow": 50}, {"fee_rate": 0.001}, "0.1.0")
    same = cache_key(SHA, "sma_cross", {"slow": 50, "fast": 10}, {"fee_rate": 0.001}, "0.1.0")
    assert first == same
    assert first != cache_key(
        SHA, "sma_cross", {"fast": 11, "slow": 50}, {"fee_rate": 0.001}, "0.1.0"
    )
    assert first != cache_key(
        SHA, "sma_cross", {"fast": 10, "slow": 50}, {"fee_rate": 0.002}, "0.1.0"
    )
    assert first != cache_key(
        SHA, "sma_cross", {"fast": 10, "slow": 50}, {"fee_rate": 0.001}, "0.2.0"
    )
    assert first != cache_key(
        "b" * 64, "sma_cross", {"fast": 10, "slow": 50}, {"fee_rate": 0.001}, "0.1.0"
    )


def test_progress_is_reported_only_when_both_5_percent_and_half_a_second_passed() -> None:
    throttle = ProgressThrottle(last_fraction=0.0, last_time=0.0)
    assert not throttle.due(0.04, 10.0)  # enough time, too little progress
    assert not throttle.due(0.50, 0.3)  # enough progress, too soon
    assert throttle.due(0.50, 0.6)
    assert not throttle.due(0.52, 5.0)
    assert throttle.due(0.56, 1.2)
    assert (throttle.last_fraction, throttle.last_time) == (0.56, 1.2)
