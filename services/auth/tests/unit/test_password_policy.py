import pytest

from tradelab_auth.domain.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    normalise_email,
    password_problem,
)

EMAIL = "Ann.Lee@Example.org"


def test_email_is_normalised_by_stripping_and_lower_casing() -> None:
    assert normalise_email("  Ann.Lee@Example.ORG \n") == "ann.lee@example.org"


@pytest.mark.parametrize(
    "password",
    ["x" * MIN_PASSWORD_LENGTH, "x" * MAX_PASSWORD_LENGTH, "correct horse battery staple"],
)
def test_password_within_length_bounds_is_accepted(password: str) -> None:
    assert password_problem(password, EMAIL) is None


def test_password_one_character_too_short_is_refused_with_the_minimum() -> None:
    problem = password_problem("x" * (MIN_PASSWORD_LENGTH - 1), EMAIL)
    assert problem is not None
    assert str(MIN_PASSWORD_LENGTH) in problem


def test_password_one_character_too_long_is_refused_with_the_maximum() -> None:
    problem = password_problem("x" * (MAX_PASSWORD_LENGTH + 1), EMAIL)
    assert problem is not None
    assert str(MAX_PASSWORD_LENGTH) in problem


def test_length_counts_characters_not_bytes() -> None:
    assert password_problem("é" * MIN_PASSWORD_LENGTH, EMAIL) is None


@pytest.mark.parametrize(
    "password", ["ann.lee@example.org", "ANN.LEE@EXAMPLE.ORG", " Ann.Lee@Example.org "]
)
def test_password_equal_to_the_email_in_any_case_is_refused(password: str) -> None:
    assert password_problem(password, EMAIL) is not None


def test_password_equal_to_the_local_part_is_refused() -> None:
    email = "alexandrina.victoria@example.org"
    assert password_problem("Alexandrina.Victoria", email) is not None


def test_password_merely_containing_the_local_part_is_accepted() -> None:
    email = "alexandrina@example.org"
    assert password_problem("alexandrina-rules-2026", email) is None
