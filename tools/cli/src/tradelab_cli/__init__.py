"""The ``tradelab`` command line client."""
