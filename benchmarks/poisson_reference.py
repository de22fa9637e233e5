"""The reference solve of the benchmarks: Poisson P1, CG + GAMG, on a given mesh.

−Δu = 1 with u = 0 on z = 0: assembly of A and b (lifting, boundary condition), KSP set-up
(preconditioner) and solve, each timed. The KSP takes its options (``ksp_type``,
``pc_type``, ``ksp_rtol``, ...) from a dict, under a private prefix removed after set-up.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from fem_electrode.fem.fenicsx import PETSc, dolfinx, ufl

PREFIX = "bench_poisson_"


class PoissonReference:
    """Forms and boundary condition of the reference problem on ``mesh`` (built once)."""

    def __init__(self, mesh: dolfinx.mesh.Mesh):
        self.mesh = mesh
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        self.a = dolfinx.fem.form(ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
        self.L = dolfinx.fem.form(dolfinx.fem.Constant(mesh, 1.0) * v * ufl.dx)
        mesh.topology.create_connectivity(2, 3)
        facets = dolfinx.mesh.locate_entities_boundary(mesh, 2, lambda x: np.isclose(x[2], 0.0))
        self.bc = dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(V, 2, facets), V)
        self.dofs = V.dofmap.index_map.size_global

    def solve(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Assemble, set up the KSP with ``options`` (no prefix) and solve once; times (this rank)."""
        t0 = time.perf_counter()
        A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=[self.bc])
        A.assemble()
        b = dolfinx.fem.petsc.assemble_vector(self.L)
        dolfinx.fem.petsc.apply_lifting(b, [self.a], bcs=[[self.bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, [self.bc])
        t1 = time.perf_counter()
        ksp = PETSc.KSP().create(self.mesh.comm)
        ksp.setOperators(A)
        ksp.setOptionsPrefix(PREFIX)
        opts = PETSc.Options()
        for k, val in options.items():
            opts[PREFIX + k] = val
        ksp.setFromOptions()
        ksp.setUp()
        t2 = time.perf_counter()
        for k in options:
            opts.delValue(PREFIX + k)
        x = b.duplicate()
        ksp.solve(b, x)
        t3 = time.perf_counter()
        out = {"dofs": self.dofs, "assemble_s": t1 - t0, "setup_s": t2 - t1, "solve_s": t3 - t2,
               "total_s": t3 - t0, "iterations": ksp.getIterationNumber(),
               "converged": ksp.getConvergedReason() > 0,
               "matrix_nonzeros": A.getInfo()["nz_used"]}  # MatGetInfo sums over ranks
        for obj in (ksp, A, b, x):
            obj.destroy()
        return out
