"""Benchmark: the mechanics solve (P1 elasticity, CG + GAMG with the rigid-body near-null
space) against a scalar Poisson CG + GAMG solve on the same mesh, in the same run.

A layered NZSP | NVP box (upper half NVP, non-uniform filling handed over as a submesh
Function), the default boundary conditions (separator u_z = 0, lateral rollers), refined
``--n`` times (default 12, 24, 47 cells per edge: the last has ≥ 3·10^5 displacement dofs).
Both solves use the same relative tolerance. Printed per level: dofs, set-up time
(assembly, preconditioner), solve time and iterations of each, and the ratios. Iterations
must stay bounded under refinement. ``--lateral rollers periodic`` also solves each mesh
with periodic lateral faces (the box mesh is periodic) and prints the periodic/rollers ratios
of that run. Run serially and under ``mpiexec -n 2``::

    .venv/bin/python benchmarks/bench_mechanics.py [--n 12 24 47] [--rtol 1e-8]
        [--lateral rollers periodic] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time

import _paths  # noqa: F401  (tests/ on sys.path: the test helpers below)
import numpy as np
from builders import Mechanics
from layered import layered_box
from poisson_reference import PoissonReference

from fem_electrode.config import validate
from fem_electrode.fem.elastic_solver import ITERATIVE_OPTIONS, PETSC_PREFIX
from fem_electrode.fem.fenicsx import MPI, dolfinx

BOX = (8e-6, 8e-6, 8e-6)  # m
#: The Poisson solve uses the same Krylov/AMG options as the mechanics (scalar: no modes).
POISSON_OPTIONS = dict(ITERATIVE_OPTIONS)


def poisson(mesh: dolfinx.mesh.Mesh, rtol: float) -> dict:
    """−Δφ = 1 with φ = 0 on z = 0, P1, CG + GAMG; times of assembly, set-up and solve."""
    out = PoissonReference(mesh).solve({**POISSON_OPTIONS, "ksp_rtol": rtol})
    return {k: out[k] for k in ("dofs", "assemble_s", "setup_s", "solve_s", "iterations", "converged")}


def mechanics(comm: MPI.Comm, n: int, rtol: float,
              lateral: str = "rollers") -> tuple[dict, dolfinx.mesh.Mesh]:
    case = validate({"geometry": {"periodic": lateral == "periodic"},
                     "mechanics": {"lateral_bc": lateral},
                     "solver": {"petsc": {f"{PETSC_PREFIX}ksp_rtol": rtol}}})
    domain = layered_box(comm, BOX, (n, n, n), z_interface=BOX[2] * (n // 2) / n)
    t0 = time.perf_counter()
    mech = Mechanics(domain, case)
    t_problem = time.perf_counter() - t0
    sub = domain.submesh("NVP")
    c = dolfinx.fem.Function(dolfinx.fem.functionspace(sub.mesh, ("Lagrange", 1)))
    c_max = case.materials.c_max
    c.interpolate(lambda x: c_max * (0.5 + 0.4 * np.sin(2 * np.pi * x[0] / BOX[0]) * x[2] / BOX[2]))
    info = mech.solve(c)
    t1 = time.perf_counter()
    mech.metrics()
    t_metrics = time.perf_counter() - t1
    out = {"cells": domain.mesh.topology.index_map(3).size_global, "dofs": info.dofs,
           "assemble_s": mech.solver.setup_seconds["assemble"],
           "setup_s": mech.solver.setup_seconds["preconditioner"],
           "problem_s": t_problem, "solve_s": info.seconds, "iterations": info.iterations,
           "metrics_s": t_metrics,
           "converged": info.reason.startswith("CONVERGED")}
    mech.destroy()
    return out, domain.mesh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[12, 24, 47], help="cells per box edge")
    parser.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance of both solves")
    parser.add_argument("--lateral", nargs="+", default=["rollers"], choices=["rollers", "periodic"],
                        help="lateral boundary conditions to solve each mesh with")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rows = []
    for n in args.n:
        mesh, pois = None, None
        for lateral in args.lateral:
            comm.Barrier()
            mech, mesh = mechanics(comm, n, args.rtol, lateral)
            comm.Barrier()
            pois = pois or poisson(mesh, args.rtol)
            # the slowest rank decides
            for d in (mech, pois):
                for k in [k for k in d if k.endswith("_s")]:
                    d[k] = comm.allreduce(d[k], op=MPI.MAX)
            rows.append({"n": n, "ranks": comm.size, "lateral": lateral, "mechanics": mech, "poisson": pois,
                         "solve_ratio": mech["solve_s"] / pois["solve_s"],
                         "setup_ratio": (mech["assemble_s"] + mech["setup_s"])
                         / (pois["assemble_s"] + pois["setup_s"]),
                         "iteration_ratio": mech["iterations"] / pois["iterations"]})
    if comm.rank != 0:
        return
    print(f"mechanics vs Poisson, CG + GAMG, rtol {args.rtol:g}, {comm.size} rank(s)")
    head = (f"{'n':>4} {'lateral':>8} {'cells':>9} | {'u dofs':>9} {'asm s':>7} {'PC s':>7}"
            f" {'solve s':>8} {'its':>4}"
            f" | {'φ dofs':>8} {'asm s':>7} {'PC s':>7} {'solve s':>8} {'its':>4}"
            f" | {'solve×':>6} {'setup×':>6} {'its×':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        m, p = r["mechanics"], r["poisson"]
        print(f"{r['n']:>4} {r['lateral']:>8} {m['cells']:>9} | {m['dofs']:>9} {m['assemble_s']:>7.2f} "
              f"{m['setup_s']:>7.2f} "
              f"{m['solve_s']:>8.2f} {m['iterations']:>4} | {p['dofs']:>8} {p['assemble_s']:>7.2f} "
              f"{p['setup_s']:>7.2f} {p['solve_s']:>8.2f} {p['iterations']:>4} | {r['solve_ratio']:>6.2f} "
              f"{r['setup_ratio']:>6.2f} {r['iteration_ratio']:>5.2f}")
    print("metrics() (first call compiles the stress Expressions) s: "
          + ", ".join(f"n={r['n']}: {r['mechanics']['metrics_s']:.2f}" for r in rows))
    for lateral in args.lateral:
        its = [r["mechanics"]["iterations"] for r in rows if r["lateral"] == lateral]
        print(f"mechanics iterations under refinement ({lateral}): {its} "
              f"(bounded: max/min = {max(its) / min(its):.2f})")
    if set(args.lateral) == {"rollers", "periodic"}:
        by = {(r["n"], r["lateral"]): r["mechanics"] for r in rows}
        for n in args.n:
            p, q = by[n, "periodic"], by[n, "rollers"]
            print(f"periodic / rollers at n = {n}: set-up (assembly incl. PtAP + PC) "
                  f"{(p['assemble_s'] + p['setup_s']) / (q['assemble_s'] + q['setup_s']):.2f}x, "
                  f"solve {p['solve_s'] / q['solve_s']:.2f}x, iterations {p['iterations']}/{q['iterations']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
