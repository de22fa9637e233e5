"""Options shared by ``sweep`` and ``submit``: how each case runs and what Slurm gets."""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``-n``, run templates, the common ``[slurm]`` settings, ``--dry-run``."""
    run = parser.add_argument_group("how each case runs (override the [run] table)")
    run.add_argument("-n", "--ntasks", type=int, help="MPI ranks per case (default 1)")
    run.add_argument("--command", help="run command template (default: fem-electrode run {case} "
                     "-o {dir} {resume})")
    run.add_argument("--launcher", help="MPI launcher template (default: mpiexec -n {ntasks}; '' = none)")
    job = parser.add_argument_group("Slurm job (override the [slurm] table)")
    for flag, helptext in (("account", "--account to charge"), ("partition", "--partition"),
                           ("qos", "--qos"), ("time", "--time limit per case, e.g. 02:00:00"),
                           ("mem", "--mem per node, e.g. 8G"), ("venv", "venv to activate in the job"),
                           ("template", "job-script template (default slurm/job.sh.tmpl)")):
        job.add_argument(f"--{flag}", help=helptext)
    job.add_argument("--nodes", type=int, help="--nodes per case")
    job.add_argument("--module", action="append", dest="modules", metavar="MODULE",
                     help="module to load in the job (repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would run (and the job script); create nothing")


def overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[run]`` and ``[slurm]`` values given on the command line."""
    run = {k: getattr(args, k) for k in ("ntasks", "command", "launcher") if getattr(args, k) is not None}
    keys = ("account", "partition", "qos", "time", "mem", "venv", "template", "nodes", "modules")
    return run, {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
