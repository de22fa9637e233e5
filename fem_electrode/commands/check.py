"""`fem-electrode check CASE.toml`: validate a case file and print it fully resolved."""

from __future__ import annotations

import argparse

from fem_electrode.config import dumps_case, load_case

NAME = "check"
HELP = "validate a case file and print it with every default filled in"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", help="case file (TOML)")


def run(args: argparse.Namespace) -> int:
    case = load_case(args.case)
    print(dumps_case(case), end="")
    return 0
