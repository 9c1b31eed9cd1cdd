"""Command groups of the ``tradelab`` client."""
