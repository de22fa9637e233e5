"""`fem-electrode sweep SWEEP.toml`: expand a sweep into case folders and run or submit them."""

from __future__ import annotations

import argparse

from fem_electrode.campaign import executors
from fem_electrode.campaign.sweep import load_sweep
from fem_electrode.commands import _jobargs

NAME = "sweep"
HELP = "expand a sweep file into runs/<sweep>/<case>/ and run the cases here or as a Slurm job array"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", help="sweep file (TOML): [sweep], [base], [grid], [list], [run], [slurm]")
    parser.add_argument("--executor", choices=("local", "slurm"), default="local",
                        help="local: one case after another here; slurm: one job array (default local)")
    parser.add_argument("-o", "--output", help="sweep folder (default <[sweep] directory>/<name>)")
    parser.add_argument("--yes", action="store_true", help="go ahead with more than max_cases cases")
    parser.add_argument("--retry-failed", action="store_true", help="run failed cases again")
    parser.add_argument("--wait", action="store_true", help="slurm: wait until the array has finished")
    _jobargs.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    run_over, slurm_over = _jobargs.overrides(args)
    sweep = load_sweep(args.sweep, directory=args.output, yes=args.yes, run=run_over, slurm=slurm_over)
    executor = executors.make(args.executor)
    rc = executors.start(sweep, executor, retry_failed=args.retry_failed, dry_run=args.dry_run,
                         wait=args.wait)
    job_id = getattr(executor, "job_id", None)
    if job_id:
        print(job_id)  # like sbatch --parsable, for scripts
    return rc
