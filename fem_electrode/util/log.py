"""Logging that prints from MPI rank 0 only, and a rank-0 progress bar for long loops."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

LOGGER_NAME = "fem_electrode"


def _rank() -> int:
    # Avoid importing mpi4py just for logging when it has not been imported yet.
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"):
        if var in os.environ:
            return int(os.environ[var])
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.rank
    return 0


class _RankZeroFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _rank() == 0


def get_logger(name: str | None = None) -> logging.Logger:
    """The package logger (or a child ``fem_electrode.<name>``)."""
    return logging.getLogger(LOGGER_NAME if not name else f"{LOGGER_NAME}.{name}")


def setup_logging(verbosity: int = 0, logfile: str | os.PathLike[str] | None = None) -> None:
    """Configure the package logger: -1 quiet (warnings), 0 info, 1+ debug; rank 0 only."""
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    logger = get_logger()
    logger.setLevel(level)
    logger.handlers.clear()
    logger.propagate = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(_RankZeroFilter())
    logger.addHandler(handler)
    if logfile is not None:
        add_logfile(logfile)


def add_logfile(path: str | os.PathLike[str]) -> logging.Handler:
    """Also log (rank 0, debug level, timestamped) to ``path``; returns the handler."""
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RankZeroFilter())
    get_logger().addHandler(handler)
    return handler


class Progress:
    """A one-line progress bar on rank 0 (stderr); plain log lines when not a terminal.

    ``total`` is the end value of whatever is counted (steps, seconds of simulated time);
    ``describe`` returns extra text (e.g. voltage and state of charge) for the current state.
    """

    def __init__(self, total: float, label: str, describe: Callable[[], str] | None = None,
                 min_interval: float = 0.5, stream=None):
        self.total = float(total)
        self.label = label
        self.describe = describe
        self.stream = stream or sys.stderr
        self.enabled = _rank() == 0 and get_logger().isEnabledFor(logging.INFO)
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval = min_interval if self.tty else max(min_interval, 10.0)
        self._last = 0.0
        self._t0 = time.perf_counter()

    def update(self, value: float, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        frac = min(max(value / self.total, 0.0), 1.0) if self.total > 0 else 1.0
        bar = "#" * int(frac * 24)
        extra = f" {self.describe()}" if self.describe else ""
        line = f"{self.label} [{bar:<24}] {100 * frac:5.1f}% {now - self._t0:7.1f} s{extra}"
        if self.tty:
            self.stream.write("\r" + line[:160])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
