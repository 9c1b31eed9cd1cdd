"""The load test's modules are scripts beside their runner (``bench/load``), not a package: its
pure helpers are imported from there."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "load"))
