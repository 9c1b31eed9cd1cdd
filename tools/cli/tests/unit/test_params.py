import pytest

from tradelab_cli.params import ParamError, parse_params, parse_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", 10),
        ("-3", -3),
        ("0.5", 0.5),
        ("1e-3", 0.001),
        ("true", True),
        ("False", False),
        ("close", "close"),
        ("nan", "nan"),
        ("inf", "inf"),
        ("", ""),
    ],
)
def test_values_become_int_float_bool_or_string(text: str, expected: object) -> None:
    value = parse_value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_repeated_params_build_one_parameters_object() -> None:
    assert parse_params(["fast=10", "slow=50", "source=close", "long_only=true"]) == {
        "fast": 10,
        "slow": 50,
        "source": "close",
        "long_only": True,
    }


def test_value_keeps_equal_signs_after_the_first() -> None:
    assert parse_params(["expr=a=b"]) == {"expr": "a=b"}


@pytest.mark.parametrize("items", [["fast"], ["=10"], ["fast=1", "fast=2"]])
def test_malformed_or_repeated_params_are_refused(items: list[str]) -> None:
    with pytest.raises(ParamError):
        parse_params(items)
