"""The progress line of long runs: plain lines with the ETA when stderr is not a terminal.

Serial: the progress line prints from rank 0 only (by design), so under mpiexec the other rank
has nothing to check.
"""

from __future__ import annotations

import io
import logging

import pytest

from fem_electrode.util.log import Progress, get_logger

pytestmark = pytest.mark.serial


def test_plain_lines_with_eta_when_not_a_terminal(monkeypatch):
    logger = get_logger()
    monkeypatch.setattr(logger, "level", logging.INFO)
    clock = iter([0.0, 0.0, 0.0, 10.0, 20.0, 30.0])
    monkeypatch.setattr("fem_electrode.util.log.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = Progress(100.0, "run", lambda: "cycle 1/1 charge", log_interval=5.0, stream=stream)
    progress.update(0.0)  # t = 0: the start (ETA unknown)
    progress.update(25.0)  # t = 10 s: 25 % done at 2.5 /s → 30 s left
    progress.update(50.0)  # t = 20 s: 50 % → 20 s left
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert "ETA ?" in lines[0]
    assert " 25.0%" in lines[1] and "0:00:10 elapsed" in lines[1] and "ETA 0:00:30" in lines[1]
    assert "ETA 0:00:20" in lines[2] and lines[2].endswith("cycle 1/1 charge")
