from datetime import UTC, datetime, timedelta

from tradelab_auth.domain.throttle import (
    ThrottleLimits,
    email_key,
    ip_key,
    retry_after_s,
    throttle_wait,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=900)
LIMITS = ThrottleLimits(max_per_email=3, max_per_ip=5, window=WINDOW)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_keys_name_their_kind() -> None:
    assert email_key("ann@example.org") == "email:ann@example.org"
    assert ip_key("10.0.0.7") == "ip:10.0.0.7"


def test_below_the_limit_a_login_may_go_ahead() -> None:
    assert retry_after_s([ago(10), ago(20)], 3, WINDOW, NOW) is None


def test_at_the_limit_the_wait_lasts_until_the_oldest_failure_leaves_the_window() -> None:
    # The oldest counted failure happened 600 s ago: it leaves the 900 s window in 300 s.
    assert retry_after_s([ago(10), ago(600), ago(20)], 3, WINDOW, NOW) == 300


def test_failures_outside_the_window_do_not_count() -> None:
    assert retry_after_s([ago(10), ago(20), ago(900), ago(5000)], 3, WINDOW, NOW) is None


def test_the_window_slides_so_the_key_is_free_once_the_oldest_failure_expires() -> None:
    failures = [ago(100), ago(200), ago(300)]
    assert retry_after_s(failures, 3, WINDOW, NOW) == 600
    later = NOW + timedelta(seconds=599)
    assert retry_after_s(failures, 3, WINDOW, later) == 1
    assert retry_after_s(failures, 3, WINDOW, NOW + timedelta(seconds=600)) is None


def test_fractional_waits_round_up_and_never_go_below_one_second() -> None:
    assert retry_after_s([ago(899.5)], 1, WINDOW, NOW) == 1
    assert retry_after_s([ago(100.25)], 1, WINDOW, NOW) == 800


def test_above_the_limit_the_wait_lasts_until_the_count_drops_below_it() -> None:
    # Four failures, limit three: two must leave; the second oldest (400 s ago) frees the key.
    failures = [ago(800), ago(400), ago(30), ago(10)]
    assert retry_after_s(failures, 3, WINDOW, NOW) == 500


def test_either_key_at_its_limit_blocks_and_the_longer_wait_wins() -> None:
    email_failures = [ago(100), ago(200), ago(300)]  # at limit 3: wait 600
    ip_failures = [ago(50)] * 5  # at limit 5: wait 850
    assert throttle_wait(email_failures, [], LIMITS, NOW) == 600
    assert throttle_wait([], ip_failures, LIMITS, NOW) == 850
    assert throttle_wait(email_failures, ip_failures, LIMITS, NOW) == 850
    assert throttle_wait(email_failures[:2], ip_failures[:4], LIMITS, NOW) is None
