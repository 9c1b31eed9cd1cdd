"""Local stack tooling: ``tradelab-dev up`` and the pytest fixtures for real infrastructure."""
