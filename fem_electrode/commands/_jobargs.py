"""Options shared by ``sweep``, ``submit`` and ``compare``: how each case runs and what Slurm gets."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

from fem_electrode.config import ConfigError

#: The ``[slurm]`` keys that have a flag of their own, with their help ({unit}: what one task runs).
SLURM_FLAGS = (("account", "--account to charge"), ("partition", "--partition"), ("qos", "--qos"),
               ("time", "--time limit per {unit}, e.g. 02:00:00"), ("mem", "--mem per node, e.g. 8G"),
               ("venv", "venv to activate in the job"),
               ("template", "job-script template (default slurm/job.sh.tmpl)"))
#: Every ``[slurm]`` key a flag can set.
SLURM_KEYS = (*(k for k, _ in SLURM_FLAGS), "nodes", "modules")


def add_slurm_arguments(group: argparse._ArgumentGroup, unit: str) -> None:
    """The Slurm flags (``--account`` ... ``--module``); ``unit`` names what one task runs."""
    for flag, helptext in SLURM_FLAGS:
        group.add_argument(f"--{flag}", help=helptext.format(unit=unit))
    group.add_argument("--nodes", type=int, help=f"--nodes per {unit}")
    group.add_argument("--module", action="append", dest="modules", metavar="MODULE",
                       help="module to load in the job (repeatable)")


def slurm_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[slurm]`` values given on the command line."""
    return {k: getattr(args, k) for k in SLURM_KEYS if getattr(args, k) is not None}


def read_options(path: str | None) -> dict[str, Any]:
    """The tables of ``--options FILE.toml`` (``{}`` without one); ConfigError when unreadable."""
    if path is None:
        return {}
    try:
        return tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"--options {path!r}: cannot read it ({exc}); allowed: a TOML file with "
                           "[run] and [slurm] tables"], path) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``-n``, run templates, the common ``[slurm]`` settings, ``--dry-run``."""
    run = parser.add_argument_group("how each case runs (override the [run] table)")
    run.add_argument("-n", "--ntasks", type=int, help="MPI ranks per case (default 1)")
    run.add_argument("--command", help="run command template (default: fem-electrode run {case} "
                     "-o {dir} {resume})")
    run.add_argument("--launcher", help="MPI launcher template (default: mpiexec -n {ntasks}; '' = none)")
    add_slurm_arguments(parser.add_argument_group("Slurm job (override the [slurm] table)"), "case")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what would run (and the job script); create nothing")


def overrides(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[run]`` and ``[slurm]`` values given on the command line."""
    run = {k: getattr(args, k) for k in ("ntasks", "command", "launcher") if getattr(args, k) is not None}
    return run, slurm_overrides(args)
