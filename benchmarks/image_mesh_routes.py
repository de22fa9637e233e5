"""Two volume meshers on the same conformal smoothed surfaces of ``geometry.kind = "image"`` (issue 16).

Every image is prepared as ``fem-electrode mesh`` does it (:func:`fem_electrode.geometry.plan`:
labels, connectivity cleanup, speck merge), its multi-label surface-nets surface extracted and
smoothed once (:mod:`fem_electrode.geometry.surfacenets`), and the same triangles filled by

- **hxt**: today's route, gmsh HXT (:func:`fem_electrode.geometry.image.mesh_image`: element size
  about the voxel size throughout, nodes embedded in 3- to 4-voxel NVP layers);
- **tetgen**: ``mesh.image_mesher = "tetgen"`` (:mod:`fem_electrode.geometry.image_tetgen`), TetGen
  1.6 through the PyPI package ``tetgen`` (pyvista's wrapper; TetGen itself is AGPL-3.0): a
  constrained Delaunay tetrahedralisation of the piecewise-linear complex with one region point
  per NZSP or NVP region and one hole per pore region, the surface kept as it is (so both
  routes' interfaces are identical), and Delaunay refinement to a radius-edge ratio and least
  dihedral angle (``q``, ``--qualities``: 1.414/10 the option's, 2 TetGen's default), which
  grades the elements away from the surfaces by itself, capped at ``mesh.size_max``.

Both meshes are in gmsh with the same physical groups and measured alike: tetrahedra,
quality (gmsh minSICN, ``measure.QUALITY_MEASURE``), volume fractions against the image,
interface areas, elements across the NVP layer (``image.layer_resolution``), grading (median
edge of the equal-volume regular tetrahedron near the surfaces and 3 or more voxels away from
them) and every stage's time. A route that fails at the full smoothing is retried at the next,
gentler level (``image.SMOOTHING_LEVELS``), as ``mesh`` does; the level used is printed.

Images: the shipped example (examples/image.toml), the two porespy fixtures
(tests/data/porespy-*.npy, docs/images.md "Images no one here made"), an infiltrated RVE of the
round trip (tests/test_image_round_trip.py) rasterised at 48 voxels per edge, and the synthetic
image of bench_image_mesh.py (``--size``, down-sampled twice). One thread for both meshers.

    .venv/bin/pip install tetgen      # not a dependency of the project
    nice -n 15 .venv/bin/python benchmarks/image_mesh_routes.py [--only example porespy-3] [--size 120]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import _paths  # noqa: F401  (tests/ on sys.path: the round-trip helpers)
import gmsh
import numpy as np
from scipy import ndimage

from fem_electrode.config.loader import validate
from fem_electrode.geometry import image, image_tetgen, measure, plan, provenance
from fem_electrode.geometry.base import MeshCheckError
from fem_electrode.geometry.session import gmsh_session

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
#: TetGen quality bounds (``q``) of the tetgen runs: the option's and TetGen's default.
QUALITIES = ("1.414/10", "2")


def images(size: int) -> dict[str, dict[str, Any]]:
    """name -> (codes array, voxel edges, labels) of every benchmark image."""
    from bench_image_mesh import synthetic
    from test_image_round_trip import SMALL, reference

    out: dict[str, dict[str, Any]] = {
        "example": {"array": np.load(ROOT / "examples" / "image-synthetic.npy"), "voxel": [0.1] * 3,
                    "labels": {"NZSP": 1, "NVP": 2, "pore": 0}},
        "porespy-2": {"array": np.load(DATA / "porespy-two-phase.npy"), "voxel": [0.1] * 3,
                      "labels": {"NZSP": 0, "NVP": 1}},
        "porespy-3": {"array": np.load(DATA / "porespy-three-phase.npy"), "voxel": [0.1] * 3,
                      "labels": {"pore": 0, "NVP": 1, "NZSP": 2}},
    }
    codes, spacing = image.rasterize(reference(SMALL["infiltrated"]).plan, 0.05)  # type: ignore[arg-type]
    out["infiltrated-48"] = {"array": codes, "voxel": list(spacing), "disconnected": "keep",
                             "labels": {"pore": 0, "NZSP": 1, "NVP": 2}}  # image_io's codes
    if size:
        out[f"synthetic-{size}/2"] = {"array": synthetic(size, 9.0, 2.0), "voxel": [0.05] * 3,
                                      "labels": {"pore": 0, "NZSP": 1, "NVP": 2}, "downsample": 2}
    return out


def case_of(name: str, spec: dict[str, Any], tmp: Path, **mesh):
    """The image case (``mesh`` keys on top of one thread and size_max 0.5 µm, the example's)."""
    path = tmp / f"{name.replace('/', '-')}.npy"
    if not path.exists():
        np.save(path, spec["array"])
    return validate({"case": {"name": "routes"},
                     "geometry": {"kind": "image", "image": str(path), "image_voxel_size": spec["voxel"],
                                  "image_labels": spec["labels"], "image_axis": "+2",
                                  "image_downsample": spec.get("downsample", 1),
                                  "image_disconnected": spec.get("disconnected", "remove")},
                     "mesh": {"threads": 1, "size_max": 0.5, **mesh}})


def surface_distance(codes: np.ndarray, spacing) -> np.ndarray:
    """Per voxel: distance (µm, >= 0) from its centre to the nearest phase boundary or box face
    (half a voxel for a voxel on one)."""
    out = np.zeros(codes.shape)
    for c in np.unique(codes):
        inside = codes == c
        d = ndimage.distance_transform_edt(np.pad(inside, 1, constant_values=False), sampling=spacing)
        out[inside] = d[1:-1, 1:-1, 1:-1][inside]
    return np.maximum(out - 0.5 * min(spacing), 0.0)


def grading(data: measure.MeshData, codes: np.ndarray, spacing) -> dict[str, float]:
    """Median edge (µm) of the equal-volume regular tetrahedron of the tetrahedra whose centroid
    lies within a voxel of the surfaces, and of those 3 or more voxels away; their ratio."""
    tets = np.vstack(list(data.cells.values()))
    h = np.cbrt(6.0 * np.sqrt(2.0) * measure.tet_volumes(data.coords, tets))
    centre = data.coords[tets].mean(axis=1)
    ijk = np.clip((centre / np.asarray(spacing)).astype(np.int64), 0, np.asarray(codes.shape) - 1)
    d = surface_distance(codes, spacing)[tuple(ijk.T)] / min(spacing)
    near, far = h[d < 1.0], h[d >= 3.0]
    out = {"near": float(np.median(near)) if len(near) else float("nan"),
           "far": float(np.median(far)) if len(far) else float("nan"), "max": float(h.max())}
    out["ratio"] = out["far"] / out["near"]
    return out


def measure_mesh(data: measure.MeshData, p, tmp: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """The figures of one mesh (open gmsh model) and the time of the check, measure and write."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    q = np.asarray(gmsh.model.mesh.getElementQualities(
        np.concatenate(list(data.cell_tags.values())).tolist(), measure.QUALITY_MEASURE))
    timings["quality"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    layer = image.layer_resolution(data, p.codes, p.spacing)
    timings["layer_measure"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gmsh.write(str(tmp / "route.msh"))
    timings["write"] = time.perf_counter() - t0
    conformity = measure.interface_conformity(data)
    figures = {
        "tetrahedra": int(sum(len(c) for c in data.cells.values())),
        "q_min": float(q.min()), "q_mean": float(q.mean()),
        "degenerate": int(np.count_nonzero(q < image.DEGENERATE_QUALITY)),
        "fractions": provenance.mesh_fractions(data, p.reference_volume),
        "areas": image.facet_area_per_volume(data, p.reference_volume),
        "conforming": conformity["conforming"] == conformity["facets"],
        "layer": layer, "grading": grading(data, p.codes, p.spacing),
    }
    return figures, timings


def run_route(case, p, tmp: Path) -> dict[str, Any]:
    """Mesh the prepared image with ``case``'s mesher, retrying at gentler smoothing levels on
    failure as ``mesh`` does (:func:`fem_electrode.geometry.image.mesh_image`)."""
    failures = []
    for level in range(len(image.SMOOTHING_LEVELS)):
        try:
            with gmsh_session(threads=1, algorithm="hxt"):
                data, timings, _ = image.mesh_image(p, case, level)
                figures, stage = measure_mesh(data, p, tmp)
                timings.update(stage)
                if not figures["conforming"]:
                    raise MeshCheckError("interface not conformal")
            return {"level": level, "failures": failures, "timings": timings, **figures}
        except Exception as exc:  # noqa: BLE001 (robustness is what is measured)
            failures.append(f"level {level}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    return {"level": None, "failures": failures}


def show(p, route: str, row: dict[str, Any]) -> None:
    """One route's line(s) for one image."""
    if row["level"] is None:
        print(f"  {route:14s} FAILED: " + "; ".join(row["failures"]), flush=True)
        return
    img = p.info["image_measured"]["volume_fractions"]
    fr = row["fractions"]
    t = row["timings"]
    mesh_time = t.get("surfaces", 0.0) + t["volume_mesh"] + t.get("tag", 0.0)
    layer = row["layer"] or {}
    by = layer.get("by_thickness_voxels", {})
    across = " ".join(f"{k}v:{v['min_elements']}/{v['mean_elements']:.1f}"
                      for k, v in by.items() if v["nodes"])
    g = row["grading"]
    failed = f" ({'; '.join(row['failures'])})" if row["failures"] else ""
    print(f"  {route:14s} level {row['level']}{failed}: "
          f"{row['tetrahedra']:>8d} tets, quality min {row['q_min']:.3f} mean {row['q_mean']:.3f}; "
          f"surfaces {t.get('surfaces', 0):.2f} s + volume {t['volume_mesh']:.2f} s"
          f" + tag {t.get('tag', 0):.2f} s = {mesh_time:.2f} s (write {t['write']:.2f} s)", flush=True)
    print(f"  {'':14s} fractions mesh/image " + ", ".join(
        f"{k} {fr[k]:.4f}/{img[k]:.4f}" for k in ("NZSP", "NVP", "pore"))
        + "; areas/µm " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(row["areas"].items())
                                     if k in image.PAIR_FACETS.values()), flush=True)
    print(f"  {'':14s} elements across NVP (thickness class: min/mean) {across or '-'}; size near "
          f"{g['near']:.3f} µm, >= 3 voxels away {g['far']:.3f} µm (x{g['ratio']:.2f}), largest "
          f"{g['max']:.3f} µm", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="image names (default: all)")
    ap.add_argument("--size", type=int, default=120,
                    help="synthetic image edge before down-sampling (0: none)")
    ap.add_argument("--qualities", nargs="+", default=list(QUALITIES),
                    help="TetGen quality bounds (q: radius-edge ratio[/least dihedral angle])")
    args = ap.parse_args()
    t_all = time.perf_counter()
    summary = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name, spec in images(args.size).items():
            if args.only and name not in args.only:
                continue
            case = case_of(name, spec, tmp)
            p = plan(case, 0)
            _, phase_of = image.regions(p.codes)
            print(f"{name}: {p.codes.shape} voxels of {p.spacing[0]:.3g} µm, {len(phase_of)} NZSP/NVP "
                  "regions", flush=True)
            rows = {"hxt": run_route(case, p, tmp)}
            show(p, "hxt", rows["hxt"])
            for quality in args.qualities:
                key = f"tetgen q{quality}"
                image_tetgen.SWITCHES = f"pAYfQq{quality}"
                rows[key] = run_route(case_of(name, spec, tmp, image_mesher="tetgen"), p, tmp)
                show(p, key, rows[key])
            summary.append((name, rows))
    print("\nratios tetgen / hxt (tetrahedra, volume-mesh time, min quality, mean quality):")
    for name, rows in summary:
        base = rows["hxt"]
        for key, row in rows.items():
            if key == "hxt" or row["level"] is None or base["level"] is None:
                continue
            print(f"  {name:16s} {key:14s} tets x{row['tetrahedra'] / base['tetrahedra']:.2f}, volume time "
                  f"x{row['timings']['volume_mesh'] / base['timings']['volume_mesh']:.2f}, min q "
                  f"x{row['q_min'] / base['q_min']:.2f}, mean q x{row['q_mean'] / base['q_mean']:.2f}")
    print(f"total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
