"""Benchmark of ``geometry.kind = "image"``: a synthetic three-phase N³ image to a tagged mesh.

The image: pores = overlapping balls of radius ``--radius`` voxels around random centres
(about 25 % porosity), their walls coated with NVP ``--coat`` voxels thick, NZSP elsewhere
(labels pore 0, NZSP 1, NVP 2; voxel 0.05 µm). Prints the time of every stage of
:func:`fem_electrode.geometry.build_mesh` (read, labels + connectivity, smooth surfaces,
volume mesh, tag, write), the element count, quality, the elements across thin NVP layers
and the peak memory of the process.

``--round-trip``: instead, the round trip of tests/test_image_round_trip.py (a generated
infiltrated and co-sintered RVE rasterised and meshed as images, against the generator's OCC
model) at the voxel sizes of ``--voxels``.

    .venv/bin/python benchmarks/bench_image_mesh.py [--size 200] [--downsample 1] [--threads 2]
    .venv/bin/python benchmarks/bench_image_mesh.py --round-trip [--voxels 0.15 0.075 0.05 0.0375 0.03]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import _paths  # noqa: F401  (tests/ on sys.path: the round-trip helpers)
import numpy as np
from scipy import ndimage

from fem_electrode.config.loader import validate
from fem_electrode.geometry import build_mesh

#: Voxel edge of the synthetic image (µm).
VOXEL = 0.05
#: Phase names and labels of the synthetic image.
PHASES = (("pore", 0), ("NZSP", 1), ("NVP", 2))
#: Pore centres per voxel (with the default radius: about 25 % porosity).
CENTRE_DENSITY = 1.2e-4


def synthetic(n: int, radius: float, coat: float, seed: int = 1) -> np.ndarray:
    """Three-phase n³ image: pore 0, NZSP 1, NVP 2 (NVP coats the pore walls)."""
    rng = np.random.default_rng(seed)
    seeds = np.ones((n, n, n), dtype=bool)
    k = max(1, int(CENTRE_DENSITY * n**3))
    seeds[tuple(rng.integers(0, n, size=(3, k)))] = False
    pore = ndimage.distance_transform_edt(seeds) < radius
    depth = ndimage.distance_transform_edt(pore)  # distance into the pore from its wall
    out = np.ones((n, n, n), dtype=np.uint8)
    out[pore] = 0
    out[pore & (depth <= coat)] = 2
    return out


def round_trip(voxels: list[float]) -> None:
    """Print the round-trip rows of both generated designs at every voxel size (µm)."""
    from test_image_round_trip import SMALL, describe, reference
    from test_image_round_trip import round_trip as one

    for kind, geometry in SMALL.items():
        ref = reference(geometry)
        print(f"{kind}: OCC fractions " + ", ".join(f"{k} {v:.4f}" for k, v in ref.fractions.items())
              + "; areas " + ", ".join(f"{k} {v:.3f}/µm" for k, v in ref.areas.items()), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            for k, h in enumerate(voxels):
                row = one(ref, h, Path(tmp), f"{kind}-{k}")
                layer = row["layer"]
                print(describe(kind, row) + (f"; layer: {layer['min_elements_across']} elements across where "
                                             f"resolved" if layer else ""), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--radius", type=float, default=9.0, help="pore radius (voxels)")
    ap.add_argument("--coat", type=float, default=2.0, help="NVP coating thickness (voxels)")
    ap.add_argument("--downsample", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--round-trip", action="store_true", help="the generated-design round trip instead")
    ap.add_argument("--voxels", type=float, nargs="+", default=[0.15, 0.075, 0.05, 0.0375, 0.03],
                    help="voxel sizes of --round-trip (µm)")
    args = ap.parse_args()
    if args.round_trip:
        round_trip(args.voxels)
        return
    t0 = time.perf_counter()
    image = synthetic(args.size, args.radius, args.coat)
    print(f"synthetic {args.size}³ image in {time.perf_counter() - t0:.1f} s; fractions "
          + ", ".join(f"{name} {np.mean(image == c):.3f}" for name, c in PHASES))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.npy"
        np.save(path, image)
        case = validate({"case": {"name": "bench-image"},
                         "geometry": {"kind": "image", "image": str(path), "image_voxel_size": [VOXEL] * 3,
                                      "image_axis": "+2", "image_downsample": args.downsample},
                         "mesh": {"threads": args.threads}})
        t0 = time.perf_counter()
        _, js = build_mesh(case, tmp)
        total = time.perf_counter() - t0
        rec = json.loads(js.read_text())
    m = rec["measured"]
    print("stage timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in rec["timings_s"].items()))
    print(f"total {total:.1f} s; {m['elements']['tetrahedra']} tets, {m['elements']['nodes']} nodes, "
          f"{rec['resolved']['surface']['triangles']} surface triangles; quality ({m['quality']['measure']}) "
          f"min {m['quality']['min']:.3f} mean {m['quality']['mean']:.3f}")
    print("fractions image / mesh: " + ", ".join(
        f"{k} {m['volume_fractions'][k]:.4f} / {m['mesh_volume_fractions'][k]:.4f}" for k, _ in PHASES))
    print(f"connectivity: {json.dumps(m['connectivity'])}")
    print(f"layer resolution: {json.dumps(m['layer_resolution'])}")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
