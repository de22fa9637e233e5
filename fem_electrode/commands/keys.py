"""`fem-electrode keys`: documentation of every case-file key (meaning, unit, default, range)."""

from __future__ import annotations

import argparse

from fem_electrode.config.schema import markdown

NAME = "keys"
HELP = "print the documentation of every case-file key as Markdown"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    print(markdown())
    return 0
