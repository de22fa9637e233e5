"""Logging that prints from MPI rank 0 only, and a rank-0 progress bar for long loops."""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

LOGGER_NAME = "fem_electrode"


def rank() -> int:
    """This process's rank in MPI_COMM_WORLD (0 without MPI), read without importing mpi4py."""
    # Avoid importing mpi4py just for logging when it has not been imported yet.
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"):
        if var in os.environ:
            return int(os.environ[var])
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.rank
    return 0


class _RankZeroFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return rank() == 0


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
    """Progress of a long loop on rank 0 (stderr): on a terminal a live ``tqdm`` bar (elapsed,
    ETA, and ``describe()``'s text, e.g. cycle, voltage, state of charge, steps); elsewhere (a
    Slurm job, a pipe) one plain line per ``log_interval`` seconds with the same content.

    ``total`` is the end value of whatever is counted (here seconds of simulated time); the ETA
    assumes the rest goes at the average rate so far.
    """

    def __init__(self, total: float, label: str, describe: Callable[[], str] | None = None,
                 min_interval: float = 0.5, log_interval: float = 30.0, stream: Any = None):
        self.total = float(total)
        self.label = label
        self.describe = describe
        self.stream = stream or sys.stderr
        self.enabled = rank() == 0 and get_logger().isEnabledFor(logging.INFO)
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval = min_interval if self.tty else log_interval
        self._last = -math.inf
        self._t0 = time.perf_counter()
        self._start: float | None = None  # the first value seen (a resumed run starts midway)
        self._bar: Any = None
        if self.enabled and self.tty:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=label, file=self.stream, unit="s sim", unit_scale=True,
                             dynamic_ncols=True, mininterval=min_interval,
                             bar_format="{desc} {percentage:3.0f}%|{bar:20}| {elapsed}<{remaining} {postfix}")

    def eta(self, value: float, now: float) -> float | None:
        """Seconds of wall time left at the average rate since the first update (None: unknown)."""
        if self._start is None or value <= self._start or self.total <= 0.0:
            return None
        rate = (value - self._start) / max(now - self._t0, 1e-9)
        return max(self.total - value, 0.0) / rate

    def update(self, value: float, force: bool = False) -> None:
        if not self.enabled:
            return
        if self._start is None:
            self._start, self._t0 = value, time.perf_counter()
        now = time.perf_counter()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        extra = self.describe() if self.describe else ""
        if self._bar is not None:
            self._bar.n = min(value, self.total)
            self._bar.set_postfix_str(extra, refresh=False)
            self._bar.refresh()
            return
        frac = min(max(value / self.total, 0.0), 1.0) if self.total > 0 else 1.0
        eta = self.eta(value, now)
        left = f"ETA {_clock(eta)}" if eta is not None else "ETA ?"
        elapsed = _clock(now - self._t0)
        self.stream.write(f"{self.label} {100 * frac:5.1f}%  {elapsed} elapsed  {left}  {extra}\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _clock(seconds: float) -> str:
    """h:mm:ss"""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
