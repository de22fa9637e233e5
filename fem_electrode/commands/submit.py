"""`fem-electrode submit CASE.toml`: one case as a one-task Slurm job."""

from __future__ import annotations

import argparse
from pathlib import Path

from fem_electrode.campaign import executors
from fem_electrode.campaign.job import RunSpec
from fem_electrode.campaign.slurm import SlurmOptions
from fem_electrode.campaign.sweep import job_options, single
from fem_electrode.commands import _jobargs
from fem_electrode.commands._case import add_case_argument, load
from fem_electrode.config import ConfigError

NAME = "submit"
HELP = "submit one case as a Slurm job (folder <output.directory>/<case name>, or -o)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_case_argument(parser)
    parser.add_argument("-o", "--output", help="case folder (default <output.directory>/<case.name>)")
    parser.add_argument("--options", metavar="FILE.toml",
                        help="[run] and [slurm] tables to use (a sweep file or a site file)")
    parser.add_argument("--retry-failed", action="store_true", help="submit again when it failed")
    parser.add_argument("--wait", action="store_true", help="wait until the job has finished")
    _jobargs.add_arguments(parser)


def _options(path: str | None, run_over: dict, slurm_over: dict) -> tuple[RunSpec, SlurmOptions]:
    problems: list[str] = []
    run, slurm = job_options(_jobargs.read_options(path), run_over, slurm_over, problems)
    if problems:
        raise ConfigError(problems, path or "command line")
    return run, slurm


def run(args: argparse.Namespace) -> int:
    case = load(args)
    run_spec, slurm = _options(args.options, *_jobargs.overrides(args))
    folder = Path(args.output) if args.output else Path(case.output.directory) / case.case.name
    sweep = single(case, folder, run_spec, slurm, source=args.case)
    executor = executors.SlurmExecutor(array=False)
    rc = executors.start(sweep, executor, retry_failed=args.retry_failed, dry_run=args.dry_run,
                         wait=args.wait)
    if executor.job_id:
        print(executor.job_id)  # like sbatch --parsable, for scripts
    return rc
