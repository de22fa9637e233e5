"""Command-line entry point ``fem-electrode``.

Exit codes: 0 success, 1 a run failed (the reason is printed and logged), 2 bad input
(invalid case file or arguments; nothing was created).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fem_electrode import __version__
from fem_electrode.commands import (
    check,
    collect,
    compare,
    design_map,
    keys,
    mechanics,
    mesh,
    run,
    scale,
    status,
    submit,
    sweep,
)
from fem_electrode.util import errors
from fem_electrode.util.log import get_logger, setup_logging

#: Only commands that work are listed here.
COMMANDS = (check, keys, mesh, run, mechanics, scale, compare, sweep, submit, status, collect, design_map)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fem-electrode",
        description="FE microstructure solver for infiltrated vs co-sintered NVP|NZSP electrodes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error ends every MPI rank with one message and an exit code
    (:mod:`fem_electrode.util.errors`): bad input 2, a failure 1."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(-1 if args.quiet else args.verbose)
    errors.prepare()
    try:
        return int(args._run(args))
    except errors.BadInput as exc:  # ConfigError, bad PETSc options, ...
        return errors.settle(exc, EXIT_BAD_INPUT, f"error: {exc}")
    except KeyboardInterrupt:
        get_logger().error("interrupted")
        return EXIT_FAILED
    except Exception as exc:
        return errors.settle(exc, EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main())
