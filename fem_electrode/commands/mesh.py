"""`fem-electrode mesh CASE.toml [-o DIR]`: build the microstructure, write <name>.msh + .json.

Under ``mpiexec`` only rank 0 builds (gmsh is serial here); the other ranks wait at a
barrier and all ranks return rank 0's exit code.
"""

from __future__ import annotations

import argparse
import json
import time

from fem_electrode.commands._case import add_case_argument, load
from fem_electrode.util.log import get_logger

NAME = "mesh"
HELP = "build the geometry of a case and write <name>.msh and <name>.json"

#: Exit codes (as in :mod:`fem_electrode.cli`): success, failed build, bad input.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

log = get_logger("mesh")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_case_argument(parser)
    parser.add_argument("-o", "--output", default=None,
                        help="output folder (default: the case's mesh.directory)")


def summary(record: dict, msh: str, elapsed: float) -> str:
    """A few lines: phases, measured fractions, elements, layer resolution, time."""
    m = record["measured"]
    fr = m["volume_fractions"]
    el = m["elements"]
    lines = [
        f"{record['kind']} mesh -> {msh}",
        "  phases:    " + ", ".join(f"{k} ({v})" for k, v in record["physical_groups"]["cells"].items()),
        "  facets:    " + ", ".join(record["physical_groups"]["facets"]),
        "  fractions: " + "  ".join(f"{k} {100 * v:.2f}%" for k, v in fr.items()),
        f"  elements:  {el['tetrahedra']} tets, {el['nodes']} nodes; quality min "
        f"{m['quality']['min']:.3f} mean {m['quality']['mean']:.3f}",
    ]
    if m["min_elements_across_layer"] is not None:
        lines.append(f"  layer:     t = {record['resolved'].get('layer_thickness', float('nan')):.3f} um, "
                     f"{m['min_elements_across_layer']} element(s) across (requested "
                     f"{m['requested_elements_across_layer']})")
    lines.append(f"  time:      {elapsed:.1f} s")
    return "\n".join(lines)


def _build(args: argparse.Namespace) -> tuple[int, str]:
    from fem_electrode.geometry import GeometryError, build_mesh

    case = load(args)
    out = args.output if args.output is not None else case.mesh.directory
    t0 = time.perf_counter()
    try:
        msh, js = build_mesh(case, out)
    except ValueError as exc:  # bad input found with geometry knowledge
        log.error("error: %s", exc)
        return EXIT_BAD_INPUT, ""
    except GeometryError as exc:
        log.error("error: %s", exc)
        return EXIT_FAILED, ""
    return EXIT_OK, summary(json.loads(js.read_text()), str(msh), time.perf_counter() - t0)


def run(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from fem_electrode.config import ConfigError

    comm = MPI.COMM_WORLD
    code, text = EXIT_FAILED, ""
    error: BaseException | None = None
    if comm.rank == 0:
        try:
            code, text = _build(args)
        except ConfigError as exc:  # reported by the CLI on rank 0 (exit code 2)
            code, error = EXIT_BAD_INPUT, exc
        except BaseException as exc:  # let the other ranks go before re-raising
            code, error = EXIT_FAILED, exc
    code = comm.bcast(code, root=0)
    comm.Barrier()
    if error is not None:
        raise error
    if text:
        print(text)
    return code
