"""`fem-electrode compare CASE.toml`: infiltrated vs co-sintered, same composition and protocol."""

from __future__ import annotations

import argparse
from pathlib import Path

from fem_electrode.campaign import compare
from fem_electrode.commands._case import add_case_argument, load
from fem_electrode.util.log import get_logger

NAME = "compare"
HELP = ("build an infiltrated and a co-sintered electrode from one case (or an image case's electrode and "
        "a generated one sized to it), run the same protocol on both and write report.md, report.html, "
        "comparison.json and a ParaView script views.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_case_argument(parser, help="case file (TOML); geometry.kind is replaced by each design (an image "
                                   "case: the image against the --against design)")
    parser.add_argument("-o", "--output", help="comparison folder (default runs/<case name>-compare)")
    parser.add_argument("--preset", choices=tuple(compare.PRESETS), default="default",
                        help="default: the case's own protocol; paper: 0.1 C and 0.6 C with 20 min "
                             "holds on a 20 µm RVE (cluster-sized)")
    parser.add_argument("--ntasks", type=int, default=1, help="MPI ranks per run (default 1)")
    parser.add_argument("--launcher", default=None,
                        help="MPI launcher template (default 'mpiexec -n {ntasks}' when ntasks > 1; "
                             "'srun --mpi=pmi2' inside a Slurm allocation)")
    parser.add_argument("--jobs", type=int, default=compare.default_jobs(),
                        help="runs side by side (default: min(2, cores))")
    parser.add_argument("--force", action="store_true", help="re-run designs that already have results")
    parser.add_argument("--report-only", action="store_true",
                        help="do not run anything: rebuild the report from the run folders")
    parser.add_argument("--mechanics-only", nargs="?", type=float, const=0.0, default=None, metavar="Y",
                        help="no electrochemistry: compare the stresses at a uniform NVP filling Y "
                             "(default 0 = fully charged, the largest chemical strain); minutes, not hours")
    parser.add_argument("--seeds", type=int, default=None, metavar="N",
                        help="microstructures per design (seeds seed ... seed + N - 1; default: the case's "
                             "geometry.seeds, else 3; 1 for an image case): every metric gets a mean and "
                             "95 %% interval, a design wins only where the intervals separate")
    parser.add_argument("--refine", type=float, default=None, metavar="R",
                        help="also run the first seed on a mesh R times finer (mesh.refinement × R, e.g. "
                             "1.5): every metric gets its discretisation error; metrics that move by more "
                             "than 5 %% are reported as not converged and kept out of the verdict")
    parser.add_argument("--against", default=None, metavar="KIND",
                        help=f"image cases only: the generated design ({' or '.join(compare.AGAINST)}; "
                             f"default {compare.AGAINST[0]}) set against the image, in the image's box with "
                             "its measured porosity and NVP fraction (one seed, no --refine)")
    parser.add_argument("--no-screenshots", action="store_true",
                        help="do not render the ParaView views (views.py is still written)")


def run(args: argparse.Namespace) -> int:
    case = load(args)
    try:  # bad --seeds / --refine / --against: an error before any meshing
        compare.check_seeds_and_refine(case, args.seeds, args.refine, args.against)
    except ValueError as exc:
        get_logger().error("error: %s", exc)
        return 2
    out = Path(args.output) if args.output else Path(case.output.directory) / f"{case.case.name}-compare"
    make = compare.job_runner if args.mechanics_only is None else compare.mechanics_runner
    runner = make(args.ntasks, args.launcher)
    try:
        paths = compare.compare(case, out, preset=args.preset, runner=runner, jobs=args.jobs,
                                force=args.force, report_only=args.report_only,
                                screenshots=not args.no_screenshots, mechanics_y=args.mechanics_only,
                                seeds=args.seeds, refine=args.refine, against=args.against)
    except compare.CompareError as exc:
        get_logger().error("error: %s", exc)
        return 1
    for kind in ("html", "markdown", "json"):
        print(paths[kind])
    return 0
