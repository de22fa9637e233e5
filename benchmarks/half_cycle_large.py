"""One galvanostatic half-cycle at ≈ 10⁶ coupled dofs, as a whole run (error-controlled steps).

The layered NZSP | NVP box of the scaling benchmark (8 × 8 × 16 µm, n × n × 2n cells; n = 68:
3 (n + 1)³ = 985 527 coupled dofs), NVP on top of NZSP, default materials and the default
iterative solver, D_nvp = 1e-13 m²/s (so that the 8 µm NVP layer fills the
half-cycle); the protocol is one charge at ``--rate`` (default 1 C) to the cut-off
(hold and rest off; the run stops itself once the charge ends). Printed: dofs, accepted and
retried steps, Newton iterations per step, time per Newton iteration, GMRES iterations per
Newton iteration, wall time of the half-cycle and the peak memory per dof (max over ranks).

    mpiexec -n 2 .venv/bin/python benchmarks/half_cycle_large.py [--n 68] [--rate 1]
        [-o runs/half-cycle-large]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import _paths  # noqa: F401  (tests/ on sys.path)
from bench_electrochemistry import BOX_UM
from layered import layered_box

from fem_electrode.config import validate
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.run import simulation
from fem_electrode.util.log import setup_logging


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=68)
    p.add_argument("--rate", type=float, default=1.0, help="C-rate")
    p.add_argument("-o", "--out", type=Path, default=Path("runs/half-cycle-large"))
    args = p.parse_args()
    comm = MPI.COMM_WORLD
    setup_logging(0)
    case = validate({
        "case": {"name": f"layered-n{args.n}"},
        "mechanics": {"coupling": "off"},
        # 8 µm of NVP: with the default D the surface empties long before the cut-off; a faster
        # diffusivity (L²/D = 640 s) lets the charge reach 3.8 V (a solver benchmark, not physics)
        "materials": {"D_nvp": 1e-13},
        "protocol": {"c_rate": args.rate, "cycles": 1, "hold_minutes": 0.0, "rest_minutes": 0.0,
                     "output_interval": 1e9},
        "output": {"fields": "none", "concentration_snapshots": False, "checkpoint_interval": 1e9},
    })
    lengths = tuple(1e-6 * v for v in BOX_UM)
    t0 = time.perf_counter()
    domain = layered_box(comm, lengths, (args.n, args.n, 2 * args.n), z_interface=lengths[2] / 2)
    t_mesh = time.perf_counter() - t0
    sims: list[simulation.Simulation] = []
    original_accept = simulation.Simulation.accept

    def accept_then_stop_after_charge(self, seg, *a, **k):  # one half-cycle is enough
        original_accept(self, seg, *a, **k)
        if not sims:
            sims.append(self)
        if seg.kind != "charge":
            simulation.request_stop()

    simulation.Simulation.accept = accept_then_stop_after_charge  # type: ignore[method-assign]
    t1 = time.perf_counter()
    result = simulation.run(case, args.out, domain=domain, overwrite=True)
    wall = time.perf_counter() - t1
    sim = sims[0]
    peak_mib = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, op=MPI.MAX)
    stats = sim.stats.as_dict()
    dofs = sum(u.function_space.dofmap.index_map.size_global for u in sim.problem.unknowns)
    charge_steps = sim.state.steps - 1  # the last accepted step belongs to the discharge
    if comm.rank == 0:
        out = {
            "ranks": comm.size, "n": args.n, "dofs": dofs, "c_rate": args.rate, "status": result.status,
            "mesh_s": t_mesh, "wall_s": wall, "steps_charge": charge_steps,
            "rejected_steps": sim.rejected, "newton_iterations": stats["newton_iterations"],
            "newton_per_step": stats["newton_iterations"] / max(sim.state.steps, 1),
            # with [solver] jacobian_reuse most iterations are chord steps: the Jacobians say how
            # many assembled and set up their preconditioner
            "jacobians": stats.get("jacobians"),
            "time_per_newton_iteration_s": wall / max(stats["newton_iterations"], 1),
            "gmres_per_newton": stats["mean_linear_iterations_per_newton"],
            "peak_rss_mib_max_rank": peak_mib,
            "peak_memory_per_dof_kib": peak_mib * 1024 * comm.size / dofs,
        }
        print(json.dumps(out, indent=2))
        (args.out / "half_cycle.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
