"""K u = f for a constant stiffness K: linear elasticity's Krylov (or LU) solver, set up once.

:class:`LinearElasticSolver` assembles the matrix, builds the rigid-body near-null space
and the preconditioner once; each :meth:`~LinearElasticSolver.solve` only re-assembles the
right-hand side. CG + smoothed-aggregation AMG with the six rigid-body modes as near-null
space (as in DOLFINx's elasticity demo), or MUMPS LU for small meshes. Rigid-body modes
that the Dirichlet conditions leave free (a free-floating body, or the lateral translations
of a periodic cell) are handed to the solver as a null space and projected out of the
solution. Periodic faces enter as a constraint operator u = P û
(:mod:`fem_electrode.fem.periodicity`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from fem_electrode.fem import periodicity, petsc_options
from fem_electrode.fem.domain import bounding_box
from fem_electrode.fem.fenicsx import MPI, PETSc, dolfinx
from fem_electrode.util.log import get_logger

log = get_logger("mechanics")

#: Options prefix of the elasticity KSP; ``[solver] petsc`` keys starting with it apply here.
PETSC_PREFIX = "mechanics_"

#: CG + smoothed-aggregation AMG with the rigid-body near-null space (DOLFINx elasticity demo).
ITERATIVE_OPTIONS: dict[str, str | int | float | bool] = {
    "ksp_type": "cg",
    "ksp_rtol": 1e-10,  # algebraic error far below the discretisation error of the stresses
    "ksp_max_it": 2000,
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "pc_gamg_coarse_eq_limit": 1000,
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
}

#: Added when no Dirichlet condition removes the rigid-body modes: the coarse AMG operator is
#: then singular, and a pseudo-inverse (at most ``pc_gamg_coarse_eq_limit`` equations) solves it.
SINGULAR_COARSE_OPTIONS: dict[str, str | int | float | bool] = {
    "mg_coarse_ksp_type": "preonly",
    "mg_coarse_pc_type": "svd",
}

#: MUMPS LU: only for small cases (below ≈1.5·10⁵ dofs: memory grows fast).
DIRECT_OPTIONS: dict[str, str | int | float | bool] = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}

#: Added to MUMPS when rigid-body modes are left free: detect the null pivots of the singular
#: matrix (one solution is returned; the null space is projected out afterwards).
SINGULAR_DIRECT_OPTIONS: dict[str, str | int | float | bool] = {
    "mat_mumps_icntl_24": 1,
}

#: Relative size below which an eigenvalue of the constrained rigid-mode Gram matrix is zero.
KERNEL_TOL = 1e-10

#: Facet midpoints within this fraction of the box size from a face lie on that face.
PLANE_TOL = 1e-6

#: Number of rigid-body modes in 3D (3 translations, 3 rotations).
N_RIGID = 6




def solver_options(linear: str, user: Mapping[str, petsc_options.OptionValue]
                   ) -> dict[str, petsc_options.OptionValue]:
    """Default KSP options (``linear`` = "iterative" or "direct") merged with the ``user``
    entries whose names start with :data:`PETSC_PREFIX` (prefix removed)."""
    if linear not in ("iterative", "direct"):
        raise ValueError(f"linear solver {linear!r}: allowed: 'iterative', 'direct'")
    defaults = DIRECT_OPTIONS if linear == "direct" else ITERATIVE_OPTIONS
    return petsc_options.merged(defaults, user, PETSC_PREFIX)


class ElasticSolveError(RuntimeError):
    """The linear elasticity solve diverged."""


# ---- rigid-body modes ---------------------------------------------------------------------
def rigid_body_modes(V: dolfinx.fem.FunctionSpace) -> list[dolfinx.la.Vector]:
    """The 6 rigid-body modes of a 3D vector Lagrange space (orthonormalised).

    Coordinates are centred and scaled by the box size first, so that translations and
    rotations have comparable entries in metre-sized (µm) meshes.
    """
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    if bs != 3:
        raise ValueError(f"rigid-body modes need a 3D vector space, got block size {bs}")
    lo, hi = bounding_box(V.mesh)
    x = (V.tabulate_dof_coordinates() - 0.5 * (lo + hi)) / float(np.max(hi - lo))
    modes = [dolfinx.la.vector(imap, bs=bs) for _ in range(N_RIGID)]
    b = [m.array for m in modes]
    for i in range(3):
        b[i][i::3] = 1.0
    b[3][0::3], b[3][1::3] = -x[:, 1], x[:, 0]
    b[4][0::3], b[4][2::3] = x[:, 2], -x[:, 0]
    b[5][1::3], b[5][2::3] = -x[:, 2], x[:, 1]
    dolfinx.la.orthonormalize(modes)
    return modes


def free_rigid_modes(modes: list[dolfinx.la.Vector], bcs: list[dolfinx.fem.DirichletBC],
                     comm: MPI.Comm, constraint: tuple[PETSc.Mat, np.ndarray] | None = None
                     ) -> list[dolfinx.la.Vector]:
    """The combinations of ``modes`` that vanish on every Dirichlet dof (the operator's kernel).

    ``constraint`` = (P, owned slave dofs) of periodic faces (:mod:`fem_electrode.fem.periodicity`):
    a mode must then also be periodic, u = P û; the returned vectors are û (zero on slaves).
    """
    n_owned = modes[0].index_map.size_local * modes[0].block_size
    given = [bc.dof_indices()[0][: bc.dof_indices()[1]] for bc in bcs]
    rows = np.unique(np.concatenate(given).astype(np.int64)) if given else np.zeros(0, dtype=np.int64)
    rows = rows[rows < n_owned]
    R = np.stack([m.array[rows] for m in modes], axis=1)
    if constraint is not None:
        P, slaves = constraint
        R = np.vstack([R, np.stack([_periodic_jump(P, slaves, m, n_owned) for m in modes], axis=1)])
    gram = comm.allreduce(R.T @ R, op=MPI.SUM)
    w, Q = np.linalg.eigh(gram)
    free = Q[:, w <= KERNEL_TOL * max(1.0, float(np.max(w)))]
    kernel = []
    for coeffs in free.T:
        k = dolfinx.la.vector(modes[0].index_map, bs=modes[0].block_size)
        k.array[:] = sum(c * m.array for c, m in zip(coeffs, modes, strict=True))
        if constraint is not None:
            k.array[constraint[1]] = 0.0
        kernel.append(k)
    if kernel:
        dolfinx.la.orthonormalize(kernel)
    return kernel


def _periodic_jump(P: PETSc.Mat, slaves: np.ndarray, mode: dolfinx.la.Vector, n_owned: int) -> np.ndarray:
    """mode(slave) − mode(master) at the owned slave dofs."""
    reduced = mode.array[:n_owned].copy()
    reduced[slaves] = 0.0
    x, y = P.createVecs()
    x.array[:] = reduced
    P.mult(x, y)
    jump = mode.array[slaves] - y.array[slaves]
    x.destroy()
    y.destroy()
    return jump


def _petsc_nullspace(vectors: list[dolfinx.la.Vector], comm: MPI.Comm) -> PETSc.NullSpace:
    n = vectors[0].index_map.size_local * vectors[0].block_size
    petsc_vecs = [PETSc.Vec().createWithArray(v.array[:n], bsize=3, comm=comm) for v in vectors]
    return PETSc.NullSpace().create(vectors=petsc_vecs, comm=comm)


# ---- the linear solver ------------------------------------------------------------------------
class LinearElasticSolver:
    """K u = f with a constant K: matrix, near-null space and preconditioner built once.

    Only the right-hand side is re-assembled per :meth:`solve`. Options are set under
    ``prefix`` in PETSc's option database for the set-up only, then removed again.
    """

    def __init__(self, a: dolfinx.fem.Form, L: dolfinx.fem.Form, bcs: list[dolfinx.fem.DirichletBC],
                 u: dolfinx.fem.Function, options: Mapping[str, petsc_options.OptionValue],
                 prefix: str = PETSC_PREFIX,
                 periodic: periodicity.PeriodicPairs | None = None):
        self.a, self.L, self.bcs, self.u = a, L, bcs, u
        V = u.function_space
        comm = V.mesh.comm
        t0 = time.perf_counter()
        self.A = dolfinx.fem.petsc.assemble_matrix(a, bcs=bcs)
        self.A.assemble()
        self.P = None  # u = P û on periodic faces (None: û is u)
        self.b_reduced = self.x_reduced = None  # Pᵀb and û (periodic faces only)
        constraint = None
        if periodic is not None:
            fixed = np.unique(np.concatenate([bc.dof_indices()[0] for bc in bcs])) if bcs else np.zeros(0)
            self.P, slaves = periodicity.constraint_operator(V, periodic, fixed)
            constraint = (self.P, slaves)
            full, self.A = self.A, self.A.PtAP(self.P)
            full.destroy()
            D = periodicity.slave_identity(self.A, slaves)
            self.A.axpy(1.0, D, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
            D.destroy()
            self.b_reduced, self.x_reduced = self.A.createVecs()
        t1 = time.perf_counter()
        self._modes = rigid_body_modes(V)
        self._kernel = free_rigid_modes(self._modes, bcs, comm, constraint)
        if constraint is not None:  # near-null vectors in the layout of û: zero on slaves
            for m in self._modes:
                m.array[constraint[1]] = 0.0
        self._near = _petsc_nullspace(self._modes, comm)  # the PETSc vectors view these arrays
        self.A.setNearNullSpace(self._near)
        self.nullspace = _petsc_nullspace(self._kernel, comm) if self._kernel else None
        if self.nullspace is not None:
            self.A.setNullSpace(self.nullspace)
        self.b = dolfinx.fem.petsc.create_vector(V)
        self.x = dolfinx.fem.petsc.create_vector(V)
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOperators(self.A)
        self.ksp.setOptionsPrefix(prefix)
        if self.nullspace is not None and options.get("pc_type") == "gamg":
            options = {**SINGULAR_COARSE_OPTIONS, **options}
        if self.nullspace is not None and options.get("pc_factor_mat_solver_type") == "mumps":
            options = {**SINGULAR_DIRECT_OPTIONS, **options}
        scope = petsc_options.OptionsScope(prefix, options)
        with scope.active():
            try:
                self.ksp.setFromOptions()
                self.ksp.setUp()  # builds the AMG hierarchy while the level options are present
            except PETSc.Error as exc:
                raise petsc_options.rejected(exc, prefix, options) or exc from None
            left = petsc_options.unused(scope, options)
        if left:
            log.warning("PETSc options not used by the mechanics solver (misspelled, or not applicable to "
                        "its solver types): %s", ", ".join(f"{prefix}{k}" for k in left))
        self.options = dict(options)
        #: Wall times (s) of the one-off set-up: matrix assembly (and periodic reduction),
        #: modes + preconditioner.
        self.setup_seconds = {"assemble": t1 - t0, "preconditioner": time.perf_counter() - t1}

    @property
    def free_modes(self) -> int:
        """Number of rigid-body modes no Dirichlet condition removes."""
        return len(self._kernel)

    def solve(self) -> tuple[int, str, float]:
        """Assemble f, solve, update ``u``; returns (iterations, reason, residual norm)."""
        with self.b.localForm() as b_local:
            b_local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(self.b, self.L)
        dolfinx.fem.petsc.apply_lifting(self.b, [self.a], bcs=[self.bcs])
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(self.b, self.bcs)
        b, x = self.b, self.x
        if self.P is not None:
            b, x = self.b_reduced, self.x_reduced
            self.P.multTranspose(self.b, b)
        if self.nullspace is not None:
            self.nullspace.remove(b)  # the load is self-equilibrated; drop round-off
        self.ksp.solve(b, x)
        reason = self.ksp.getConvergedReason()
        its, rnorm = self.ksp.getIterationNumber(), self.ksp.getResidualNorm()
        name = petsc_options.reason_name(PETSc.KSP.ConvergedReason, reason)
        if reason < 0:
            raise ElasticSolveError(
                f"mechanics solve diverged: {name} after {its} iterations (residual {rnorm:.3e}); "
                f"options {self.options}. Try [solver] linear = 'direct' for small meshes, or "
                f"raise {PETSC_PREFIX}ksp_max_it in [solver].petsc")
        if self.nullspace is not None:
            self.nullspace.remove(x)
        if self.P is not None:
            self.P.mult(x, self.x)
        self.x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        with self.x.localForm() as x_local:
            self.u.x.array[:] = x_local.array_r
        return its, name, rnorm

    def destroy(self) -> None:
        for obj in (self.ksp, self.A, self.b, self.x, self._near, self.nullspace, self.P,
                    self.b_reduced, self.x_reduced):
            if obj is not None:
                obj.destroy()
