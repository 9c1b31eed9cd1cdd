"""Backtests: use cases (submit, list, get, cancel, delete), the worker that runs a run, the
repository of ``engine.runs``, the job kind on the shared lifecycle, and quick backtests."""
