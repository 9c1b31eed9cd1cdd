"""``--param key=value`` parsing: values become int, float, bool or stay strings."""

import math

BOOLEANS = {"true": True, "false": False}
Value = bool | int | float | str


class ParamError(ValueError):
    """A ``--param`` that is not ``key=value`` or repeats a key."""


def parse_value(text: str) -> Value:
    """Return ``text`` as bool (true/false), int, finite float, or the string itself."""
    lowered = text.strip().lower()
    if lowered in BOOLEANS:
        return BOOLEANS[lowered]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    # "nan" and "inf" parse as floats but no strategy parameter means them: keep the string.
    return number if math.isfinite(number) else text


def parse_params(items: list[str]) -> dict[str, Value]:
    """Parse repeated ``key=value`` items into a parameters object."""
    params: dict[str, Value] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParamError(f"expected key=value, got {item!r}")
        if key in params:
            raise ParamError(f"parameter {key!r} given twice")
        params[key] = parse_value(raw)
    return params
