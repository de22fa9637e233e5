"""One function's time series in an XDMF file (+ its HDF5 data), opened only while writing.

A file held open between outputs is left unclosed when the process is killed (out of
memory, a lost node, the end of Slurm's grace period); opening it for each write leaves
closed, readable files at every instant but the write itself. A resumed run continues a
series from its checkpoint time; it moves the pair aside (``<name>.killed-<n>.xdmf/.h5``,
with a warning) and starts the series anew when it cannot append to it (killed in the
middle of a write) or when the series holds outputs later than the checkpoint (killed
between an output and the next checkpoint: those outputs will be written again, and HDF5
cannot replace a dataset of the same time).
"""

from __future__ import annotations

import re
from pathlib import Path

from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.util.log import get_logger

log = get_logger("outputs")


class XdmfSeries:
    """The series of ``path`` (``.xdmf``) on ``mesh``; ``append`` continues an existing one."""

    def __init__(self, path: Path, mesh: dolfinx.mesh.Mesh, append: bool = False,
                 resume_time: float | None = None):
        """``append``: continue an existing series (a resumed run), whose outputs must not be
        later than ``resume_time`` (s, the checkpoint's time)."""
        self.path = Path(path)
        self.mesh = mesh
        comm = mesh.comm
        exists = comm.bcast(self.path.is_file() if comm.rank == 0 else None, root=0)
        self.fresh = not (append and exists)
        if self.fresh:
            return
        late = comm.bcast(self._last_time() if comm.rank == 0 else None, root=0)
        if late is not None and resume_time is not None and late > resume_time * (1.0 + 1e-12):
            self._move_aside(f"it holds outputs up to t = {late:g} s, after the checkpoint at "
                             f"t = {resume_time:g} s")
            self.fresh = True
        elif not self._appendable():
            self._move_aside("it cannot be appended to (the run was killed while writing it)")
            self.fresh = True

    def _last_time(self) -> float | None:
        """The latest output time recorded in the series' XML (None when there is none)."""
        text = self.path.read_text(errors="replace")
        times = [float(v) for v in re.findall(r'<Time Value="([^"]+)"', text)]
        return max(times) if times else None

    def _appendable(self) -> bool:
        """True when the series opens for appending on every rank (collective)."""
        try:
            with dolfinx.io.XDMFFile(self.mesh.comm, str(self.path), "a"):
                ok = True
        except RuntimeError:
            ok = False
        return bool(self.mesh.comm.allreduce(int(ok), op=MPI.MIN))

    def _move_aside(self, why: str) -> None:
        comm = self.mesh.comm
        if comm.rank == 0:
            n = 1
            while self.path.with_suffix(f".killed-{n}.xdmf").exists():
                n += 1
            for suffix in (".xdmf", ".h5"):
                part = self.path.with_suffix(suffix)
                if part.exists():
                    part.rename(self.path.with_suffix(f".killed-{n}{suffix}"))
            log.warning("%s: %s; moved aside as %s, the series starts anew from the checkpoint on",
                        self.path, why, self.path.with_suffix(f".killed-{n}.xdmf").name)
        comm.Barrier()

    def write(self, function: dolfinx.fem.Function, t: float) -> None:
        """Append ``function`` at time ``t`` (s) (collective)."""
        mode = "w" if self.fresh else "a"
        with dolfinx.io.XDMFFile(self.mesh.comm, str(self.path), mode) as f:
            if self.fresh:
                f.write_mesh(self.mesh)
            f.write_function(function, t)
        self.fresh = False
