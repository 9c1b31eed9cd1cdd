"""Per-user quotas the engine enforces: active jobs of each kind, Monte Carlo work, saved
strategies (limits in ``limits.py``, counted and held in ``repository.py``, usage reported by
``use_cases.py``)."""
