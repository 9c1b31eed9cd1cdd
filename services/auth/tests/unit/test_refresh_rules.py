from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from tradelab_auth.domain.refresh import (
    RefreshToken,
    RefreshVerdict,
    hash_refresh_token,
    judge_refresh,
    new_refresh_token,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def token(
    expires_at: datetime = NOW + timedelta(days=29),
    rotated_at: datetime | None = None,
    revoked_at: datetime | None = None,
) -> RefreshToken:
    return RefreshToken(
        id=uuid4(),
        user_id=uuid4(),
        family_id=uuid4(),
        token_hash="0" * 64,
        issued_at=NOW - timedelta(days=1),
        expires_at=expires_at,
        rotated_at=rotated_at,
        revoked_at=revoked_at,
    )


def test_new_refresh_tokens_are_long_random_and_distinct() -> None:
    tokens = {new_refresh_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 43 for t in tokens)  # 32 bytes, base64url


def test_stored_form_is_the_sha256_hex_digest() -> None:
    assert hash_refresh_token("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_live_token_is_rotated() -> None:
    assert judge_refresh(token(), NOW) is RefreshVerdict.ROTATE


def test_unknown_token_is_invalid() -> None:
    assert judge_refresh(None, NOW) is RefreshVerdict.INVALID


def test_expired_token_is_invalid_from_its_expiry_instant() -> None:
    assert judge_refresh(token(expires_at=NOW), NOW) is RefreshVerdict.INVALID


def test_revoked_token_is_invalid() -> None:
    assert judge_refresh(token(revoked_at=NOW), NOW) is RefreshVerdict.INVALID


def test_already_rotated_token_is_a_replay() -> None:
    assert judge_refresh(token(rotated_at=NOW), NOW) is RefreshVerdict.REUSE_DETECTED


def test_replay_of_an_expired_rotated_token_is_still_a_replay() -> None:
    stale = token(rotated_at=NOW - timedelta(days=40), expires_at=NOW - timedelta(days=10))
    assert judge_refresh(stale, NOW) is RefreshVerdict.REUSE_DETECTED


@pytest.mark.parametrize("rotated_at", [None, NOW])
def test_revoked_wins_over_everything(rotated_at: datetime | None) -> None:
    assert judge_refresh(token(revoked_at=NOW, rotated_at=rotated_at), NOW) is (
        RefreshVerdict.INVALID
    )
