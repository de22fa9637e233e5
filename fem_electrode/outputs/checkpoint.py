"""Restart checkpoints: the fields (c, φ_e, φ_s), the protocol state and the time, in one file.

The file is written atomically by rank 0 (gathered values keyed by their dof
coordinates, so a run may resume on another number of ranks with the same mesh) and holds
a JSON string with the protocol state. A crash while writing leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from scipy.spatial import cKDTree

from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.util import atomic

#: Coordinates match when they are this fraction of the bounding-box size apart or closer
#: (the same mesh read on another number of ranks gives the same coordinates; no rounding grid
#: that a coordinate could straddle).
MATCH_TOLERANCE = 1e-9


def _owned(f: dolfinx.fem.Function) -> tuple[np.ndarray, np.ndarray]:
    V = f.function_space
    n = V.dofmap.index_map.size_local
    return V.tabulate_dof_coordinates()[:n].copy(), f.x.array[:n].copy()


def write(path: str | os.PathLike[str], functions: Sequence[dolfinx.fem.Function],
          state: Mapping[str, Any], comm: MPI.Comm) -> Path | None:
    """Gather ``functions`` and write them with ``state`` to ``path`` (collective)."""
    arrays: dict[str, np.ndarray] = {}
    for f in functions:
        x, v = _owned(f)
        xs, vs = comm.gather(x, root=0), comm.gather(v, root=0)
        if comm.rank == 0:
            arrays[f"{f.name}.x"] = np.concatenate(xs)
            arrays[f"{f.name}.v"] = np.concatenate(vs)
    if comm.rank != 0:
        return None
    arrays["state"] = np.array(json.dumps(dict(state)))
    with atomic.atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **cast(dict[str, Any], arrays))
    return Path(path)


def read(path: str | os.PathLike[str], functions: Sequence[dolfinx.fem.Function],
         comm: MPI.Comm, optional: Sequence[dolfinx.fem.Function] = ()) -> dict[str, Any]:
    """Fill ``functions`` from ``path`` (matching dof coordinates); returns the state (collective).
    ``optional`` functions are filled when the file has them (the state says which it wrote)."""
    data = None
    if comm.rank == 0:
        with np.load(path) as npz:
            data = {k: npz[k] for k in npz.files}
    data = comm.bcast(data, root=0)
    present = [f for f in optional if f"{f.name}.x" in data]
    for f in [*functions, *present]:
        if f"{f.name}.x" not in data:
            raise ValueError(f"checkpoint {path} has no field {f.name!r}")
        xs, vs = data[f"{f.name}.x"], data[f"{f.name}.v"]
        size = float(np.max(xs.max(axis=0) - xs.min(axis=0))) if len(xs) else 1.0
        distance, index = cKDTree(xs).query(f.function_space.tabulate_dof_coordinates(),
                                            distance_upper_bound=MATCH_TOLERANCE * (size or 1.0))
        found = np.isfinite(distance)
        n_missing = comm.allreduce(int(np.count_nonzero(~found)), op=MPI.SUM)
        if n_missing:
            raise ValueError(f"checkpoint {path}: {n_missing} dofs of {f.name!r} do not match the mesh "
                             "(was it written for another mesh?)")
        f.x.array[:] = vs[index]
    return json.loads(str(data["state"]))
