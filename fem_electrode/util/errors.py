"""An error on one MPI rank ends every rank promptly, with one message.

Input checks are collective (rank 0 looks, every rank raises the same error), but a failure
that only one rank sees (a corrupt file read on rank 0, a full disk, a bug) leaves the other
ranks waiting in a collective call forever: on a cluster that burns the allocation until
the time limit. :func:`settle` is called by the command line on every rank that raised:

- every rank raised (they all reach :func:`settle` within :data:`SETTLE_SECONDS`): rank 0
  prints the message and every rank returns the exit code;
- only some ranks raised: each of them prints its message (tagged with its rank) and calls
  ``MPI_Abort`` with the exit code, which ends the whole job.

The agreement uses a non-blocking barrier on a communicator duplicated at start-up
(:func:`prepare`), so it never mixes with a collective the other ranks may be stuck in.
"""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any

from fem_electrode.util.log import get_logger

#: How long the ranks that raised wait for the others to raise too (s).
SETTLE_SECONDS = 5.0
#: Polling interval of the non-blocking barrier (s).
POLL_SECONDS = 0.01
#: Pause between printing the message and ``MPI_Abort`` (s): the launcher forwards a rank's
#: stderr through a pipe, and an abort that kills the job before the pipe is read loses the
#: one line that says why the job ended.
ABORT_FLUSH_SECONDS = 0.5

_ERROR_COMM: list[Any] = []  # the duplicated communicator, when running on several ranks


class BadInput(ValueError):
    """A problem with what the user gave (case file, options, files): exit code 2, message only."""

    expected = True


def prepare() -> None:
    """Duplicate MPI_COMM_WORLD for error agreement (collective; call once at start-up, on every
    rank). Does nothing in a serial run."""
    if _ERROR_COMM:
        return
    from mpi4py import MPI

    if MPI.COMM_WORLD.size > 1:
        _ERROR_COMM.append(MPI.COMM_WORLD.Dup())


def describe(exc: BaseException) -> str:
    """One line: the message of an expected error, the type and message of an unexpected one."""
    text = str(exc).strip() or type(exc).__name__
    return text if getattr(exc, "expected", False) else f"{type(exc).__name__}: {text}"


def settle(exc: BaseException, code: int, message: str | None = None) -> int:
    """Report ``exc`` once and make every rank end with ``code`` (see the module docstring).

    Returns ``code`` when every rank raised (or in a serial run); otherwise the job is aborted.
    """
    log = get_logger()
    message = message if message is not None else f"error: {describe(exc)}"
    log.debug("%s", "".join(traceback.format_exception(exc)))
    if not _ERROR_COMM:
        log.error("%s", message)
        return code
    comm = _ERROR_COMM[0]
    request = comm.Ibarrier()
    deadline = time.monotonic() + SETTLE_SECONDS
    while not request.Test():
        if time.monotonic() > deadline:
            sys.stderr.write(f"{message} (rank {comm.rank} of {comm.size}; the other ranks are stopped)\n")
            sys.stderr.flush()
            time.sleep(ABORT_FLUSH_SECONDS)
            from mpi4py import MPI

            MPI.COMM_WORLD.Abort(code)
        time.sleep(POLL_SECONDS)
    log.error("%s", message)  # rank 0 only (the logger's filter)
    return code
