"""The result cache key: identical inputs and engine version give the identical result."""

import hashlib
import json
from typing import Any


def cache_key(
    dataset_sha256: str,
    strategy: str,
    parameters: dict[str, Any],
    options: dict[str, Any],
    engine_version: str,
) -> str:
    """Return the SHA-256 of the canonical JSON of everything that determines a result."""
    canonical = json.dumps(
        {
            "dataset": dataset_sha256,
            "strategy": strategy,
            "parameters": parameters,
            "options": options,
            "engine": engine_version,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
