"""The provenance record written next to every mesh (``<name>.json``).

Parameters (resolved geometry and mesh sections, seed, attempt), whether the mesh is
periodic in x and y (``periodic``), versions, wall time, and
values *measured* on the OCC model and on the mesh: volume fractions, interface area per
volume (1/µm), pore clusters, element and node counts, elements across the NVP layer,
element quality. Lengths in µm.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
import time
from pathlib import Path
from typing import Any

import gmsh
import numpy as np

import fem_electrode
from fem_electrode import tags
from fem_electrode.geometry import measure
from fem_electrode.geometry.base import Plan
from fem_electrode.geometry.occ import Regions
from fem_electrode.geometry.sizing import Sizes

#: Version of the layout of this record.
FORMAT_VERSION = 1
#: Curves shorter than this (µm) are OCC's degenerate sphere poles, not geometry.
DEGENERATE_CURVE = 1e-9
#: Distribution names under which DOLFINx may be installed (looked up, never imported).
DOLFINX_DISTRIBUTIONS = ("fenics-dolfinx", "dolfinx-solver-real", "dolfinx")


def versions() -> dict[str, str | None]:
    """gmsh, numpy, Python, fem_electrode and (if installed) DOLFINx versions."""
    dolfinx = None
    for dist in DOLFINX_DISTRIBUTIONS:
        try:
            dolfinx = f"{dist} {importlib.metadata.version(dist)}"
            break
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"gmsh": gmsh.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "fem_electrode": fem_electrode.__version__, "dolfinx": dolfinx}


def occ_fractions(regions: Regions, reference_volume: float) -> dict[str, float]:
    """Volume fractions of NZSP, NVP and pore from the OCC volumes."""
    out = {phase: sum(gmsh.model.occ.getMass(3, v) for v in regions.volume_tags(phase))
           / reference_volume for phase in tags.PHASES}
    out["pore"] = 1.0 - sum(out[p] for p in tags.PHASES)
    return out


def area_per_volume(regions: Regions, reference_volume: float) -> dict[str, float]:
    """Area of every facet group divided by the reference volume (1/µm), from OCC."""
    return {name: sum(gmsh.model.occ.getMass(2, s) for s in faces) / reference_volume
            for name, faces in regions.faces.items()}


def shortest_curve() -> float:
    """Length (µm) of the shortest non-degenerate curve of the OCC model (sliver indicator)."""
    lengths = [gmsh.model.occ.getMass(1, c) for _, c in gmsh.model.getEntities(1)]
    real = [length for length in lengths if length > DEGENERATE_CURVE]
    return float(min(real)) if real else float("nan")


def mesh_counts(data: measure.MeshData) -> dict[str, Any]:
    """Element and node counts of the written (physical) part of the mesh."""
    used = np.unique(np.concatenate([c.ravel() for c in data.cells.values()]))
    return {
        "tetrahedra": int(sum(len(c) for c in data.cells.values())),
        "tetrahedra_by_phase": {k: int(len(v)) for k, v in data.cells.items()},
        "triangles_by_group": {k: int(len(v)) for k, v in data.facets.items()},
        "nodes": int(len(used)),
    }


def mesh_fractions(data: measure.MeshData, reference_volume: float) -> dict[str, float]:
    """Volume fractions summed over the tetrahedra (what a solver integrates)."""
    out = {k: float(measure.tet_volumes(data.coords, v).sum() / reference_volume)
           for k, v in data.cells.items()}
    out["pore"] = 1.0 - sum(out.values())
    return out


def record(case, plan: Plan, regions: Regions, data: measure.MeshData, *, fractions: dict[str, float],
           sizes: Sizes, across: int | None, conformity: dict[str, int], attempt: int,
           timings: dict[str, float], t_start: float, msh: Path) -> dict[str, Any]:
    """The provenance dictionary (JSON-ready)."""
    params = case.to_dict()
    summary = plan.summary()
    clusters = summary.pop("pore_clusters", None)
    return {
        "format": FORMAT_VERSION,
        "case": case.case.name,
        "description": case.case.description,
        "kind": case.geometry.kind,
        "periodic": bool(plan.box is not None and plan.box.periodic),  # in x and y (never z)
        "mesh_file": msh.name,
        "units": {"length": "um", "to_metre": 1e-6, "area_per_volume": "1/um"},
        "seed": case.geometry.seed,
        "attempt": attempt,
        "sub_seed": [case.geometry.seed, attempt],
        "parameters": {"geometry": params["geometry"], "mesh": params["mesh"]},
        "resolved": {**summary, "sizes": sizes.as_dict(),
                     "reference_volume": plan.reference_volume},
        "physical_groups": {
            "cells": {name: tags.cell_tag(name) for name in data.cells},
            "facets": {name: tags.facet_tag(name) for name in data.facets},
        },
        "measured": {
            "volume_fractions": fractions,
            "mesh_volume_fractions": mesh_fractions(data, plan.reference_volume),
            "interface_area_per_volume": area_per_volume(regions, plan.reference_volume),
            "pore_clusters": clusters,
            "elements": mesh_counts(data),
            "min_elements_across_layer": across,
            "requested_elements_across_layer": case.mesh.elements_across_layer if across is not None
            else None,
            "quality": measure.quality(data),
            "shortest_curve": shortest_curve(),
            "interface_conformity": conformity,
        },
        "versions": versions(),
        "threads": case.mesh.threads,
        "timings_s": timings,  # the caller adds "write" before the record is saved
        "wall_time_s": time.perf_counter() - t_start,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
