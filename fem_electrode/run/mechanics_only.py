"""The mechanics alone, for a prescribed NVP state: a uniform filling y or a finished run's concentration.

No electrochemistry: linear elasticity for the state, then the run folder (resolved case,
``metrics.json`` with the ``mechanics`` block, the stress samples and the ParaView fields;
names from :mod:`fem_electrode.run.folder`). The state is a uniform filling y (``[mechanics]
prescribed_y``) or the concentration of a finished run (``[mechanics] concentration_from``:
one of its snapshots, the most strained or the one nearest ``concentration_time``; same mesh).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fem_electrode.config import Case, ConfigError, write_case
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.outputs import snapshots
from fem_electrode.outputs.mechanics_fields import MechanicsFieldWriter
from fem_electrode.outputs.stress import StressPost
from fem_electrode.outputs.stress_samples import write_stress_samples
from fem_electrode.problems.cohesive_mechanics import CohesiveMechanicsProblem
from fem_electrode.problems.mechanics import MechanicsProblem
from fem_electrode.run import guard, setup
from fem_electrode.run.folder import RunFolder
from fem_electrode.run.meshes import load_domain
from fem_electrode.util import atomic


def nvp_state(case: Case, y: float | None, source: str, from_run: str | None = None,
              time_s: float | None = None) -> float | snapshots.Snapshot:
    """The NVP state to solve for: a uniform filling y, or a run's concentration snapshot.

    Command-line values win over the case's; problems are a :class:`ConfigError` before
    anything is created.
    """
    if from_run is not None or (y is None and case.mechanics.concentration_from is not None):
        run = from_run if from_run is not None else case.mechanics.concentration_from
        assert run is not None
        key = "--from-run" if from_run is not None else "mechanics.concentration_from"
        time_s = case.mechanics.concentration_time if time_s is None else time_s
        if time_s is not None and time_s < 0:
            raise ConfigError([f"--time = {time_s!r}: allowed: >= 0 s"], source)
        folder = RunFolder.at(run).concentration
        found = snapshots.available(folder) if folder.is_dir() else []
        if not found:
            raise ConfigError([f"{key} = {run!r}: no concentration snapshots ({folder.name}/"
                               f"{snapshots.PATTERN}) in that folder; allowed: a run folder written "
                               "with [output] concentration_snapshots = true"], source)
        return snapshots.choose(found, time_s, case.mechanics.y_ref)
    if time_s is not None:
        raise ConfigError([f"--time = {time_s!r} needs --from-run (or mechanics.concentration_from)"], source)
    y = case.mechanics.prescribed_y if y is None else y
    if y is None:
        raise ConfigError(["mechanics.prescribed_y: the mechanics command needs a uniform NVP filling "
                           "y in [0, 1] (set it in the case or pass --y) or a finished run "
                           "(mechanics.concentration_from or --from-run)"], source)
    if not 0.0 <= y <= 1.0:
        raise ConfigError([f"--y = {y!r}: allowed: [0, 1]"], source)
    return float(y)


def solve_prescribed(case: Case, out_dir: str | Path, state: float | snapshots.Snapshot,
                     mesh: str | Path | None = None, comm: MPI.Comm | None = None,
                     domain: Domain | None = None, *, case_file: Path | None = None,
                     overwrite: bool = False) -> dict[str, Any]:
    """Mesh (or read ``mesh``, or use ``domain``), solve for the NVP ``state`` (uniform filling
    y, or a run's concentration snapshot), write the run folder; returns metrics.json."""
    comm = comm or MPI.COMM_WORLD
    folder = RunFolder.at(out_dir)
    if isinstance(state, snapshots.Snapshot) and state.path.parent.parent.resolve() == folder.path.resolve():
        raise ConfigError([f"-o {str(folder.path)!r} is the run whose concentration is read: its outputs "
                           "would be replaced; write the mechanics into another folder"], case.source)
    held, _ = guard.claim(folder, case, comm, case_file=case_file, overwrite=overwrite)
    try:
        return _solve(case, folder, state, mesh, comm, domain)
    finally:
        held.release()


@dataclass(frozen=True)
class _Loaded:
    """The last solve of a loading path and its number of steps."""

    steps: int
    iterations: int
    reason: str
    seconds: float
    dofs: int


def _solve_in_steps(case: Case, mech: MechanicsProblem, c: dolfinx.fem.Function | float) -> _Loaded:
    """Solve for the NVP concentration ``c`` (mol/m³). A cohesive interface is path dependent: it is
    loaded proportionally from the stress-free state in steps that move y by at most
    ``mechanics.damage_update_dy`` at any node (one step when that is 0, and for a bonded
    interface)."""
    c_ref = mech.params.y_ref * mech.params.c_max
    steps = 1
    dy = case.mechanics.damage_update_dy
    if isinstance(mech, CohesiveMechanicsProblem) and dy > 0.0:
        values = c.x.array if isinstance(c, dolfinx.fem.Function) else np.array([c])
        local = float(np.max(np.abs(values - c_ref), initial=0.0)) / mech.params.c_max
        steps = max(1, math.ceil(mech.domain.mesh.comm.allreduce(local, op=MPI.MAX) / dy - 1e-9))
    seconds, info = 0.0, None
    part = dolfinx.fem.Function(c.function_space) if isinstance(c, dolfinx.fem.Function) else None
    for k in range(1, steps + 1):
        s = k / steps
        if isinstance(c, dolfinx.fem.Function):
            assert part is not None
            part.x.array[:] = c_ref + s * (c.x.array - c_ref)
            info = mech.solve(part)
        else:
            info = mech.solve(c_ref + s * (c - c_ref))
        seconds += info.seconds
    assert info is not None
    return _Loaded(steps, info.iterations, info.reason, seconds, info.dofs)


def _metrics(case: Case, mech: MechanicsProblem, post: StressPost, layer: Any, info: _Loaded, t: float,
             y: float) -> dict[str, Any]:
    """The ``mechanics`` and ``solver`` blocks (and ``interface_damage`` of a cohesive interface)."""
    data: dict[str, Any] = {
        "mechanics": {**post.metrics(setup.strengths(case), layer), "time_s": t, "y_mean": y},
        "solver": {"mechanics_iterations": info.iterations, "mechanics_dofs": info.dofs,
                   "mechanics_reason": info.reason, "mechanics_wall_time_s": info.seconds,
                   "mechanics_degree": mech.degree}}
    if isinstance(mech, CohesiveMechanicsProblem):
        data["interface_damage"] = mech.interface_state().as_metrics()
    return data


def uniform_filling_metrics(case: Case, domain: Domain, msh: Path | None, y: float) -> dict[str, Any]:
    """Solve the mechanics for a uniform NVP filling ``y`` on ``domain`` and return its metrics
    blocks (``mechanics``, ``solver``, ``interface_damage`` if cohesive); writes nothing."""
    mech = setup.mechanics_problem(case, domain)
    try:
        post = StressPost(mech)
        info = _solve_in_steps(case, mech, y * mech.params.c_max)
        return _metrics(case, mech, post, setup.layer_thickness(case, domain, msh), info, 0.0, y)
    finally:
        mech.destroy()


def _solve(case: Case, folder: RunFolder, state: float | snapshots.Snapshot, mesh: str | Path | None,
           comm: MPI.Comm, domain: Domain | None) -> dict[str, Any]:
    msh: Path | None
    if domain is None:
        domain, msh = load_domain(case, comm, mesh)
    else:
        msh = Path(mesh) if mesh is not None else None
    mech = setup.mechanics_problem(case, domain)
    post = StressPost(mech)
    layer = setup.layer_thickness(case, domain, msh)
    try:
        if isinstance(state, snapshots.Snapshot):
            space = dolfinx.fem.functionspace(domain.submesh("NVP").mesh, ("Lagrange", 1))
            c = dolfinx.fem.Function(space, name="c")
            snapshots.read(state, c, comm)
            info = _solve_in_steps(case, mech, c)
            t, y = state.time_s, state.y_mean
            reason = (f"mechanics only, NVP concentration of {state.path.parent.parent} at "
                      f"t = {t:g} s (y_mean = {y:.4g})")
        else:
            info = _solve_in_steps(case, mech, state * mech.params.c_max)
            t, y = 0.0, state
            reason = f"mechanics only, uniform NVP filling y = {y:g}"
        if isinstance(mech, CohesiveMechanicsProblem):
            reason += (f" (cohesive interface, loaded from the stress-free state in {info.steps} steps of at "
                       f"most {case.mechanics.damage_update_dy:g} in y)")
        data = {"status": "completed", "reason": reason, **_metrics(case, mech, post, layer, info, t, y),
                "cell": {"mesh": str(msh), "counts": domain.global_counts(),
                         "nvp_residual_strain": mech.params.residual_strain}}
        if isinstance(state, snapshots.Snapshot):
            data["source"] = {"snapshot": str(state.path), "time_s": t, "y_mean": y}
        if case.output.fields != "none":
            with MechanicsFieldWriter(post, folder.fields) as writer:
                writer.write(t)
            domain.write_xdmf(folder.mesh_xdmf)
        write_stress_samples(post, folder.stress_samples, time=t, y_mean=y)
    finally:
        mech.destroy()
    if comm.rank == 0:
        write_case(case, folder.case)
        atomic.write_json(folder.metrics, data)
    comm.Barrier()
    return data
