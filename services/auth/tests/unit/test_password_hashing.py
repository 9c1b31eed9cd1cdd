from argon2 import extract_parameters

from tradelab_auth.domain.hashing import HashingParams, PasswordHashing

PARAMS = HashingParams(time_cost=2, memory_cost=9216, parallelism=1)


def test_defaults_are_the_documented_argon2id_costs() -> None:
    assert HashingParams() == HashingParams(time_cost=3, memory_cost=65536, parallelism=1)


def test_hash_is_argon2id_with_the_configured_costs() -> None:
    stored = PasswordHashing(PARAMS).hash("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "$m=9216,t=2,p=1$" in stored
    params = extract_parameters(stored)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (2, 9216, 1)


def test_right_password_verifies_and_wrong_one_does_not() -> None:
    hashing = PasswordHashing(PARAMS)
    stored = hashing.hash("correct horse battery staple")
    assert hashing.verify(stored, "correct horse battery staple")
    assert not hashing.verify(stored, "correct horse battery stapler")


def test_missing_account_never_verifies_even_with_any_password() -> None:
    hashing = PasswordHashing(PARAMS)
    assert not hashing.verify(None, "")
    assert not hashing.verify(None, "correct horse battery staple")


def test_corrupt_stored_hash_does_not_verify() -> None:
    assert not PasswordHashing(PARAMS).verify("not-a-phc-string", "whatever-password")


def test_hash_made_with_other_costs_needs_rehash() -> None:
    old = PasswordHashing(HashingParams(time_cost=1, memory_cost=8192, parallelism=1))
    stored = old.hash("correct horse battery staple")
    assert not old.needs_rehash(stored)
    assert PasswordHashing(PARAMS).needs_rehash(stored)
