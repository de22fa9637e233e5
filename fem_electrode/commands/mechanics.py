"""`fem-electrode mechanics CASE.toml [-o runs/NAME] [--mesh FILE.msh] [--y Y | --from-run RUN
[--time T]]`: mechanics alone.

Solves linear elasticity for a prescribed NVP state, no electrochemistry: a uniform filling
y (``[mechanics] prescribed_y`` or ``--y``), or the concentration field of a finished run
(``[mechanics] concentration_from`` / ``--from-run``: one of its ``concentration/`` snapshots,
the most strained or the one nearest ``concentration_time`` / ``--time``; same mesh). The
mesh is the case's (built or reused like ``run`` does) or ``--mesh``. Writes the run folder:
the resolved ``case.toml``, ``metrics.json`` (block ``mechanics``, design §4),
``stress_samples.npz`` (for the report) and the ParaView fields in ``fields/``
(``mesh.xdmf``, ``displacement.xdmf``, the stress fields and interface tractions).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fem_electrode import atomic
from fem_electrode.config import Case, ConfigError, load_case, write_case
from fem_electrode.log import get_logger
from fem_electrode.outputs import snapshots

NAME = "mechanics"
EXIT_OK, EXIT_FAILED = 0, 1
HELP = ("solve the mechanics alone for a uniform NVP filling y or a finished run's concentration, "
        "and write metrics and fields")

#: Provenance keys (``resolved``, µm) that give the NVP layer thickness, by preference.
PROVENANCE_THICKNESS_KEYS = ("layer_thickness", "film_thickness", "coating_thickness")

log = get_logger("mechanics")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", help="case file (TOML)")
    parser.add_argument("-o", "--output", default=None,
                        help="run folder (default: <output.directory>/<case.name>)")
    parser.add_argument("--mesh", default=None, help="use this .msh instead of building the case's mesh")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--y", type=float, default=None,
                        help="uniform NVP filling y = c/c_max (default: [mechanics] prescribed_y)")
    source.add_argument("--from-run", default=None,
                        help="finished run folder: solve on its NVP concentration "
                             "(default: [mechanics] concentration_from)")
    parser.add_argument("--time", type=float, default=None,
                        help="with --from-run: the snapshot nearest this time (s; default: "
                             "[mechanics] concentration_time, else the most strained one)")


def nvp_state(case: Case, y: float | None, source: str, from_run: str | None = None,
              time_s: float | None = None) -> float | snapshots.Snapshot:
    """The NVP state to solve for: a uniform filling y, or a run's concentration snapshot.

    Command-line values win over the case's; problems are a :class:`ConfigError` before
    anything is created.
    """
    if from_run is not None or (y is None and case.mechanics.concentration_from is not None):
        run = from_run if from_run is not None else case.mechanics.concentration_from
        key = "--from-run" if from_run is not None else "mechanics.concentration_from"
        time_s = case.mechanics.concentration_time if time_s is None else time_s
        if time_s is not None and time_s < 0:
            raise ConfigError([f"--time = {time_s!r}: allowed: >= 0 s"], source)
        found = snapshots.available(run) if Path(run).is_dir() else []
        if not found:
            raise ConfigError([f"{key} = {run!r}: no concentration snapshots ({snapshots.FOLDER}/"
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


def provenance_thickness(msh: Path) -> float | None:
    """NVP layer thickness (m) recorded in the mesh's provenance JSON, if any."""
    js = Path(msh).with_suffix(".json")
    if not js.is_file():
        return None
    data = json.loads(js.read_text())
    resolved = data.get("resolved", {})
    to_metre = data.get("units", {}).get("to_metre", 1e-6)
    for key in PROVENANCE_THICKNESS_KEYS:
        if resolved.get(key) is not None:
            return float(resolved[key]) * to_metre
    return None


def solve_prescribed(case: Case, out_dir: str | Path, state: float | snapshots.Snapshot,
                     mesh: str | Path | None = None, comm=None, domain=None) -> dict[str, Any]:
    """Mesh (or read ``mesh``, or use ``domain``), solve for the NVP ``state`` (uniform filling
    y, or a run's concentration snapshot), write the run folder; returns metrics.json."""
    from fem_electrode.fenicsx import MPI, dolfinx
    from fem_electrode.mechanics import MechanicsProblem
    from fem_electrode.report.samples import write_stress_samples
    from fem_electrode.simulation import load_domain

    comm = comm or MPI.COMM_WORLD
    out = Path(out_dir)
    if domain is None:
        domain, msh = load_domain(case, comm, mesh)
    else:
        msh = mesh
    thickness = comm.bcast(provenance_thickness(msh) if comm.rank == 0 and msh else None, root=0)
    mech = MechanicsProblem(domain, case, layer_thickness=thickness)
    try:
        if isinstance(state, snapshots.Snapshot):
            space = dolfinx.fem.functionspace(domain.submesh("NVP").mesh, ("Lagrange", 1))
            c = dolfinx.fem.Function(space, name="c")
            snapshots.read(state, c, comm)
            info = mech.solve(c)
            t, y = state.time_s, state.y_mean
            reason = (f"mechanics only, NVP concentration of {state.path.parent.parent} at "
                      f"t = {t:g} s (y_mean = {y:.4g})")
        else:
            info = mech.solve_y(state)
            t, y = 0.0, state
            reason = f"mechanics only, uniform NVP filling y = {y:g}"
        data = {"status": "completed", "reason": reason,
                "mechanics": {**mech.metrics(), "time_s": t, "y_mean": y},
                "cell": {"mesh": str(msh), "counts": domain.global_counts()},
                "solver": {"mechanics_iterations": info.iterations, "mechanics_dofs": info.dofs,
                           "mechanics_reason": info.reason, "mechanics_wall_time_s": info.seconds,
                           "mechanics_degree": mech.degree}}
        if isinstance(state, snapshots.Snapshot):
            data["source"] = {"snapshot": str(state.path), "time_s": t, "y_mean": y}
        if case.output.fields != "none":
            mech.write_fields(out / "fields", t)
            domain.write_xdmf(out / "fields" / "mesh.xdmf")
        write_stress_samples(mech.post, out / "stress_samples.npz", time=t, y_mean=y)
    finally:
        mech.destroy()
    if comm.rank == 0:
        write_case(case, out / "case.toml")
        atomic.write_json(out / "metrics.json", data)
    comm.Barrier()
    return data


def run(args: argparse.Namespace) -> int:
    case = load_case(args.case)  # ConfigError -> exit 2 before anything is created
    state = nvp_state(case, args.y, args.case, args.from_run, args.time)
    if args.mesh is not None and not Path(args.mesh).is_file():
        raise ConfigError([f"--mesh {args.mesh!r}: no such file"], args.case)
    out = Path(args.output) if args.output else Path(case.output.directory) / case.case.name
    from fem_electrode.mechanics import MechanicsError

    try:
        data = solve_prescribed(case, out, state, mesh=args.mesh)
    except MechanicsError as exc:
        log.error("mechanics failed: %s", exc)
        return EXIT_FAILED
    m = data["mechanics"]
    log.info("done: %s (%d dofs, %d iterations)", out, data["solver"]["mechanics_dofs"],
             data["solver"]["mechanics_iterations"])
    for phase, p in m["phases"].items():
        log.info("  %-4s von Mises mean %.3g Pa, p99 %.3g Pa; max principal > strength in %.3g of the volume",
                 phase, p["von_mises"]["mean"] or 0.0, p["von_mises"]["p99"] or 0.0,
                 p["fraction_above_strength"] or 0.0)
    log.info("  strain accommodation index %s, elastic energy per NVP volume %s J/m^3",
             m["strain_accommodation_index"], m["elastic_energy"]["per_nvp_volume"])
    return EXIT_OK
