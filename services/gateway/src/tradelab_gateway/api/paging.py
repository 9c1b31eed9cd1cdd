"""Query parameters shared by the list endpoints."""

from typing import Annotated

from fastapi import Query

MAX_OFFSET = 1_000_000_000
"""Far past any list a user can have, and well inside PostgreSQL's and polars' 64-bit offsets:
an offset of 2.3e20 was a 500 (found by tests/e2e/test_openapi_fuzz.py)."""

Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (at most 1,000,000,000).")
]
Fold = Annotated[int | None, Query(ge=0, le=MAX_OFFSET, description="One walk-forward fold only")]
