"""ParaView fields of the mechanics: displacement, stress invariants and interface tractions.

XDMF, one file per function, for ParaView 5.11: displacement (P1), the cell-mean stress
tensor, von Mises, hydrostatic and max principal stress and strain-energy density (cell
means of the quadrature samples, DG0), and the normal and shear tractions on a surface mesh
of the NVP|NZSP interface (DG0 per facet). Each file is open only while it is written
(:mod:`fem_electrode.outputs.xdmf_series`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fem_electrode import tags
from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.outputs.stress import StressPost
from fem_electrode.outputs.xdmf_series import XdmfSeries
from fem_electrode.problems.cohesive_mechanics import CohesiveMechanicsProblem


class MechanicsFieldWriter:
    """XDMF series (one per function) for u and the derived fields.

    ``append=True`` continues existing series (a resumed run) instead of starting them anew.
    """

    SCALARS = ("von_mises", "hydrostatic", "max_principal", "energy_density")

    def __init__(self, post: StressPost, folder: str | os.PathLike[str], append: bool = False,
                 resume_time: float | None = None):
        self.post = post
        problem = post.problem
        self.problem = problem
        self.folder = Path(folder)
        self.append = append
        mesh = problem.domain.mesh
        comm = mesh.comm
        if comm.rank == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
        comm.Barrier()
        V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))
        self.u_out = dolfinx.fem.Function(V1, name="displacement")
        Q0 = dolfinx.fem.functionspace(mesh, ("DG", 0))
        T0 = dolfinx.fem.functionspace(mesh, ("DG", 0, (3, 3)))
        self.tensor = dolfinx.fem.Function(T0, name="stress")
        self.scalars = {k: dolfinx.fem.Function(Q0, name=k) for k in self.SCALARS}
        self.dofs = {p: Q0.dofmap.list[c, 0] for p, c in post.cells.items()}
        self.tdofs = {p: T0.dofmap.list[c, 0] for p, c in post.cells.items()}
        self.files: dict[str, XdmfSeries] = {}
        for f in (self.u_out, self.tensor, *self.scalars.values()):
            self.files[f.name] = XdmfSeries(self.folder / f"{f.name}.xdmf", mesh, append, resume_time)
        # interface tractions on a surface mesh of the owned interface facets
        self.surface = None
        if comm.allreduce(post.facets.size, op=MPI.SUM):
            sub, emap, _, _ = dolfinx.mesh.create_submesh(mesh, mesh.topology.dim - 1, post.facets)
            S0 = dolfinx.fem.functionspace(sub, ("DG", 0))
            n_sub = sub.topology.index_map(2).size_local
            parent = emap.sub_topology_to_topology(np.arange(n_sub, dtype=np.int32), False)
            row_of = {int(f): i for i, f in enumerate(post.facets)}
            self._rows = np.array([row_of[int(f)] for f in parent], dtype=np.int64)
            self._sdofs = S0.dofmap.list[np.arange(n_sub), 0]
            names = ["interface_normal_traction", "interface_shear_traction"]
            self._parent_facets = parent
            if isinstance(self.problem, CohesiveMechanicsProblem):
                names.append("interface_damage")  # D of the cohesive zone, 0 bonded ... 1 separated
            self.surface = {k: dolfinx.fem.Function(S0, name=k) for k in names}
            for k in self.surface:
                self.files[k] = XdmfSeries(self.folder / f"{k}.xdmf", sub, append, resume_time)

    def write(self, t: float = 0.0) -> None:
        """Evaluate and append every field at time ``t`` (s)."""
        post = self.post
        self.u_out.interpolate(self.problem.u)
        for phase in tags.PHASES:
            fields = post.phase_fields(phase)
            n_cells = post.cells[phase].size
            for k in self.SCALARS:
                self.scalars[k].x.array[self.dofs[phase]] = fields[k].reshape(n_cells, post.nq).mean(axis=1)
            mean_s = fields["stress"].reshape(n_cells, post.nq, 9).mean(axis=1)
            self.tensor.x.array.reshape(-1, 9)[self.tdofs[phase]] = mean_s
        for f in (self.tensor, *self.scalars.values()):
            f.x.scatter_forward()
        for f in (self.u_out, self.tensor, *self.scalars.values()):
            self.files[f.name].write(f, t)
        if self.surface is not None:
            tn, ts = post.tractions()
            values = {"interface_normal_traction": tn[self._rows], "interface_shear_traction": ts[self._rows]}
            if isinstance(self.problem, CohesiveMechanicsProblem):
                values["interface_damage"] = self.problem.damage_of_facets(self._parent_facets)
            for k, vals in values.items():
                self.surface[k].x.array[self._sdofs] = vals
                self.surface[k].x.scatter_forward()
                self.files[k].write(self.surface[k], t)

    def close(self) -> None:
        """Nothing stays open between writes; kept for symmetry with the other writers."""
        self.files.clear()

    def __enter__(self) -> MechanicsFieldWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
