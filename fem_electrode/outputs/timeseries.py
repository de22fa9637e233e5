"""``timeseries.csv``: one row per accepted time step, appended and flushed by rank 0.

A crash keeps every row written so far. On resume the rows after the checkpoint time are
dropped (atomically) before appending continues.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fem_electrode.util import atomic

#: Columns, with units in the names (SI; capacity in mAh/g of NVP).
COLUMNS = (
    "time_s", "cycle", "segment", "current_A", "current_density_A_per_m2", "voltage_V", "soc",
    "capacity_mAh_per_g", "c_mean_mol_per_m3", "c_min_mol_per_m3", "c_max_mol_per_m3",
    "interface_current_A", "dt_s", "newton_iterations", "charge_rel_error", "sodium_rel_error",
    "local_error", "debonded_fraction", "active_interface_fraction",
)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


class TimeseriesWriter:
    """Appends rows to ``path`` on rank 0 of ``comm`` (other ranks do nothing)."""

    def __init__(self, path: str | os.PathLike[str], comm: Any, columns: Sequence[str] = COLUMNS,
                 append: bool = False):
        self.path = Path(path)
        self.columns = tuple(columns)
        self.rank0 = comm.rank == 0
        self._file = None
        if self.rank0:
            fresh = not (append and self.path.is_file())
            if fresh:
                atomic.write_text(self.path, ",".join(self.columns) + "\n")
            self._file = self.path.open("a", newline="")

    def write(self, row: Mapping[str, Any]) -> None:
        """Append one row (missing columns are left empty) and flush it to disk."""
        if self._file is None:
            return
        self._file.write(",".join(_format(row.get(c, "")) for c in self.columns) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> TimeseriesWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a timeseries file as dicts (numbers converted; a torn last line is dropped)."""
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_text()
    if text and not text.endswith("\n"):  # a crash in the middle of a row
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    out = []
    for raw in reader:
        row: dict[str, Any] = {}
        for k, v in raw.items():
            try:
                row[k] = int(v)
            except (TypeError, ValueError):
                try:
                    row[k] = float(v)
                except (TypeError, ValueError):
                    row[k] = v
        out.append(row)
    return out


def truncate_after(path: str | os.PathLike[str], time: float, columns: Sequence[str] = COLUMNS) -> list[dict]:
    """Keep the rows with ``time_s <= time`` (atomically rewritten); returns them."""
    rows = [r for r in read_rows(path) if float(r["time_s"]) <= time * (1.0 + 1e-12)]
    lines = [",".join(columns)] + [",".join(_format(r.get(c, "")) for c in columns) for r in rows]
    atomic.write_text(path, "\n".join(lines) + "\n")
    return rows
