"""`fem-electrode mechanics CASE.toml [-o runs/NAME] [--mesh FILE.msh] [--y Y | --from-run RUN
[--time T]]`: mechanics alone.

Solves linear elasticity for a prescribed NVP state, no electrochemistry
(:mod:`fem_electrode.run.mechanics_only`): a uniform filling y (``[mechanics] prescribed_y``
or ``--y``), or the concentration field of a finished run (``[mechanics] concentration_from``
/ ``--from-run``; the snapshot nearest ``--time``, else the most strained one; same mesh).
The mesh is the case's (built or reused like ``run`` does) or ``--mesh``. Writes the run
folder: the resolved case, ``metrics.json`` (block ``mechanics``), the stress samples (for
the report) and the ParaView fields.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fem_electrode.commands._case import add_case_argument, add_run_folder_arguments, load, run_folder
from fem_electrode.util.log import get_logger

NAME = "mechanics"
EXIT_OK, EXIT_FAILED = 0, 1
HELP = ("solve the mechanics alone for a uniform NVP filling y or a finished run's concentration, "
        "and write metrics and fields")

log = get_logger("mechanics")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_case_argument(parser)
    add_run_folder_arguments(parser, NAME)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--y", type=float, default=None,
                        help="uniform NVP filling y = c/c_max (default: [mechanics] prescribed_y)")
    source.add_argument("--from-run", default=None,
                        help="finished run folder: solve on its NVP concentration "
                             "(default: [mechanics] concentration_from)")
    parser.add_argument("--time", type=float, default=None,
                        help="with --from-run: the snapshot nearest this time (s; default: "
                             "[mechanics] concentration_time, else the most strained one)")


def run(args: argparse.Namespace) -> int:
    case = load(args)  # ConfigError -> exit 2 before anything is created
    from fem_electrode.fem.elastic_solver import ElasticSolveError
    from fem_electrode.problems.mechanics import MechanicsError
    from fem_electrode.run.mechanics_only import nvp_state, solve_prescribed

    state = nvp_state(case, args.y, args.case, args.from_run, args.time)
    out = run_folder(args, case, NAME)
    try:
        data = solve_prescribed(case, out, state, mesh=args.mesh, case_file=Path(args.case),
                                overwrite=args.overwrite)
    except (MechanicsError, ElasticSolveError) as exc:
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
    damage = data.get("interface_damage")
    if damage is not None:
        log.info("  cohesive interface: %.1f %% damaged, %.1f %% separated, active %.4g, dissipated %.3g "
                 "J/m^2",
                 100 * damage["damaged_fraction"], 100 * damage["debonded_fraction"],
                 damage["active_interface_fraction"], damage["dissipated_energy_per_area_J_m2"])
    return EXIT_OK
