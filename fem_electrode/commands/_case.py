"""The case-file argument shared by the commands that take one: ``CASE`` and ``--defaults``."""

from __future__ import annotations

import argparse

from fem_electrode.config import Case, load_case


def add_case_argument(parser: argparse.ArgumentParser, help: str = "case file (TOML)") -> None:
    parser.add_argument("case", help=help)
    parser.add_argument("--defaults", action="store_true",
                        help="accept a case file without any section (every key takes its default: a 10 um "
                             "RVE that runs for hours); without it an empty case file is an error")


def load(args: argparse.Namespace) -> Case:
    """The validated case of ``args.case`` (raises ConfigError on every rank alike)."""
    return load_case(args.case, allow_empty=args.defaults)
