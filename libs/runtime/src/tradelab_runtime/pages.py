"""Pages of a list reply that fit in one broker message, whatever their items hold.

A page holds at most the ``limit`` asked for, and fewer when the items' JSON would not fit in
`page_budget` bytes: an item's size depends on what its owner put in it (a rule strategy's
parameters, a search's listed choices), so no fixed page size both fits every page and serves
small items well. The reply's ``total`` still counts every match; a client continues from
``offset + len(items)``.
"""

from collections.abc import Sequence
from typing import TypeVar

from pydantic import BaseModel

from .responder import DEFAULT_MAX_MESSAGE_BYTES, HEADROOM_BYTES, json_bytes

ENVELOPE_BYTES = 64 * 1024
"""Kept free of a page's items for the rest of the reply (ids, totals, an optimisation's info)."""

Item = TypeVar("Item", bound=BaseModel)


def page_budget(max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> int:
    """Return the bytes a page's items may take in a reply under ``max_message_bytes``."""
    return max_message_bytes - HEADROOM_BYTES - ENVELOPE_BYTES


def fit_page(items: Sequence[Item], budget_bytes: int) -> list[Item]:
    """Return the longest prefix of ``items`` whose JSON takes at most ``budget_bytes``.

    The first item is always kept, so a page never comes back empty while items remain: one item
    too large on its own is left to the responder, which answers ``reply_too_large``.
    """
    kept: list[Item] = []
    used = 0
    for item in items:
        # Bytes, not characters: a name in another script takes two to four bytes a character.
        used += len(json_bytes(item)) + 1  # the separating comma
        if kept and used > budget_bytes:
            break
        kept.append(item)
    return kept
