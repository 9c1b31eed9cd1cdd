"""Sealing secrets for the bus: round trips, rotation, and every way a seal must refuse."""

import base64
from uuid import UUID, uuid4

import pytest

from tradelab_contracts.auth import RefreshSession, RegisterUser, TokenPair
from tradelab_contracts.sealed import SealedSecret
from tradelab_contracts.topics import reply_topic
from tradelab_runtime.sealing import BusKeys, SealingError

OLD = BusKeys.generate_entry("2026-01")
NEW = BusKeys.generate_entry("2026-07")
MESSAGE = UUID(int=7)
PASSWORD = "correct horse battery staple"
REPLY = reply_topic("unit")


def test_sealed_value_opens_to_the_clear_value_and_does_not_contain_it() -> None:
    keys = BusKeys.parse(OLD)
    sealed = keys.seal(PASSWORD, message_id=MESSAGE, field_name="password")
    assert sealed.kid == "2026-01"
    assert PASSWORD not in sealed.model_dump_json()
    assert keys.open(sealed, message_id=MESSAGE, field_name="password") == PASSWORD


def test_sealing_twice_gives_different_ciphertexts() -> None:
    keys = BusKeys.parse(OLD)
    first = keys.seal(PASSWORD, message_id=MESSAGE, field_name="password")
    second = keys.seal(PASSWORD, message_id=MESSAGE, field_name="password")
    assert (first.nonce, first.ciphertext) != (second.nonce, second.ciphertext)


def test_rotation_new_key_seals_and_the_old_one_still_opens() -> None:
    before = BusKeys.parse(OLD)
    during = BusKeys.parse(f"{NEW},{OLD}")
    in_flight = before.seal(PASSWORD, message_id=MESSAGE, field_name="password")
    fresh = during.seal(PASSWORD, message_id=MESSAGE, field_name="password")
    assert fresh.kid == "2026-07"
    assert during.open(in_flight, message_id=MESSAGE, field_name="password") == PASSWORD
    assert during.open(fresh, message_id=MESSAGE, field_name="password") == PASSWORD


def test_a_key_dropped_after_rotation_no_longer_opens_what_it_sealed() -> None:
    old_seal = BusKeys.parse(OLD).seal(PASSWORD, message_id=MESSAGE, field_name="password")
    after = BusKeys.parse(NEW)
    with pytest.raises(SealingError, match="no bus key with id '2026-01'"):
        after.open(old_seal, message_id=MESSAGE, field_name="password")


def test_another_key_under_the_same_id_does_not_open() -> None:
    sealed = BusKeys.parse(OLD).seal(PASSWORD, message_id=MESSAGE, field_name="password")
    impostor = BusKeys.parse(BusKeys.generate_entry("2026-01"))
    with pytest.raises(SealingError, match="does not open"):
        impostor.open(sealed, message_id=MESSAGE, field_name="password")


@pytest.mark.parametrize("position", [0, 10, -1])
def test_tampered_ciphertext_does_not_open(position: int) -> None:
    keys = BusKeys.parse(OLD)
    sealed = keys.seal(PASSWORD, message_id=MESSAGE, field_name="password")
    text = list(sealed.ciphertext)
    text[position] = "A" if text[position] != "A" else "B"
    tampered = sealed.model_copy(update={"ciphertext": "".join(text)})
    with pytest.raises(SealingError):
        keys.open(tampered, message_id=MESSAGE, field_name="password")


@pytest.mark.parametrize(
    ("message_id", "field_name"),
    [(uuid4(), "password"), (MESSAGE, "refresh_token")],
    ids=["another message", "another field"],
)
def test_ciphertext_moved_to_another_message_or_field_does_not_open(
    message_id: UUID, field_name: str
) -> None:
    keys = BusKeys.parse(OLD)
    sealed = keys.seal(PASSWORD, message_id=MESSAGE, field_name="password")
    with pytest.raises(SealingError, match="does not open"):
        keys.open(sealed, message_id=message_id, field_name=field_name)


def test_command_seals_its_secrets_for_its_own_message_id() -> None:
    keys = BusKeys.parse(OLD)
    cmd = keys.command(RegisterUser, {"password": PASSWORD}, email="a@b.c", reply_to=REPLY)
    assert isinstance(cmd.password, SealedSecret)
    assert keys.open(cmd.password, message_id=cmd.message_id, field_name="password") == PASSWORD
    assert PASSWORD not in cmd.model_dump_json()
    assert PASSWORD not in repr(cmd)


def test_token_pair_round_trips_and_is_bound_to_its_reply() -> None:
    keys = BusKeys.parse(OLD)
    pair = TokenPair(access_token="a.b.c", refresh_token="opaque-token-value", expires_in=900)
    sealed = keys.seal_tokens(pair, MESSAGE)
    assert keys.open_tokens(sealed, MESSAGE) == pair
    swapped = sealed.model_copy(
        update={"access_token": sealed.refresh_token, "refresh_token": sealed.access_token}
    )
    with pytest.raises(SealingError):  # fields cannot be swapped either
        keys.open_tokens(swapped, MESSAGE)


def test_refresh_command_repr_names_only_the_key_id() -> None:
    keys = BusKeys.parse(OLD)
    cmd = keys.command(RefreshSession, {"refresh_token": "opaque-token-value"}, reply_to=REPLY)
    assert cmd.refresh_token.ciphertext not in repr(cmd)
    assert "2026-01" in repr(cmd)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("k1", "kid:base64key"),
        ("k1:not base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "must be 32 bytes"),
        ("k1:" + "A" * 43 + "=", "not random"),
        (f"{OLD},{OLD}", "distinct"),
        ("", "at least one"),
    ],
)
def test_malformed_key_settings_are_refused(value: str, reason: str) -> None:
    with pytest.raises(SealingError, match=reason):
        BusKeys.parse(value)


def test_standard_base64_keys_are_accepted_and_repr_hides_them() -> None:
    encoded = base64.b64encode(bytes(range(200, 232))).decode()
    assert "+" in encoded or "/" in encoded  # the standard alphabet, not the URL-safe one
    keys = BusKeys.parse(f" k1:{encoded} ")
    assert keys.kids == ("k1",)
    assert encoded not in repr(keys)


def test_a_clear_token_pair_does_not_show_its_tokens_in_repr() -> None:
    pair = TokenPair(access_token="a.b.c", refresh_token="opaque-token-value", expires_in=900)
    assert "opaque-token-value" not in repr(pair)
    assert "a.b.c" not in repr(pair)
