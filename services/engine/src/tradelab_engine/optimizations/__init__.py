"""Parameter optimisations: request/reply use cases, the chunk worker and genetic evolver, their
repository and their job kind on the shared lifecycle (``lifecycle/``)."""
