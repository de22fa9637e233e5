"""Benchmark of the geometry layer: `fem-electrode mesh` on the default RVEs.

For each case (default: examples/infiltrated.toml and examples/cosintered.toml) and each
thread count it prints the stage timings of :func:`fem_electrode.geometry.build_mesh`
(placement, OCC booleans, meshing, measurements, writing), the element count, tets/s, and
the ratio of our total time to gmsh doing the same work on its own (the same plan's OCC
booleans + ``generate(3)`` with the same size fields, in a fresh session, nothing else).

    .venv/bin/python benchmarks/bench_mesh.py [--threads 1 2] [CASE.toml ...]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import gmsh

from fem_electrode.config import load_case
from fem_electrode.geometry import BUILDERS, build_mesh, plan, sizing
from fem_electrode.geometry.session import gmsh_session

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CASES = (ROOT / "examples" / "infiltrated.toml", ROOT / "examples" / "cosintered.toml")


def gmsh_alone(case, attempt: int, refine: float) -> dict[str, float]:
    """gmsh on its own: the plan's OCC booleans and 3D meshing, nothing of ours around it."""
    the_plan = plan(case, attempt)
    with gmsh_session(threads=case.mesh.threads, algorithm=case.mesh.algorithm):
        t0 = time.perf_counter()
        regions = BUILDERS[case.geometry.kind].build(the_plan)
        t1 = time.perf_counter()
        sizing.apply(regions, sizing.resolve(case.mesh, the_plan.nvp_thickness, refine))
        gmsh.model.mesh.generate(3)
        t2 = time.perf_counter()
        _, tags, _ = gmsh.model.mesh.getElements(3)
    return {"occ": t1 - t0, "mesh": t2 - t1, "tets": sum(len(t) for t in tags)}


def bench(path: Path, threads: int, out: Path) -> None:
    case = load_case(path, {"mesh": {"threads": threads}})
    t0 = time.perf_counter()
    _, js = build_mesh(case, out)
    total = time.perf_counter() - t0
    rec = json.loads(js.read_text())
    t = rec["timings_s"]
    m = rec["measured"]
    tets = m["elements"]["tetrahedra"]
    sizes = rec["resolved"]["sizes"]
    alone = gmsh_alone(case, rec["attempt"], sizes["nvp_surface"] / sizes["nvp_interior"])
    fr = m["volume_fractions"]
    print(f"\n{case.case.name} ({case.geometry.kind}), threads={threads}, cpus={os.cpu_count()}")
    print("  stages [s]: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()) + f"; total {total:.2f}")
    print(f"  tets {tets}, nodes {m['elements']['nodes']}; meshing {tets / t['mesh']:.0f} tets/s, "
          f"end to end {tets / total:.0f} tets/s")
    print("  fractions: " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in fr.items())
          + f"; layer elements across: {m['min_elements_across_layer']}"
          + f"; quality min {m['quality']['min']:.3f} mean {m['quality']['mean']:.3f}")
    gmsh_total = alone["occ"] + alone["mesh"]
    print(f"  gmsh alone: occ {alone['occ']:.2f} + mesh {alone['mesh']:.2f} = {gmsh_total:.2f} s "
          f"({alone['tets']} tets); ours / gmsh alone = {total / gmsh_total:.2f} "
          f"(our layer: placement {t['placement']:.2f} s, measurements {t['measure']:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", type=Path, default=list(DEFAULT_CASES))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_mesh_") as tmp:
        for path in args.cases:
            for threads in args.threads:
                bench(path, threads, Path(tmp))


if __name__ == "__main__":
    main()
