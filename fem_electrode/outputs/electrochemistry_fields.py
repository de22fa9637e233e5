"""ParaView fields of the electrochemistry, per phase, as a time series.

Formats (``[output] fields``):

- ``xdmf`` (default; Debian's ParaView 5.11 opens it with the Xdmf3 reader): one file per
  function, each with its own submesh: ``c.xdmf``, ``phi_s.xdmf`` (NVP), ``phi_e.xdmf`` (NZSP),
  ``i_interface.xdmf`` (NVP cells, DG0);
- ``vtk``: ``nvp.pvd`` (c, φ_s, i_interface) and ``nzsp.pvd`` (φ_e);
- ``xdmf+vtx``: XDMF plus ADIOS2 ``.bp`` files (ParaView ≥ 5.12): ``nvp.bp``, ``nzsp.bp``,
  ``interface.bp``;
- ``none``.

``i_interface`` (A/m², > 0 anodic) is the interface current density as a cell field on the
NVP submesh: in each NVP cell with interface facets, the mean of i over those facets
(∫ i dA / ∫ dA); zero in cells away from the interface.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fem_electrode.fem.fenicsx import dolfinx, ufl
from fem_electrode.outputs.xdmf_series import XdmfSeries
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem

FORMATS = ("xdmf", "vtk", "xdmf+vtx", "none")


class InterfaceCurrentField:
    """The interface current density as a DG0 field on the NVP submesh (A/m²)."""

    def __init__(self, problem: ElectrochemistryProblem):
        self.problem = problem
        Q0 = dolfinx.fem.functionspace(problem.nvp.mesh, ("DG", 0))
        self.function = dolfinx.fem.Function(Q0, name="i_interface")
        w = ufl.TestFunction(Q0)
        dS = problem.interface_measure
        form = lambda expr: dolfinx.fem.form(expr, entity_maps=problem.entity_maps)  # noqa: E731
        self._current = form(problem.i * w("+") * dS)
        area = dolfinx.fem.assemble_vector(form(w("+") * dS))
        area.scatter_reverse(dolfinx.la.InsertMode.add)
        self._area = area.array.copy()
        self._has = self._area > 0.0

    def update(self) -> dolfinx.fem.Function:
        """Recompute from the problem's current state; returns the field."""
        b = dolfinx.fem.assemble_vector(self._current)
        b.scatter_reverse(dolfinx.la.InsertMode.add)
        values = np.zeros_like(self._area)
        values[self._has] = b.array[self._has] / self._area[self._has]
        self.function.x.array[:] = values
        self.function.x.scatter_forward()
        return self.function


class ElectrochemistryFieldWriter:
    """Writes c, φ_s, φ_e and the interface current at chosen times.

    XDMF series are opened only while written (a killed run leaves closed files); the VTK
    and ADIOS2 writers stay open between outputs (a killed run may leave their last step
    incomplete)."""

    def __init__(self, problem: ElectrochemistryProblem, folder: str | os.PathLike[str], fmt: str = "xdmf",
                 append: bool = False,
                 resume_time: float | None = None):
        if fmt not in FORMATS:
            raise ValueError(f"unknown field format {fmt!r}; allowed: {', '.join(FORMATS)}")
        self.problem = problem
        self.folder = Path(folder)
        self.fmt = fmt
        comm = problem.domain.mesh.comm
        if comm.rank == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
        comm.Barrier()
        self.interface = InterfaceCurrentField(problem)
        p = problem
        self.by_mesh = {"nvp": [p.c, p.phi_s_out, self.interface.function], "nzsp": [p.phi_e]}
        self._xdmf: dict[str, XdmfSeries] = {}
        self._vtk: dict[str, dolfinx.io.VTKFile] = {}
        self._vtx: list[dolfinx.io.VTXWriter] = []
        if fmt in ("xdmf", "xdmf+vtx"):
            for funcs in self.by_mesh.values():
                for f in funcs:
                    self._xdmf[f.name] = XdmfSeries(self.folder / f"{f.name}.xdmf", f.function_space.mesh,
                                                    append, resume_time)
        if fmt == "vtk":
            for name in self.by_mesh:
                self._vtk[name] = dolfinx.io.VTKFile(comm, str(self.folder / f"{name}.pvd"), "w")
        if fmt == "xdmf+vtx":
            groups = {"nvp": [p.c, p.phi_s_out], "nzsp": [p.phi_e], "interface": [self.interface.function]}
            for name, funcs in groups.items():
                self._vtx.append(dolfinx.io.VTXWriter(comm, str(self.folder / f"{name}.bp"), funcs,
                                                      engine="BP4"))

    def write(self, t: float) -> None:
        """Append every field at time ``t`` (s) (collective)."""
        if self.fmt == "none":
            return
        self.interface.update()
        self.problem.phi_s_field()
        for funcs in self.by_mesh.values():
            for f in funcs:
                if f.name in self._xdmf:
                    self._xdmf[f.name].write(f, t)
        for name, vtk in self._vtk.items():
            vtk.write_function(self.by_mesh[name], t)
        for vtx in self._vtx:
            vtx.write(t)

    def close(self) -> None:
        for f in (*self._vtk.values(), *self._vtx):
            f.close()
        self._xdmf.clear()
        self._vtk.clear()
        self._vtx.clear()

    def __enter__(self) -> ElectrochemistryFieldWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
