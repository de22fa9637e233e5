"""`fem-electrode compare CASE.toml`: infiltrated vs co-sintered, same composition and protocol."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from fem_electrode.campaign import compare
from fem_electrode.commands import _jobargs
from fem_electrode.commands._case import add_case_argument, load
from fem_electrode.config import Case, ConfigError
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
    parser.add_argument("--ntasks", type=int, default=None, help="MPI ranks per run (default 1)")
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
    add_executor_arguments(parser)


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--options``, ``--dry-run`` and the Slurm flags of `sweep` and `submit`."""
    parser.add_argument("--executor", default="local", metavar="|".join(compare.EXECUTORS),
                        help="local: run the variants here, side by side, then write the report (default); "
                             "slurm: submit every variant (design x seed [x refinement]) as one Slurm job "
                             "array into the comparison folder, then `compare --report-only` once it is done")
    job = parser.add_argument_group("Slurm job of --executor slurm (docs/cluster.md)")
    job.add_argument("--options", metavar="FILE.toml",
                     help="[run] and [slurm] tables to use (a site file, as for `submit`); a [run] command "
                          "there replaces compare's own run command")
    _jobargs.add_slurm_arguments(job, "variant")
    job.add_argument("--dry-run", action="store_true",
                     help="print each task's run folder and command and the job script; submit nothing")


def executor_problems(args: argparse.Namespace) -> list[str]:
    """Flags that do not go together, each named with its value and what is allowed."""
    if args.executor not in compare.EXECUTORS:
        return [f"--executor {args.executor!r}: unknown; allowed: {', '.join(compare.EXECUTORS)}"]
    if args.executor == "slurm":
        return (["--report-only with --executor slurm: the report is built here from the finished array; "
                 "allowed: --executor slurm to submit, then `compare --report-only` (executor local)"]
                if args.report_only else [])
    flags = {"modules": "--module", "dry_run": "--dry-run"}
    given = [flags.get(k, f"--{k}") for k in ("options", *_jobargs.SLURM_KEYS, "dry_run")
             if getattr(args, k) not in (None, False)]
    return [f"{flag} with --executor local: a Slurm option; allowed only with --executor slurm"
            for flag in given]


def report_command(args: argparse.Namespace) -> str:
    """The `compare --report-only` line that rebuilds the report of these variants."""
    argv = ["fem-electrode", "compare", args.case, "--report-only"]
    if args.defaults:
        argv.append("--defaults")
    if args.output:
        argv += ["-o", args.output]
    for flag, value in (("--preset", None if args.preset == "default" else args.preset),
                        ("--mechanics-only", args.mechanics_only), ("--seeds", args.seeds),
                        ("--refine", args.refine), ("--against", args.against)):
        if value is not None:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join(argv)


def submit(args: argparse.Namespace, case: Case, out: Path) -> int:
    """``--executor slurm``: every variant as one task of one job array (or the dry run)."""
    run_over = {k: getattr(args, k) for k in ("ntasks", "launcher") if getattr(args, k) is not None}
    run_spec, opts = compare.array_options(_jobargs.read_options(args.options), run_over,
                                           _jobargs.slurm_overrides(args),
                                           args.mechanics_only is not None, args.options or "command line")
    done = compare.submit(case, out, run_spec, opts, preset=args.preset, mechanics_y=args.mechanics_only,
                          seeds=args.seeds, refine=args.refine, against=args.against, force=args.force,
                          dry_run=args.dry_run)
    if args.dry_run:
        for k, (folder, argv) in enumerate(done.tasks):
            print(f"would run array task {k} in {folder}: {shlex.join(argv)}")
        if done.script:
            print(done.script)
    elif done.job_id:
        print(done.job_id)  # like sbatch --parsable, for scripts
    get_logger("compare").info("%s", next_steps(args, out, done))
    return 0


def next_steps(args: argparse.Namespace, out: Path, done: compare.Submission) -> str:
    """What the user runs after a submission: ``status`` while the array runs, then the report."""
    report = f"once every task is done, build the report with\n  {report_command(args)}"
    if not done.tasks:
        return f"every variant is finished or still queued: nothing to submit; {report}"
    what = (f"would submit {len(done.tasks)} variant(s)" if args.dry_run
            else f"submitted {len(done.tasks)} variant(s) as Slurm job {done.job_id}")
    return f"{what} (one job array); follow it with\n  fem-electrode status {shlex.quote(str(out))}\n{report}"


def run(args: argparse.Namespace) -> int:
    case = load(args)
    problems = executor_problems(args)
    if problems:
        raise ConfigError(problems, "command line")
    try:  # bad --seeds / --refine / --against: an error before any meshing
        compare.check_seeds_and_refine(case, args.seeds, args.refine, args.against)
    except ValueError as exc:
        get_logger().error("error: %s", exc)
        return 2
    out = Path(args.output) if args.output else Path(case.output.directory) / f"{case.case.name}-compare"
    if args.executor == "slurm":
        return submit(args, case, out)
    make = compare.job_runner if args.mechanics_only is None else compare.mechanics_runner
    runner = make(1 if args.ntasks is None else args.ntasks, args.launcher)
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
