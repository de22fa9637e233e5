"""What the report reads from one finished run folder (file names: :mod:`fem_electrode.run.folder`).

A run folder holds ``metrics.json``, the time series, the mesh provenance JSON, the ParaView
fields and, when the mechanics wrote it, the stress samples (format:
:mod:`fem_electrode.outputs.stress_samples`).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fem_electrode.outputs.stress_samples import STRESS_QUANTITIES, TRACTION_QUANTITIES
from fem_electrode.run.folder import RunFolder

__all__ = ["STRESS_QUANTITIES", "TRACTION_QUANTITIES", "RunData", "Samples", "read_csv",
           "read_stress_samples"]


@dataclass
class Samples:
    """Weighted samples of one quantity (values and their volume / area weights)."""

    values: np.ndarray
    weights: np.ndarray


@dataclass
class RunData:
    """Everything the report needs from one run of one design."""

    design: str
    run_dir: Path
    metrics: dict[str, Any]
    timeseries: dict[str, np.ndarray]
    mesh_info: dict[str, Any] = field(default_factory=dict)
    msh_path: Path | None = None
    stress: dict[str, dict[str, Samples]] = field(default_factory=dict)
    stress_meta: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, design: str, run_dir: str | os.PathLike[str], mesh_json: Path | None = None,
             msh_path: Path | None = None) -> RunData:
        """Read a run folder (``metrics.json`` and ``timeseries.csv`` are required)."""
        run_dir = Path(run_dir)
        folder = RunFolder(run_dir)
        metrics_path = folder.metrics
        if not metrics_path.is_file():
            raise FileNotFoundError(f"{metrics_path} is missing: did the run of {design!r} finish?")
        metrics = json.loads(metrics_path.read_text())
        ts_path = folder.timeseries
        timeseries = read_csv(ts_path) if ts_path.is_file() else {}
        mesh_json = mesh_json or find_mesh_json(run_dir, metrics)
        mesh_info = json.loads(mesh_json.read_text()) if mesh_json and mesh_json.is_file() else {}
        if msh_path is None and mesh_json is not None and mesh_json.with_suffix(".msh").is_file():
            msh_path = mesh_json.with_suffix(".msh")
        stress, meta = read_stress_samples(folder.stress_samples)
        return cls(design, run_dir, metrics, timeseries, mesh_info, msh_path, stress, meta)


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """Columns of a CSV with a header row as float arrays (non-numeric columns are dropped)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(line for line in f if not line.startswith("#")))
    if not rows:
        return {}
    header, body = [h.strip() for h in rows[0]], rows[1:]
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        try:
            out[name] = np.array([float(r[j]) for r in body if len(r) > j], dtype=float)
        except ValueError:
            continue
    return out


def find_mesh_json(run_dir: Path, metrics: dict[str, Any]) -> Path | None:
    """The mesh provenance JSON: beside the mesh named in ``metrics["cell"]["mesh"]``, else the
    one JSON beside a ``.msh`` under the run folder."""
    raw = metrics.get("cell")
    cell: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if isinstance(cell.get("mesh"), str) and Path(cell["mesh"]).with_suffix(".json").is_file():
        return Path(cell["mesh"]).with_suffix(".json")
    for msh in sorted(run_dir.rglob("*.msh")):
        if msh.with_suffix(".json").is_file():
            return msh.with_suffix(".json")
    return None


def read_stress_samples(path: Path) -> tuple[dict[str, dict[str, Samples]], dict[str, float]]:
    """``{group: {quantity: Samples}}`` for groups NZSP, NVP, interface; empty when absent."""
    if not path.is_file():
        return {}, {}
    data = np.load(path)
    out: dict[str, dict[str, Samples]] = {}
    meta: dict[str, float] = {}
    for key in data.files:
        if "." not in key:
            if data[key].size == 1:
                meta[key] = float(data[key])
            continue
        group, qty = key.split(".", 1)
        if qty in ("volume", "area"):
            continue
        weight_key = f"{group}.{'area' if group == 'interface' else 'volume'}"
        values = np.asarray(data[key], dtype=float)
        weights = np.asarray(data[weight_key], dtype=float) if weight_key in data.files else np.ones_like(
            values)
        out.setdefault(group, {})[qty] = Samples(values, weights)
    return out, meta
