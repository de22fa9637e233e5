"""NVP concentration snapshots of a run, for mechanics studies after the fact.

At every field output a run writes ``c_NNNN.npz`` into its snapshot folder (``[output]
concentration_snapshots``; the folder is named by :mod:`fem_electrode.run.folder`): the NVP
concentration (mol/m³, P1 on the NVP submesh) keyed by
its dof coordinates, like the restart checkpoint (so any number of ranks can read it on the
same mesh), with the time (s) and the mean filling y. ``fem-electrode mechanics`` solves the
mechanics alone on one of them (``[mechanics] concentration_from``), e.g. with other
boundary conditions or elastic constants, without re-running the electrochemistry. Each file
is written atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.outputs import checkpoint

#: File names of the snapshots in their folder (``c_0000.npz``, ``c_0001.npz``, ...).
PATTERN = "c_*.npz"


@dataclass(frozen=True)
class Snapshot:
    """One written state: its file, time (s) and mean NVP filling y = c/c_max."""

    path: Path
    time_s: float
    y_mean: float


def write(folder: str | os.PathLike[str], c: dolfinx.fem.Function, time_s: float, y_mean: float,
          comm: MPI.Comm) -> Path | None:
    """Write the next snapshot of ``c`` (a Function named ``c``) into ``folder`` (collective)."""
    folder = Path(folder)
    index = None
    if comm.rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        names = sorted(folder.glob(PATTERN))
        index = int(names[-1].stem.split("_")[1]) + 1 if names else 0
    index = comm.bcast(index, root=0)
    return checkpoint.write(folder / f"c_{index:04d}.npz", [c],
                            {"time_s": float(time_s), "y_mean": float(y_mean)}, comm)


def available(folder: str | os.PathLike[str]) -> list[Snapshot]:
    """The snapshots in ``folder`` in time order (reads only their small state entries)."""
    out = []
    for path in sorted(Path(folder).glob(PATTERN)):
        with np.load(path) as npz:
            state = json.loads(str(npz["state"]))
        out.append(Snapshot(path, float(state["time_s"]), float(state["y_mean"])))
    return sorted(out, key=lambda s: s.time_s)


def truncate_after(folder: str | os.PathLike[str], time_s: float) -> int:
    """Delete the snapshots in ``folder`` later than ``time_s`` (a resumed run writes them again);
    rank 0 only. Returns how many were deleted."""
    late = [s for s in available(folder) if s.time_s > time_s * (1.0 + 1e-12)]
    for s in late:
        s.path.unlink()
    return len(late)


def choose(snapshots: list[Snapshot], time_s: float | None, y_ref: float) -> Snapshot:
    """The snapshot nearest ``time_s``, or (None) the most strained one: largest |y − y_ref|
    (the state a run's own mechanics metrics describe)."""
    if not snapshots:
        raise ValueError("no concentration snapshots to choose from")
    if time_s is None:
        return max(snapshots, key=lambda s: (abs(s.y_mean - y_ref), s.time_s))  # ties: the later, as the run
    return min(snapshots, key=lambda s: (abs(s.time_s - time_s), s.time_s))


def read(snapshot: Snapshot, c: dolfinx.fem.Function, comm: MPI.Comm) -> None:
    """Fill ``c`` (named ``c``, P1 on the NVP submesh of the run's mesh) from ``snapshot``."""
    checkpoint.read(snapshot.path, [c], comm)
