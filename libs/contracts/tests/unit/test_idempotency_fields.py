"""A job submission's Idempotency-Key travels bounded and always with its request hash."""

from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from tradelab_contracts.engine_rpc import SubmitBacktest

SHA = "a" * 64


def submit(**extra: Any) -> SubmitBacktest:
    return SubmitBacktest(
        reply_to="gateway.rpc.reply-gw-1.v1",
        run_id=UUID(int=1),
        owner_id=UUID(int=2),
        dataset_id=UUID(int=3),
        dataset_uri="file:///bars.parquet",
        dataset_sha256=SHA,
        strategy="sma_cross",
        **extra,
    )


def test_a_submission_without_a_key_carries_no_hash() -> None:
    cmd = submit()

    assert (cmd.idempotency_key, cmd.request_sha256) == (None, None)


@pytest.mark.parametrize("key", ["k", "retry-7f3a:2026-12-07T08:00Z", "~" * 255])
def test_a_key_of_visible_ascii_up_to_255_characters_is_carried(key: str) -> None:
    assert submit(idempotency_key=key, request_sha256=SHA).idempotency_key == key


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\there", "caf\u00e9", "nl\n"])
def test_an_empty_long_or_non_visible_ascii_key_is_refused(key: str) -> None:
    with pytest.raises(ValidationError):
        submit(idempotency_key=key, request_sha256=SHA)


@pytest.mark.parametrize(
    "extra", [{"idempotency_key": "k"}, {"request_sha256": SHA}], ids=["key", "hash"]
)
def test_a_key_and_its_request_hash_travel_together(extra: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="together"):
        submit(**extra)
