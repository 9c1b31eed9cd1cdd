"""A list reply's page is cut to what fits in one broker message, never to nothing."""

from pydantic import BaseModel

from tradelab_runtime.pages import ENVELOPE_BYTES, fit_page, page_budget
from tradelab_runtime.responder import DEFAULT_MAX_MESSAGE_BYTES, HEADROOM_BYTES


class Item(BaseModel):
    text: str


def item_of_bytes(size: int) -> Item:
    """An item whose JSON takes ``size`` bytes (``{"text":""}`` is 11)."""
    return Item(text="x" * (size - 11))


def test_items_that_fit_are_all_kept() -> None:
    items = [item_of_bytes(99) for _ in range(10)]
    assert fit_page(items, 1000) == items  # 10 * (99 + a comma)


def test_the_page_stops_before_the_item_that_would_not_fit() -> None:
    items = [item_of_bytes(99) for _ in range(11)]
    assert len(fit_page(items, 1000)) == 10


def test_the_budget_counts_bytes_not_characters() -> None:
    items = [Item(text="é" * 44) for _ in range(10)]  # 55 characters of JSON, 99 bytes
    assert fit_page(items, 1000) == items
    assert len(fit_page([*items, items[0]], 1000)) == 10


def test_one_item_larger_than_the_budget_is_still_answered() -> None:
    big = item_of_bytes(5000)
    assert fit_page([big, item_of_bytes(20)], 1000) == [big]


def test_an_empty_page_stays_empty() -> None:
    assert fit_page([], 1000) == []


def test_the_budget_leaves_room_for_headers_and_the_rest_of_the_reply() -> None:
    assert page_budget() == DEFAULT_MAX_MESSAGE_BYTES - HEADROOM_BYTES - ENVELOPE_BYTES
    assert page_budget(2 * 1024 * 1024) == page_budget() + 1024 * 1024
