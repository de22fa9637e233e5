"""`fem-electrode mechanics CASE.toml [-o runs/NAME] [--mesh FILE.msh] [--y Y]`: mechanics alone.

Solves linear elasticity for a uniform NVP filling y (``[mechanics] prescribed_y`` or
``--y``; no electrochemistry) on the case's mesh (built or reused like ``run`` does, or
``--mesh``) and writes the run folder: the resolved ``case.toml``, ``metrics.json`` (block
``mechanics``, design §4), ``stress_samples.npz`` (for the report) and the ParaView fields in
``fields/`` (``mesh.xdmf``, ``displacement.xdmf``, the stress fields and interface tractions).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fem_electrode import atomic
from fem_electrode.config import Case, ConfigError, load_case, write_case
from fem_electrode.log import get_logger

NAME = "mechanics"
EXIT_OK, EXIT_FAILED = 0, 1
HELP = "solve the mechanics alone for a uniform NVP filling y and write metrics and fields"

#: Provenance keys (``resolved``, µm) that give the NVP layer thickness, by preference.
PROVENANCE_THICKNESS_KEYS = ("layer_thickness", "film_thickness", "coating_thickness")

log = get_logger("mechanics")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", help="case file (TOML)")
    parser.add_argument("-o", "--output", default=None,
                        help="run folder (default: <output.directory>/<case.name>)")
    parser.add_argument("--mesh", default=None, help="use this .msh instead of building the case's mesh")
    parser.add_argument("--y", type=float, default=None,
                        help="uniform NVP filling y = c/c_max (default: [mechanics] prescribed_y)")


def filling(case: Case, y: float | None, source: str) -> float:
    """The prescribed filling, or a :class:`ConfigError` (before anything is created)."""
    y = case.mechanics.prescribed_y if y is None else y
    if y is None:
        raise ConfigError(["mechanics.prescribed_y: the mechanics command needs a uniform NVP filling "
                           "y in [0, 1] (set it in the case or pass --y)"], source)
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


def solve_prescribed(case: Case, out_dir: str | Path, y: float, mesh: str | Path | None = None,
                     comm=None) -> dict[str, Any]:
    """Mesh (or read ``mesh``), solve for filling ``y``, write the run folder; returns metrics.json."""
    from fem_electrode.fenicsx import MPI
    from fem_electrode.mechanics import MechanicsProblem
    from fem_electrode.report.samples import write_stress_samples
    from fem_electrode.simulation import load_domain

    comm = comm or MPI.COMM_WORLD
    out = Path(out_dir)
    domain, msh = load_domain(case, comm, mesh)
    thickness = comm.bcast(provenance_thickness(msh) if comm.rank == 0 else None, root=0)
    mech = MechanicsProblem(domain, case, layer_thickness=thickness)
    try:
        info = mech.solve_y(y)
        data = {"status": "completed", "reason": f"mechanics only, uniform NVP filling y = {y:g}",
                "mechanics": {**mech.metrics(), "time_s": 0.0, "y_mean": y},
                "cell": {"mesh": str(msh), "counts": domain.global_counts()},
                "solver": {"mechanics_iterations": info.iterations, "mechanics_dofs": info.dofs,
                           "mechanics_reason": info.reason, "mechanics_wall_time_s": info.seconds,
                           "mechanics_degree": mech.degree}}
        if case.output.fields != "none":
            mech.write_fields(out / "fields", 0.0)
            domain.write_xdmf(out / "fields" / "mesh.xdmf")
        write_stress_samples(mech.post, out / "stress_samples.npz", time=0.0, y_mean=y)
    finally:
        mech.destroy()
    if comm.rank == 0:
        write_case(case, out / "case.toml")
        atomic.write_json(out / "metrics.json", data)
    comm.Barrier()
    return data


def run(args: argparse.Namespace) -> int:
    case = load_case(args.case)  # ConfigError -> exit 2 before anything is created
    y = filling(case, args.y, args.case)
    if args.mesh is not None and not Path(args.mesh).is_file():
        raise ConfigError([f"--mesh {args.mesh!r}: no such file"], args.case)
    out = Path(args.output) if args.output else Path(case.output.directory) / case.case.name
    from fem_electrode.mechanics import MechanicsError

    try:
        data = solve_prescribed(case, out, y, mesh=args.mesh)
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
