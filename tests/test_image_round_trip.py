"""Round trip of our own generated designs through the image route (issue 16, Verification).

An infiltrated and a co-sintered RVE are generated (placement as ``fem-electrode mesh`` does it),
rasterised at voxel centres (:func:`fem_electrode.geometry.image.rasterize`) at three voxel sizes,
and the images meshed with ``geometry.kind = "image"``. The reference is the generator's OCC model
of the same placement (exact sphere booleans: volume fractions and facet areas from OpenCASCADE,
not from a mesh). The issue asks, at the finest voxel size, volume fractions within 0.5 vol% and
interface area within 3 %, the errors falling with the voxel size.

The test runs the three sizes on a small box (finest 64 voxels along an edge); the benchmark
``benchmarks/bench_image_mesh.py --round-trip`` runs larger ones (docs/images.md has its figures).
Pure gmsh, no MPI: serial.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from fem_electrode.config.loader import validate
from fem_electrode.geometry import BUILDERS, build_mesh, image, plan, provenance
from fem_electrode.geometry.session import gmsh_session

pytestmark = pytest.mark.serial

#: Facet groups whose areas are compared (those that both designs have where named).
AREAS = ("interface_nvp_nzsp", "pore_wall_nvp", "pore_wall_nzsp")
#: The small designs of the test: box (µm), radii scaled to it, the default fractions.
SMALL = {
    "infiltrated": {"kind": "infiltrated", "box": [2.4, 2.4, 2.4], "pore_radius_mean": 0.55,
                    "pore_radius_min": 0.4, "pore_radius_max": 0.75, "seed": 3},
    "cosintered": {"kind": "cosintered", "box": [2.4, 2.4, 2.4], "pore_radius_mean": 0.5,
                   "pore_radius_min": 0.35, "pore_radius_max": 0.7, "residual_pore_radius": 0.25, "seed": 3},
}
#: Voxel edges of the test (µm): 16, 32 and 64 voxels along the 2.4 µm edge.
VOXELS = (0.15, 0.075, 0.0375)
#: The issue's bounds at the finest voxel size.
FRACTION_TOL, AREA_TOL = 0.005, 0.03


@dataclass
class Reference:
    """A generated design's plan and what its OCC model measures (fractions, areas per volume in 1/µm)."""

    plan: object
    fractions: dict[str, float]
    areas: dict[str, float]


def reference(geometry: dict) -> Reference:
    """Place the design of ``geometry`` and measure its OCC model (no volume mesh)."""
    case = validate({"case": {"name": "generated"}, "geometry": geometry})
    p = plan(case)
    with gmsh_session():
        regions = BUILDERS[case.geometry.kind].build(p)
        fractions = provenance.occ_fractions(regions, p.reference_volume)
        areas = provenance.area_per_volume(regions, p.reference_volume)
    return Reference(p, fractions, {k: v for k, v in areas.items() if k in AREAS})


def round_trip(ref: Reference, voxel: float, out: Path, name: str) -> dict:
    """Rasterise ``ref`` at ``voxel`` µm, mesh the image (isolated regions kept, as generated) and
    return the errors against the reference and the mesh record's figures."""
    codes, spacing = image.rasterize(ref.plan, voxel)  # type: ignore[arg-type]
    path = out / f"{name}.npy"
    np.save(path, codes)
    case = validate({"case": {"name": name}, "geometry": {
        "kind": "image", "image": str(path), "image_voxel_size": list(spacing), "image_axis": "+2",
        "image_disconnected": "keep"}})
    t0 = time.perf_counter()
    _, js = build_mesh(case, out)
    seconds = time.perf_counter() - t0
    rec = json.loads(js.read_text())
    m = rec["measured"]
    fraction = {k: m["mesh_volume_fractions"][k] - ref.fractions[k] for k in ("NZSP", "NVP", "pore")}
    area = {k: m["interface_area_per_volume"].get(k, 0.0) / a - 1.0 for k, a in ref.areas.items() if a > 0}
    return {"voxel": voxel, "shape": list(codes.shape), "fraction": fraction, "area": area,
            "image_fraction": {k: m["volume_fractions"][k] - ref.fractions[k] for k in fraction},
            "tetrahedra": m["elements"]["tetrahedra"], "quality_min": m["quality"]["min"],
            "layer": m["layer_resolution"], "seconds": seconds}


def describe(kind: str, row: dict) -> str:
    """One line of the round-trip table."""
    return (f"{kind} {row['voxel']} µm {row['shape']}: fraction error (mesh) "
            + ", ".join(f"{k} {100 * v:+.3f}" for k, v in row["fraction"].items())
            + " vol%, (image) " + ", ".join(f"{k} {100 * v:+.3f}" for k, v in row["image_fraction"].items())
            + " vol%; area " + ", ".join(f"{k} {100 * v:+.2f} %" for k, v in row["area"].items())
            + f"; {row['tetrahedra']} tets, min quality {row['quality_min']:.3f}, "
            f"{row['seconds']:.1f} s")


@pytest.mark.parametrize("kind", list(SMALL))
def test_generated_design_round_trip_converges(tmp_path, kind):
    """Fractions within 0.5 vol% and interface areas within 3 % of the generator's OCC model at
    the finest voxel size; both errors smaller at the finest size than at the coarsest."""
    ref = reference(SMALL[kind])
    rows = [round_trip(ref, h, tmp_path, f"{kind}-{k}") for k, h in enumerate(VOXELS)]
    print(f"\n{kind}: OCC fractions " + ", ".join(f"{k} {v:.4f}" for k, v in ref.fractions.items())
          + "; areas " + ", ".join(f"{k} {v:.3f}/µm" for k, v in ref.areas.items()))
    for row in rows:
        print(describe(kind, row))
    worst = [max(abs(v) for v in row["fraction"].values()) for row in rows]
    assert worst[-1] < FRACTION_TOL
    assert worst[0] > worst[-1]
    assert ref.areas.get("interface_nvp_nzsp", 0.0) > 0.0
    for name in rows[-1]["area"]:
        assert abs(rows[-1]["area"][name]) < AREA_TOL, name
        assert abs(rows[0]["area"][name]) > abs(rows[-1]["area"][name]), name
