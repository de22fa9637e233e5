"""A blocked linear system K u = f whose matrix is a fixed part plus a small changing part.

K = K_fixed + K_vary, both assembled into matrices of one sparsity pattern (that of the full
form), so that a new K costs the assembly of K_vary only (e.g. interface terms on a few
facets) plus a copy and an AXPY, instead of the whole domain. The right-hand side is
assembled when asked (it may depend on other coefficients than K). Homogeneous Dirichlet
conditions only (no lifting is needed). The KSP may keep its preconditioner across solves
(:meth:`solve` with ``reuse_preconditioner``): an LU of an earlier K then preconditions a
Krylov solve of the new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fem_electrode.fem.fenicsx import PETSc, dolfinx
from fem_electrode.fem.petsc_options import OptionsScope, OptionValue

_petsc = dolfinx.fem.petsc


class SplitLinearSystem:
    """``full``: the blocked bilinear form K; ``vary``: the blocked form of its changing part.
    ``full`` is assembled once, at construction, with the coefficients of ``vary`` at zero: that
    is K_fixed, and it carries every entry of K's sparsity pattern (explicit zeros included).
    ``L``: blocked linear forms; ``u``: the block solutions; ``bcs``: homogeneous Dirichlet
    conditions; ``options``: KSP options under ``prefix``."""

    def __init__(self, full: Sequence[Sequence[dolfinx.fem.Form]],
                 vary: Sequence[Sequence[dolfinx.fem.Form | None]], L: Sequence[dolfinx.fem.Form],
                 u: Sequence[dolfinx.fem.Function], bcs: Sequence[dolfinx.fem.DirichletBC],
                 options: Mapping[str, OptionValue], prefix: str):
        self.vary_forms, self.L, self.u, self.bcs = vary, L, list(u), list(bcs)
        self.fixed = _petsc.assemble_matrix(full, bcs=self.bcs, diag=1.0, kind="mpi")  # bc rows: identity
        self.fixed.assemble()
        self.A = self.fixed.duplicate(copy=True)
        self.vary = _petsc.create_matrix(vary, kind="mpi")
        spaces = [form.function_spaces[0] for form in L]
        self.b = _petsc.create_vector(spaces, kind="mpi")
        self.x = _petsc.create_vector(spaces, kind="mpi")
        self._bcs_by_block = dolfinx.fem.bcs_by_block(spaces, self.bcs)
        self.ksp = PETSc.KSP().create(self.A.comm)
        self.ksp.setOptionsPrefix(prefix)
        self.scope = OptionsScope(prefix, options)
        with self.scope.active():
            self.ksp.setFromOptions()
        self.ksp.setOperators(self.A)
        self.ksp.setInitialGuessNonzero(True)  # from the last solution

    def assemble_matrix(self) -> None:
        """K = K_fixed + K_vary for the present coefficients of ``vary``."""
        self.vary.zeroEntries()
        _petsc.assemble_matrix(self.vary, self.vary_forms, bcs=self.bcs, diag=0.0)
        self.vary.assemble()
        self.fixed.copy(self.A, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        self.A.axpy(1.0, self.vary, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)

    def assemble_rhs(self) -> None:
        """f for the present coefficients of ``L`` (zero on the Dirichlet dofs)."""
        with self.b.localForm() as local:
            local.set(0.0)
        _petsc.assemble_vector(self.b, self.L)
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        _petsc.set_bc(self.b, self._bcs_by_block)

    def solve(self, reuse_preconditioner: bool) -> tuple[int, int]:
        """Solve with the assembled K and f into ``u``; returns (iterations, KSP converged reason)."""
        self.ksp.getPC().setReusePreconditioner(reuse_preconditioner)
        self.ksp.solve(self.b, self.x)
        self.x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        _petsc.assign(self.x, self.u)
        for u in self.u:
            u.x.scatter_forward()
        return int(self.ksp.getIterationNumber()), int(self.ksp.getConvergedReason())

    def destroy(self) -> None:
        for obj in (self.ksp, self.A, self.fixed, self.vary, self.b, self.x):
            obj.destroy()
