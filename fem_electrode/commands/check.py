"""`fem-electrode check CASE.toml`: validate a case file and print it fully resolved."""

from __future__ import annotations

import argparse

from fem_electrode.commands._case import add_case_argument, load
from fem_electrode.config import dumps_case
from fem_electrode.util.log import get_logger, rank

NAME = "check"
HELP = ("validate a case file, print it with every default filled in, and estimate the size and time of "
        "its run")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_case_argument(parser)


def run(args: argparse.Namespace) -> int:
    from fem_electrode.run.estimate import estimate

    case = load(args)
    if rank() == 0:  # once, not once per rank under mpiexec
        print(dumps_case(case), end="")
    get_logger().info("%s", estimate(case).describe())
    return 0
