"""Parallel scaling of one coupled Newton iteration and one mechanics solve.

Strong scaling: the same layered NZSP | NVP box at every rank count (default n = 68:
3 (n + 1)³ = 985 527 coupled dofs, the size of the issue's 1-rank measurement; the mechanics
box n³ cells has as many displacement dofs). Weak scaling: ≈ ``--weak-dofs`` (2.5·10⁵) coupled
dofs per rank, n chosen per rank count.

For every rank count the parent launches ``mpiexec -n R python bench_scaling.py --worker``
(one process group per point, so the points do not share caches or memory) and collects:

- coupled: time per Newton iteration of a 1 C step from rest (median of ``--repeat`` solves
  after a warm-up; field-split GMRES + GAMG, the default solver), Newton and GMRES iterations,
  and the throughput in dofs per second per core;
- mechanics: set-up (assembly + GAMG) and CG solve time and iterations (P1 elasticity with the
  rigid-body near-null space, lateral rollers).

Printed: a table per mode with times, iteration counts, speed-up and parallel efficiency
(strong: T₁ / (R T_R); weak: T₁ / T_R, both against the smallest rank count run). JSON into
``--json``. Run on a machine with enough cores for the largest R (``--ranks 1 2`` here;
``--ranks 1 2 4 8 16`` on a 16-core node)::

    .venv/bin/python benchmarks/bench_scaling.py [--ranks 1 2 4 8 16] [--modes strong weak]
        [--n 68] [--weak-dofs 2.5e5] [--repeat 1] [--json runs/scaling.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

#: Default strong-scaling box: 3 (n + 1)³ = 985 527 coupled dofs.
STRONG_N = 68
#: Coupled dofs per rank of the weak-scaling points.
WEAK_DOFS_PER_RANK = 2.5e5


def coupled_dofs(n: int) -> int:
    """Coupled dofs of the layered box with n × n × 2n cells (φ_e, c, φ_s on (n + 1)³ vertices each)."""
    return 3 * (n + 1) ** 3


def weak_n(ranks: int, per_rank: float) -> int:
    """The box division n whose coupled dofs are closest to ``per_rank`` × ``ranks``."""
    target = per_rank * ranks
    return min(range(4, 400), key=lambda n: abs(coupled_dofs(n) - target))


def worker(n: int, repeat: int) -> None:
    import _paths  # noqa: F401  (tests/ on sys.path)
    from bench_electrochemistry import BOX_UM, coupled
    from bench_mechanics import mechanics
    from layered import layered_box

    from fem_electrode.fem.fenicsx import MPI

    comm = MPI.COMM_WORLD
    lengths = tuple(1e-6 * v for v in BOX_UM)
    comm.Barrier()
    t0 = time.perf_counter()
    domain = layered_box(comm, lengths, (n, n, 2 * n), z_interface=lengths[2] / 2)
    mesh_s = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    c = coupled(domain, repeat, {})
    del domain
    comm.Barrier()
    m, _ = mechanics(comm, n, 1e-8)
    for k in [k for k in m if k.endswith("_s")]:
        m[k] = comm.allreduce(m[k], op=MPI.MAX)
    t_it = comm.allreduce(c["time_per_newton_iteration_s"], op=MPI.MAX)
    if comm.rank == 0:
        print("RESULT " + json.dumps({
            "ranks": comm.size, "n": n, "mesh_s": mesh_s,
            "coupled": {"dofs": c["dofs"], "time_per_newton_iteration_s": t_it,
                        "newton_iterations": c["newton_iterations"],
                        "gmres_per_newton": c["gmres_iterations_per_newton"],
                        "dofs_per_s_per_core": c["dofs"] / t_it / comm.size,
                        "peak_rss_growth_MB_max_rank": c["peak_rss_growth_MB"]},
            "mechanics": {"dofs": m["dofs"], "setup_s": m["assemble_s"] + m["setup_s"],
                          "solve_s": m["solve_s"], "iterations": m["iterations"],
                          "converged": m["converged"]},
        }), flush=True)


def launch(ranks: int, n: int, repeat: int, timeout: float) -> dict | None:
    script = Path(__file__).resolve()
    cmd = [sys.executable, str(script), "--worker", "--n", str(n), "--repeat", str(repeat)]
    if ranks > 1:
        cmd = [str(Path(sys.executable).with_name("mpiexec")), "-n", str(ranks), *cmd]
    print(f"  {ranks:>2} rank(s), n = {n} ({coupled_dofs(n):,} coupled dofs) ...", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"     timed out after {timeout:.0f} s", flush=True)
        return None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(f"     failed (exit {proc.returncode}): {proc.stderr[-1500:]}", flush=True)
        return None
    out = json.loads(lines[-1].removeprefix("RESULT "))
    out["wall_s"] = time.perf_counter() - t0
    return out


def table(mode: str, points: list[dict]) -> None:
    base = points[0]
    r0 = base["ranks"]
    t0c = base["coupled"]["time_per_newton_iteration_s"]
    t0m = base["mechanics"]["solve_s"] + base["mechanics"]["setup_s"]
    print(f"\n{mode} scaling (efficiency against {r0} rank(s))")
    head = (f"{'ranks':>5} {'coupled dofs':>13} {'s/Newton it':>11} {'GMRES/it':>8} {'dofs/s/core':>11}"
            f" {'eff':>5} | {'u dofs':>10} {'setup s':>8} {'solve s':>8} {'CG its':>6} {'eff':>5}")
    print(head)
    print("-" * len(head))
    for p in points:
        c, m, r = p["coupled"], p["mechanics"], p["ranks"]
        tc, tm = c["time_per_newton_iteration_s"], m["solve_s"] + m["setup_s"]
        if mode == "strong":
            ec, em = t0c * r0 / (tc * r), t0m * r0 / (tm * r)
        else:
            ec, em = t0c / tc, t0m / tm
        p["efficiency"] = {"coupled": ec, "mechanics": em}
        print(f"{r:>5} {c['dofs']:>13,} {tc:>11.2f} {c['gmres_per_newton']:>8.1f}"
              f" {c['dofs_per_s_per_core']:>11,.0f} {ec:>5.2f} | {m['dofs']:>10,} {m['setup_s']:>8.2f}"
              f" {m['solve_s']:>8.2f} {m['iterations']:>6} {em:>5.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--modes", nargs="+", default=["strong", "weak"], choices=["strong", "weak"])
    p.add_argument("--n", type=int, default=STRONG_N, help="strong scaling: box division (z: 2n)")
    p.add_argument("--weak-dofs", type=float, default=WEAK_DOFS_PER_RANK, help="weak scaling: dofs per rank")
    p.add_argument("--repeat", type=int, default=1, help="timed Newton solves after the warm-up")
    p.add_argument("--timeout", type=float, default=1800.0, help="s per point")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.n, args.repeat)
        return
    results: dict[str, list[dict]] = {}
    for mode in args.modes:
        print(f"{mode} scaling:", flush=True)
        points = []
        for r in sorted(args.ranks):
            n = args.n if mode == "strong" else weak_n(r, args.weak_dofs)
            point = launch(r, n, args.repeat, args.timeout)
            if point is not None:
                points.append(point)
        results[mode] = points
    for mode, points in results.items():
        if points:
            table(mode, points)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
