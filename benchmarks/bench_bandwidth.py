"""Memory-bound kernels at 1 … R ranks: the ceiling of strong scaling for a memory-bound solver.

A Krylov iteration with an algebraic-multigrid V-cycle is a sequence of sparse matrix-vector
products and vector updates, each reading its operands once from memory: its speed-up from 1 to
R ranks on one machine is bounded by how the memory bandwidth grows with R, not by the core
count. This script measures that bound on the machine it runs on, for the same problem size as
the strong-scaling point of ``bench_scaling.py`` (≈ 10⁶ dofs), one ``mpiexec`` process group per
rank count:

- ``triad``: a[:] = b + s c on the rank's share of 3 × 10⁶-long float64 arrays (numpy; STREAM's
  triad), GB/s summed over ranks (counted as 5 array passes, write-allocate not included: the
  absolute GB/s are low, the ratios are what matters; at 16 ranks a rank's share, 1.5 MB per
  array, may fit its cache: raise TRIAD_LENGTH there);
- ``matmult``: y = A x with the P1 Laplacian of an n³ box (PETSc, the matrix DOLFINx assembles),
  the kernel of every GMRES, Chebyshev and residual evaluation;
- ``mdot``: the dot products of x with 30 vectors (PETSc VecMDot), GMRES's orthogonalisation.

Printed per kernel: time per call, speed-up against the smallest rank count and the strong-scaling
efficiency T₁ / (R T_R). JSON into ``--json``::

    .venv/bin/python benchmarks/bench_bandwidth.py [--ranks 1 2] [--n 99] [--json runs/bandwidth.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

#: Length of each triad array summed over ranks (float64: 24 MB per array, above the caches here).
TRIAD_LENGTH = 3_000_000
#: Vectors in the VecMDot kernel (GMRES with restart 100 dots up to 100 per iteration; 30 is typical).
MDOT_VECTORS = 30
#: Repetitions of every kernel (the median is reported).
REPEAT = 30


def _median_time(fn, comm, repeat: int = REPEAT) -> float:
    import statistics

    times = []
    for _ in range(repeat):
        comm.Barrier()
        t0 = time.perf_counter()
        fn()
        comm.Barrier()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(n: int) -> None:
    import numpy as np

    from fem_electrode.fem.fenicsx import MPI, dolfinx, ufl

    fem, mesh, fem_petsc = dolfinx.fem, dolfinx.mesh, dolfinx.fem.petsc

    comm = MPI.COMM_WORLD
    local = TRIAD_LENGTH // comm.size
    a, b, c = np.zeros(local), np.random.rand(local), np.random.rand(local)

    def triad() -> None:
        np.multiply(c, 3.0, out=a)
        np.add(a, b, out=a)

    t_triad = _median_time(triad, comm)
    # three arrays of TRIAD_LENGTH doubles move per call (two read, one written; the in-place
    # two-pass form above moves a twice more: 5 passes in all)
    gbs = 5 * 8 * TRIAD_LENGTH / t_triad / 1e9

    domain = mesh.create_unit_cube(comm, n, n, n)
    V = fem.functionspace(domain, ("Lagrange", 1))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    A = fem_petsc.assemble_matrix(fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx))
    A.assemble()
    x, y = A.createVecs()
    x.setRandom()
    t_matmult = _median_time(lambda: A.mult(x, y), comm)
    vecs = [x.duplicate() for _ in range(MDOT_VECTORS)]
    for w in vecs:
        w.setRandom()
    t_mdot = _median_time(lambda: x.mDot(vecs), comm)
    if comm.rank == 0:
        print("RESULT " + json.dumps({
            "ranks": comm.size, "dofs": V.dofmap.index_map.size_global,
            "triad_s": t_triad, "triad_GB_per_s": gbs, "matmult_s": t_matmult, "mdot_s": t_mdot,
        }), flush=True)


def launch(ranks: int, n: int) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--n", str(n)]
    if ranks > 1:
        cmd = [str(Path(sys.executable).with_name("mpiexec")), "-n", str(ranks), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(f"  {ranks} rank(s) failed (exit {proc.returncode}): {proc.stderr[-1500:]}", flush=True)
        return None
    return json.loads(lines[-1].removeprefix("RESULT "))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--n", type=int, default=99, help="box divisions: (n + 1)³ dofs (99: 10⁶)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.n)
        return
    points = [pt for r in args.ranks if (pt := launch(r, args.n)) is not None]
    if not points:
        sys.exit("no rank count finished")
    base = points[0]
    print(f"\nmemory-bound kernels, {base['dofs']:,} dofs (efficiency against {base['ranks']} rank(s))")
    print(f"{'ranks':>5} {'triad GB/s':>10} {'triad eff':>9} {'MatMult ms':>10} {'eff':>5}"
          f" {'VecMDot ms':>10} {'eff':>5}")
    for pt in points:
        r = pt["ranks"] / base["ranks"]
        eff = {k: base[k] / (r * pt[k]) for k in ("triad_s", "matmult_s", "mdot_s")}
        pt["efficiency"] = eff
        print(f"{pt['ranks']:>5} {pt['triad_GB_per_s']:>10.1f} {eff['triad_s']:>9.2f}"
              f" {1e3 * pt['matmult_s']:>10.2f} {eff['matmult_s']:>5.2f}"
              f" {1e3 * pt['mdot_s']:>10.2f} {eff['mdot_s']:>5.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(points, indent=2))


if __name__ == "__main__":
    main()
