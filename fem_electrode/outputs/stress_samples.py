"""The stress samples file of a run (the report's stress distributions) from a mechanics solution.

Call :func:`write_stress_samples` with the :class:`~fem_electrode.outputs.stress.StressPost`
of the state the ``mechanics`` metrics describe, on every rank: the samples are gathered to
rank 0 and, above :data:`MAX_SAMPLES` per group, thinned to a seeded uniform random subset
(the weights keep the distribution unbiased).

Format (NumPy ``.npz``, all SI): keys ``<PHASE>.<quantity>`` for PHASE in NZSP, NVP:
``volume`` (m³, sample weights), and :data:`STRESS_QUANTITIES` (Pa); ``interface.area`` (m²)
and :data:`TRACTION_QUANTITIES` (Pa, normal > 0 opening; shear magnitude) per interface
facet; optional scalars ``time`` (s) and ``y_mean`` (mean NVP filling of the state).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import numpy as np

from fem_electrode import tags
from fem_electrode.util import atomic

STRESS_QUANTITIES = ("von_mises", "hydrostatic", "max_principal")
TRACTION_QUANTITIES = ("normal_traction", "shear_traction")
#: Samples kept per phase (and for the interface); float32 keeps the file at a few MB.
MAX_SAMPLES = 100_000


def _gather(comm: Any, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    parts = comm.gather(arrays, root=0)
    if comm.rank != 0:
        return None
    return {k: np.concatenate([p[k] for p in parts]) for k in arrays}


def _thin(group: dict[str, np.ndarray], weight_key: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = group[weight_key].size
    if n <= MAX_SAMPLES:
        return group
    keep = np.sort(rng.choice(n, MAX_SAMPLES, replace=False))
    return {k: v[keep] for k, v in group.items()}


def write_stress_samples(post: Any, path: str | os.PathLike[str], time: float | None = None,
                         y_mean: float | None = None, seed: int = 0) -> Path | None:
    """Gather the stress samples of ``post`` and write them to ``path`` (rank 0; returns its path)."""
    comm = post.comm
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for phase in tags.PHASES:
        fields = post.phase_fields(phase)
        local = {"volume": np.asarray(post.weights[phase], float)}
        local.update({q: np.asarray(fields[q], float).ravel() for q in STRESS_QUANTITIES})
        group = _gather(comm, local)
        if group is not None:
            group = _thin(group, "volume", rng)
            out.update({f"{phase}.{k}": v.astype(np.float32) for k, v in group.items()})
    tn, ts = post.tractions()
    group = _gather(comm, {"area": np.asarray(post.facet_area, float), "normal_traction": tn,
                           "shear_traction": ts})
    if group is None:  # not rank 0
        return None
    group = _thin(group, "area", rng)
    out.update({f"interface.{k}": v.astype(np.float32) for k, v in group.items()})
    if time is not None:
        out["time"] = np.array(float(time))
    if y_mean is not None:
        out["y_mean"] = np.array(float(y_mean))
    path = Path(path)
    with atomic.atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **cast(dict[str, Any], out))
    return path
