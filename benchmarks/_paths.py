"""Puts ``tests/`` on ``sys.path``: the benchmarks reuse the test helpers (layered boxes, builders)."""

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
