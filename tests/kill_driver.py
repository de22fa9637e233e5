"""Run ``fem-electrode`` with one failure injected, for the tests of what a run survives.

    python tests/kill_driver.py WHERE N -- fem-electrode arguments...

WHERE (the failure happens at the N-th time the code gets there):

- ``step``: SIGKILL in the middle of a time step (inside the Newton solve), on every rank;
- ``step-rank1``: the same on MPI rank 1 only (an out-of-memory kill of one process): the other
  rank goes on into the next collective and the launcher must end it;
- ``fields``: SIGKILL in the middle of a field output (after writing a function's data,
  before the file is closed);
- ``checkpoint``: SIGKILL while the checkpoint's temporary file is half-written;
- ``raise-rank1``: an exception on MPI rank 1 only (the other rank goes on into a collective).
"""

from __future__ import annotations

import os
import signal
import sys

from fem_electrode import cli
from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.outputs import checkpoint
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem


def _on_nth(n: int, action):
    count = [0]

    def hit() -> bool:
        count[0] += 1
        if count[0] == n:
            action()
            return True
        return False

    return hit


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    where, n = sys.argv[1], int(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1:]
    if where in ("step", "step-rank1"):
        real = ElectrochemistryProblem.solve
        hit = _on_nth(n, _kill if where == "step" or MPI.COMM_WORLD.rank == 1 else lambda: None)

        def solve(self, dt):
            result = real(self, dt)
            hit()  # the new state is in memory, nothing of the step is written
            return result

        ElectrochemistryProblem.solve = solve
    elif where == "fields":
        real_write = dolfinx.io.XDMFFile.write_function
        hit = _on_nth(n, _kill)

        def write_function(self, u, t=0.0, mesh_xpath=None):
            if mesh_xpath is None:
                real_write(self, u, t)
            else:
                real_write(self, u, t, mesh_xpath)
            hit()  # data written, file not closed

        dolfinx.io.XDMFFile.write_function = write_function
    elif where == "checkpoint":
        real_savez = checkpoint.np.savez
        calls = [0]

        def savez(fh, **arrays):
            # the run's checkpoint only (snapshots are written by the same function)
            calls[0] += ".checkpoint.npz." in getattr(fh, "name", "")
            if calls[0] == n:  # half a file in the temporary path, then the process dies
                fh.write(b"PK\x03\x04 half a zip file")
                fh.flush()
                _kill()
            real_savez(fh, **arrays)

        checkpoint.np.savez = savez
    elif where == "raise-rank1":
        real = ElectrochemistryProblem.solve
        count = [0]

        def solve(self, dt):
            count[0] += 1
            if count[0] == n and MPI.COMM_WORLD.rank == 1:
                raise RuntimeError("injected failure on rank 1 only")
            return real(self, dt)

        ElectrochemistryProblem.solve = solve
    else:
        raise SystemExit(f"unknown WHERE {where!r}")
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
