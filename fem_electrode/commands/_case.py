"""Arguments shared by the commands that take a case: ``CASE`` and ``--defaults``; and, for the
commands that write one run folder besides `run` (mechanics, scale), ``-o``, ``--overwrite`` and
``--mesh``."""

from __future__ import annotations

import argparse
from pathlib import Path

from fem_electrode.config import Case, ConfigError, load_case


def add_case_argument(parser: argparse.ArgumentParser, help: str = "case file (TOML)") -> None:
    parser.add_argument("case", help=help)
    parser.add_argument("--defaults", action="store_true",
                        help="accept a case file without any section (every key takes its default: a 10 um "
                             "RVE that runs for hours); without it an empty case file is an error")


def load(args: argparse.Namespace) -> Case:
    """The validated case of ``args.case`` (raises ConfigError on every rank alike)."""
    return load_case(args.case, allow_empty=args.defaults)


def add_run_folder_arguments(parser: argparse.ArgumentParser, suffix: str) -> None:
    """``-o`` (default ``<output.directory>/<case.name>-<suffix>``), ``--overwrite`` and ``--mesh``."""
    parser.add_argument("-o", "--output", default=None,
                        help=f"run folder (default: <output.directory>/<case.name>-{suffix})")
    parser.add_argument("--overwrite", action="store_true",
                        help="the folder holds a run of another case: delete it and write this one")
    parser.add_argument("--mesh", default=None, help="use this .msh instead of building the case's mesh")


def run_folder(args: argparse.Namespace, case: Case, suffix: str) -> Path:
    """The run folder of :func:`add_run_folder_arguments`; raises ConfigError for a ``--mesh`` that
    is not a file (before anything is created)."""
    if args.mesh is not None and not Path(args.mesh).is_file():
        raise ConfigError([f"--mesh {args.mesh!r}: no such file"], args.case)
    return Path(args.output) if args.output else Path(case.output.directory) / f"{case.case.name}-{suffix}"
