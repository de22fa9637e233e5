"""`fem-electrode scale CASE.toml [-o runs/NAME] [--mesh FILE.msh] [--no-mechanics]`: predictions at
the electrode's real thickness.

The case's RVE gives its effective properties (conductivities along the thickness, interface
area per volume, diffusion length, contact fractions); a homogenized model through the
thickness carries them to every ``[electrode] thickness`` × ``c_rates`` (one cycle each) and
the RVE's mechanics at full desodiation gives the mechanical risk
(:mod:`fem_electrode.run.electrode_scale`). A sweep of such cases over porosity × layer
thickness is what `fem-electrode design-map` draws.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fem_electrode.commands._case import add_case_argument, add_run_folder_arguments, load, run_folder
from fem_electrode.util.log import get_logger

NAME = "scale"
EXIT_OK, EXIT_FAILED = 0, 1
HELP = ("carry the RVE's effective properties to the real electrode thickness: capacity, energy "
        "density and internal resistance per thickness and C-rate, and the RVE's mechanical risk")

log = get_logger("scale")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_case_argument(parser)
    add_run_folder_arguments(parser, NAME)
    parser.add_argument("--no-mechanics", action="store_true",
                        help="skip the RVE's mechanics at full desodiation (no mechanical risk)")
    parser.add_argument("--resume", action="store_true",
                        help="a folder holding this case may be reused (sweeps pass it on a retry); the "
                             "run has no checkpoint and starts again")


def run(args: argparse.Namespace) -> int:
    case = load(args)  # ConfigError -> exit 2 before anything is created
    out = run_folder(args, case, NAME)
    from fem_electrode.run.electrode_scale import scale

    data = scale(case, out, mesh=args.mesh, mechanics=not args.no_mechanics, case_file=Path(args.case),
                 resume=args.resume, overwrite=args.overwrite)
    if data["status"] != "completed":
        log.error("scale failed: %s", data["reason"])
        return EXIT_FAILED
    for r in data["electrode"]["resistance"]:
        log.info("  %g um: internal resistance %s Ohm cm^2", r["thickness_um"],
                 "-" if r["R_ohm_m2"] is None else f"{1e4 * r['R_ohm_m2']:.4g}")
    film = (data.get("mechanics") or {}).get("thin_film") or {}
    if film.get("delamination_ratio") is not None:
        log.info("  layer at full desodiation: delamination G/G_c %.3g, channel crack G/G_c %.3g",
                 film["delamination_ratio"], film.get("channeling_ratio") or float("nan"))
    log.info("done: %s", out)
    return EXIT_OK
