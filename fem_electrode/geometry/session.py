"""A gmsh session as a context manager: initialise, set options, always finalise.

gmsh keeps global state, so only one session may be open in a process at a time. The
session collects gmsh's log; :func:`last_messages` gives its tail for error reports.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import gmsh

from fem_electrode.util.log import get_logger

#: gmsh 3D algorithm ids by the case-file name.
ALGORITHM_3D = {"delaunay": 1, "hxt": 10}
#: gmsh verbosity when our log level is debug / otherwise (5 = debug, 2 = warnings and errors).
VERBOSITY_DEBUG, VERBOSITY_QUIET = 5, 2
#: How many of gmsh's last log lines to attach to an error report, and their maximum length.
LOG_TAIL = 12
LOG_LINE_CHARS = 300

log = get_logger("geometry")


class SessionError(RuntimeError):
    """A second gmsh session was opened while one is active."""


def resolve_threads(threads: int) -> int:
    """The thread count to use: ``threads``, or every core when it is 0."""
    return threads if threads > 0 else (os.cpu_count() or 1)


@contextlib.contextmanager
def gmsh_session(threads: int = 1, algorithm: str = "hxt", name: str = "rve") -> Iterator[None]:
    """Open a headless gmsh session with our defaults; finalise it on exit, even on error.

    ``threads`` sets ``General.NumThreads`` and ``Mesh.MaxNumThreads3D``;
    ``Mesh.RandomSeed`` is fixed so that meshes repeat.
    """
    if gmsh.isInitialized():
        raise SessionError("a gmsh session is already open in this process")
    gmsh.initialize(readConfigFiles=False, interruptible=False)
    try:
        gmsh.logger.start()
        debug = log.isEnabledFor(10)
        gmsh.option.setNumber("General.Terminal", 1 if debug else 0)
        gmsh.option.setNumber("General.Verbosity", VERBOSITY_DEBUG if debug else VERBOSITY_QUIET)
        n = resolve_threads(threads)
        gmsh.option.setNumber("General.NumThreads", n)
        gmsh.option.setNumber("Mesh.MaxNumThreads3D", n)
        gmsh.option.setNumber("Mesh.MaxNumThreads2D", 1)
        gmsh.option.setNumber("Mesh.Algorithm3D", ALGORITHM_3D[algorithm])
        gmsh.option.setNumber("Mesh.RandomSeed", 1)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.option.setNumber("Mesh.SaveAll", 0)
        gmsh.model.add(name)
        yield
    finally:
        with contextlib.suppress(Exception):
            gmsh.logger.stop()
        gmsh.finalize()


def last_messages(n: int = LOG_TAIL) -> str:
    """The last ``n`` gmsh log lines (warnings and errors first), for error messages."""
    try:
        lines = gmsh.logger.get()
    except Exception:  # no session: nothing to report
        return ""
    important = [ln for ln in lines if ln.startswith(("Error", "Warning"))]
    return "\n".join(ln[:LOG_LINE_CHARS] for ln in (important or lines)[-n:])
