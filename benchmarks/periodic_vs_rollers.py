"""Study: how much do lateral rollers bias the stresses of a random RVE against periodic faces?

For each electrode kind (infiltrated, co-sintered) one periodic mesh is built (the demo case
of ``examples/default.toml`` with ``[geometry] periodic = true``) and the mechanics is solved
on it at a uniform NVP filling y (default 0: fully desodiated, the largest Vegard strain) with
``lateral_bc = "periodic"`` and with ``"rollers"``. Same mesh, same load: the differences are
the boundary conditions alone. Prints the main metrics of both and their ratio rollers/periodic
(mean, p99 and max in MPa). Run serially or under ``mpiexec``::

    .venv/bin/python benchmarks/periodic_vs_rollers.py [--box 7] [--y 0] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import _paths  # noqa: F401  (tests/ on sys.path: the test helpers below)
from builders import Mechanics

from fem_electrode.config import load_case
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.fenicsx import MPI

CASE = Path(__file__).resolve().parent.parent / "examples" / "default.toml"
#: (label, path into metrics["mechanics"], scale to print)
ROWS = [
    ("NVP von Mises mean (MPa)", ("phases", "NVP", "von_mises", "mean"), 1e-6),
    ("NVP von Mises p99 (MPa)", ("phases", "NVP", "von_mises", "p99"), 1e-6),
    ("NVP hydrostatic mean (MPa)", ("phases", "NVP", "hydrostatic", "mean"), 1e-6),
    ("NZSP max principal p99 (MPa)", ("phases", "NZSP", "max_principal", "p99"), 1e-6),
    ("NZSP max principal max (MPa)", ("phases", "NZSP", "max_principal", "max"), 1e-6),
    ("NZSP volume above strength", ("phases", "NZSP", "fraction_above_strength"), 1.0),
    ("interface normal traction p99 (MPa)", ("interface", "normal_traction", "p99"), 1e-6),
    ("interface shear traction p99 (MPa)", ("interface", "shear_traction", "p99"), 1e-6),
    ("elastic energy per NVP volume (MJ/m^3)", ("elastic_energy", "per_nvp_volume"), 1e-6),
    ("strain accommodation index", ("strain_accommodation_index",), 1.0),
]


def lookup(metrics: dict, path: tuple[str, ...]) -> float:
    for key in path:
        metrics = metrics[key]
    return float(metrics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--box", type=float, default=7.0, help="RVE edge (µm)")
    parser.add_argument("--y", type=float, default=0.0, help="uniform NVP filling")
    parser.add_argument("--meshes", default="meshes/periodic-study", help="mesh folder")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    results = {}
    for kind in ("infiltrated", "cosintered"):
        base = load_case(CASE).replace(case={"name": f"periodic-{kind}"}, solver={"linear": "iterative"},
                                       geometry={"kind": kind, "periodic": True,
                                                 "box": [args.box] * 3})
        msh = None
        if comm.rank == 0:
            from fem_electrode.geometry import build_mesh

            msh, _ = build_mesh(base, args.meshes)
        msh = comm.bcast(str(msh) if msh else None, root=0)
        for lateral in ("periodic", "rollers"):
            case = base.replace(mechanics={"lateral_bc": lateral})
            t0 = time.perf_counter()
            mech = Mechanics(Domain.from_msh(msh, comm), case)
            info = mech.solve_y(args.y)
            metrics = mech.metrics()
            results[kind, lateral] = {"metrics": {label: lookup(metrics, path) * scale
                                                  for label, path, scale in ROWS},
                                      "dofs": info.dofs, "iterations": info.iterations,
                                      "seconds": time.perf_counter() - t0}
            mech.destroy()
    if comm.rank != 0:
        return
    print(f"rollers vs periodic lateral faces, same periodic mesh, uniform y = {args.y:g}, "
          f"{args.box:g} µm RVE, {comm.size} rank(s)")
    for kind in ("infiltrated", "cosintered"):
        p, r = results[kind, "periodic"], results[kind, "rollers"]
        print(f"\n{kind}: {p['dofs']} dofs; CG iterations periodic {p['iterations']}, rollers "
              f"{r['iterations']}; wall {p['seconds']:.1f} s / {r['seconds']:.1f} s")
        print(f"  {'metric':<40} {'periodic':>10} {'rollers':>10} {'rol/per':>8}")
        for label, _, _ in ROWS:
            a, b = p["metrics"][label], r["metrics"][label]
            ratio = f"{b / a:8.3f}" if a else "       -"
            print(f"  {label:<40} {a:>10.4g} {b:>10.4g} {ratio}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{k}/{lat}": v for (k, lat), v in results.items()}, f, indent=2)


if __name__ == "__main__":
    main()
