"""`fem-electrode run CASE.toml [-o runs/NAME] [--mesh FILE.msh] [--resume]`: run the protocol.

Meshes the case (or reuses its mesh in ``mesh.directory``, or reads ``--mesh``), solves the
electrochemistry through the cycling protocol and writes the run folder (resolved case,
timeseries.csv, metrics.json, ParaView fields, run.log, checkpoint.npz). SIGTERM writes a
checkpoint and exits 143; ``--resume`` continues from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fem_electrode.commands._case import add_case_argument, load
from fem_electrode.config import Case
from fem_electrode.util.log import get_logger

NAME = "run"
HELP = "mesh (or reuse a mesh) and run the cycling protocol of a case"

#: Exit codes (as in :mod:`fem_electrode.cli`) and the usual code after SIGTERM.
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 143

log = get_logger("run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_case_argument(parser)
    parser.add_argument("-o", "--output", default=None,
                        help="run folder (default: <output.directory>/<case.name>)")
    parser.add_argument("--mesh", default=None, help="use this .msh instead of building the case's mesh")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    parser.add_argument("--overwrite", action="store_true",
                        help="the run folder holds a run of another case: delete it and start this one")
    parser.add_argument("--force-mesh", action="store_true",
                        help="use --mesh even though its provenance records another case's geometry")


def announce_size(case: Case) -> None:
    """Print the size and time estimate before a run at least as large as the default case."""
    from mpi4py import MPI

    from fem_electrode.config import validate
    from fem_electrode.run.estimate import estimate

    mine = estimate(case, MPI.COMM_WORLD.size)
    if mine.dofs >= estimate(validate({})).dofs:
        log.info("%s", mine.describe())


def run(args: argparse.Namespace) -> int:
    case = load(args)  # ConfigError -> exit 2 before anything is created
    from fem_electrode.run import simulation
    from fem_electrode.run.meshes import MeshingError, check_case

    check_case(case)
    announce_size(case)
    out = Path(args.output) if args.output else Path(case.output.directory) / case.case.name
    try:
        result = simulation.run(case, out, mesh=args.mesh, resume=args.resume, handle_sigterm=True,
                                case_file=Path(args.case), overwrite=args.overwrite,
                                force_mesh=args.force_mesh)
    except MeshingError as exc:
        log.error("error: %s", exc)
        return EXIT_FAILED
    if result.status == "completed":
        m = result.metrics
        log.info("done: %s", out)
        for key in ("capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g", "coulombic_efficiency",
                    "polarization_V"):
            if m.get(key) is not None:
                log.info("  %-30s %.6g", key, m[key])
        damage = m.get("interface_damage")
        if damage is not None:
            retention = (m.get("cycles") or [{}])[-1].get("capacity_retention")
            log.info("  interface: %.1f %% damaged, %.1f %% separated, active %.4g; retention (last "
                     "cycle) %s",
                     100 * damage["damaged_fraction"], 100 * damage["debonded_fraction"],
                     damage["active_interface_fraction"], "-" if retention is None else f"{retention:.4f}")
        return EXIT_OK
    if result.status == "interrupted":
        log.warning("interrupted: checkpoint in %s; continue with --resume", out)
        return EXIT_INTERRUPTED
    log.error("failed: %s (partial results in %s)", result.reason, out)
    return EXIT_FAILED
