"""Benchmark: one coupled electrochemistry Newton iteration against a Poisson CG + GAMG solve.

In one run, on the same mesh (a layered NZSP | NVP box, or ``--msh`` for a real RVE):

- Poisson P1 on the whole mesh (Dirichlet on the separator face, a source; assembly of A and
  b, GAMG set-up, CG to rtol 1e-8), and on a finer box with as many dofs as the coupled
  problem (``same-dofs``);
- the coupled problem (φ_e, c, φ_s, Butler–Volmer) with the default solver of
  :mod:`fem_electrode.fem.newton`: one 1 C galvanostatic time step from rest, timed per Newton
  iteration (residual + Jacobian assembly, field-split set-up, GMRES).

It prints dofs, times (median of ``--repeat``), Krylov iterations, matrix nonzeros, the
growth of the peak resident memory (max over ranks) and the ratio: Newton iteration / Poisson
solve (target ≤ 5). Peak memory only means something for the first part of a process, so
``--part`` runs one part alone (compare ``--part coupled`` with ``--part poisson-same-dofs``).
Run serially and under ``mpiexec -n 2``::

    .venv/bin/python benchmarks/bench_electrochemistry.py [--n 32] [--msh FILE] [--part P] [--petsc k=v ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import _paths  # noqa: F401  (tests/ on sys.path: the test helpers below)
import numpy as np
from builders import electro_params, solver_settings
from layered import layered_box
from poisson_reference import PoissonReference

from fem_electrode.fem.domain import Domain, bounding_box
from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem

#: Tolerance of the Poisson CG solve (the coupled GMRES uses solver.KSP_RTOL = 1e-8 too).
POISSON_RTOL = 1e-8
#: The Poisson reference: CG + GAMG (PETSc defaults otherwise).
POISSON_OPTIONS = {"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": POISSON_RTOL}
BOX_UM = (8.0, 8.0, 16.0)  # layered benchmark box, µm


def rss_mb(key: str = "VmHWM") -> float:
    """Peak (VmHWM) or current (VmRSS) resident set size of this process (MB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{key}:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def poisson(mesh: dolfinx.mesh.Mesh, repeat: int) -> dict:
    """Assemble and solve −Δu = 1, u = 0 on z = 0, with CG + GAMG; median times."""
    rss0 = rss_mb()
    ref = PoissonReference(mesh)
    runs = [ref.solve(POISSON_OPTIONS) for _ in range(repeat)]
    return {
        "dofs": ref.dofs,
        **{k: statistics.median(r[k] for r in runs) for k in ("assemble_s", "setup_s", "solve_s", "total_s")},
        "cg_iterations": runs[-1]["iterations"],
        "matrix_nonzeros": runs[-1]["matrix_nonzeros"],  # MatGetInfo sums over ranks
        "peak_rss_growth_MB": mesh.comm.allreduce(rss_mb() - rss0, op=MPI.MAX),
    }


def coupled(domain: Domain, repeat: int, petsc: dict) -> dict:
    """One 1 C galvanostatic time step from rest; time per Newton iteration."""
    comm = domain.mesh.comm
    rss0 = rss_mb()
    params = electro_params(initial_y=0.5, r_series=3.7e-3)
    # plain Newton (no Jacobian reuse): every iteration assembles and sets up, the unit timed here
    settings = solver_settings("iterative", petsc=petsc, jacobian_reuse=0.0)
    prob = ElectrochemistryProblem(domain, params, settings, c_rate=1.0)
    snes = prob.newton.snes
    dofs = sum(u.function_space.dofmap.index_map.size_global for u in prob.unknowns)
    per_it, its, lin = [], [], []
    for k in range(repeat + 1):  # the first solve also compiles nothing but warms up caches
        prob.initialise(0.5)
        prob.set_galvanostatic(prob.current_1c)
        t0 = time.perf_counter()
        result = prob.solve(10.0)
        dt = time.perf_counter() - t0
        if not result.converged:
            raise RuntimeError(f"benchmark Newton solve failed: {result}")
        if k > 0:
            per_it.append(dt / max(result.iterations, 1))
            its.append(result.iterations)
            lin.append(result.linear_iterations / max(result.iterations, 1))
    A = prob.newton.problem.A
    # time the pieces of one iteration at the converged state
    x = prob.newton.problem.x
    b = prob.newton.problem.b
    t0 = time.perf_counter()
    snes.computeFunction(x, b)
    t1 = time.perf_counter()
    snes.computeJacobian(x, A)
    t2 = time.perf_counter()
    out = {
        "dofs": dofs,
        "dofs_per_field": {u.name: u.function_space.dofmap.index_map.size_global for u in prob.unknowns},
        "newton_iterations": statistics.median(its),
        "gmres_iterations_per_newton": statistics.median(lin),
        "time_per_newton_iteration_s": statistics.median(per_it),
        "residual_assembly_s": t1 - t0,
        "jacobian_assembly_s": t2 - t1,
        "matrix_nonzeros": A.getInfo()["nz_used"],
        "peak_rss_growth_MB": comm.allreduce(rss_mb() - rss0, op=MPI.MAX),
        "options": {k: v for k, v in prob.newton.options.options.items()
                    if "fieldsplit" in k or k.startswith(("ksp", "pc"))},
    }
    prob.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=32, help="cells along x and y of the layered box (z: 2n)")
    p.add_argument("--msh", default=None, help="use this RVE mesh instead of the layered box")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--petsc", nargs="*", default=[], help="extra options key=value (no prefix)")
    p.add_argument("--part", choices=("coupled", "poisson-same-mesh", "poisson-same-dofs"), default=None,
                   help="run one part only (for its peak memory)")
    args = p.parse_args()
    comm = MPI.COMM_WORLD
    petsc = dict(kv.split("=", 1) for kv in args.petsc)
    if args.msh:
        domain = Domain.from_msh(args.msh, comm)
    else:
        n = args.n
        lengths = tuple(1e-6 * v for v in BOX_UM)
        domain = layered_box(comm, lengths, (n, n, 2 * n), z_interface=lengths[2] / 2)
    # a box with as many P1 dofs as the coupled problem (3 fields on the phases)
    lo, hi = bounding_box(domain.mesh)
    n_coupled = domain.mesh.topology.index_map(0).size_global + _phase_vertices(domain)
    k = _box_divisions(n_coupled, hi - lo)
    if args.part is not None:
        if args.part == "coupled":
            result = coupled(domain, args.repeat, petsc)
        else:
            same = args.part == "poisson-same-mesh"
            result = poisson(domain.mesh if same else dolfinx.mesh.create_box(comm, [lo, hi], k), args.repeat)
        if comm.rank == 0:
            print(json.dumps({"ranks": comm.size, "part": args.part, **result}, indent=2))
        return
    same_mesh = poisson(domain.mesh, args.repeat)
    c = coupled(domain, args.repeat, petsc)
    same_dofs = poisson(dolfinx.mesh.create_box(comm, [lo, hi], k), args.repeat)
    t_it = c["time_per_newton_iteration_s"]
    report = {
        "ranks": comm.size,
        "mesh": args.msh or f"layered box {BOX_UM} um, n = {args.n}",
        "poisson_same_mesh": same_mesh,
        "poisson_same_dofs": same_dofs,
        "coupled": c,
        "newton_iteration_over_poisson_solve_same_mesh": t_it / same_mesh["total_s"],
        "newton_iteration_over_poisson_solve_same_dofs": t_it / same_dofs["total_s"],
        "per_dof_ratio": (t_it / c["dofs"]) / (same_mesh["total_s"] / same_mesh["dofs"]),
        "matrix_nonzeros_ratio_same_dofs": c["matrix_nonzeros"] / same_dofs["matrix_nonzeros"],
    }
    if comm.rank == 0:
        print(json.dumps(report, indent=2))


def _phase_vertices(domain: Domain) -> int:
    """Vertices of the NVP submesh (its second field adds them again to the coupled dofs)."""
    return domain.submesh("NVP").mesh.topology.index_map(0).size_global


def _box_divisions(n_dofs: int, size: np.ndarray) -> list[int]:
    """Divisions of a box of ``size`` with about ``n_dofs`` vertices and cubic-ish cells."""
    h = (float(np.prod(size)) / n_dofs) ** (1.0 / 3.0)
    for _ in range(50):  # vertices are (k + 1) per direction: shrink h until they match
        k = [max(1, round(s / h)) for s in size]
        if np.prod([v + 1 for v in k]) <= n_dofs:
            return k
        h *= 1.01
    return k


if __name__ == "__main__":
    main()
