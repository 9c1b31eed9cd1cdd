"""Monte Carlo studies: use cases, the worker (a priority queue in PostgreSQL), the repository of
``engine.monte_carlo``, the job kind on the shared lifecycle, sources and files."""
