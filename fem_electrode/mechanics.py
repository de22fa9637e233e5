"""Chemo-mechanics on the solid NZSP ∪ NVP: problem set-up, boundary conditions, solve.

Typical use, once per output step of an electrochemistry run (nothing recompiles; the
stiffness matrix and the AMG hierarchy are built once)::

    mech = MechanicsProblem(domain, case)
    info = mech.solve(c_nvp)          # c_nvp: Function on domain.submesh("NVP"), or mol/m^3
    metrics = mech.metrics()          # dict for metrics.json["mechanics"]
    mech.write_fields(writer, t)      # ParaView fields (see FieldWriter)

Boundary conditions come from ``[mechanics]``: separator u_z = 0 (or clamped, or free),
lateral rollers (u·n = 0 on the x and y faces of the box; or periodic, see
:mod:`fem_electrode.periodicity`; or free), current collector free (or rollers); every other
surface (pore walls, outer surfaces of canonical shapes) is traction-free. Rigid-body modes
the conditions leave free are handed to the Krylov solver as a null space, so free-floating
bodies (the Eshelby shell test) and periodic cells (free lateral translations) solve too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fem_electrode import periodicity, tags
from fem_electrode.config import Case
from fem_electrode.domain import Domain, bounding_box
from fem_electrode.fenicsx import MPI, PETSc, dolfinx, ufl
from fem_electrode.log import get_logger
from fem_electrode.outputs import stress
from fem_electrode.physics import elasticity

log = get_logger("mechanics")

#: Options prefix of the mechanics KSP; ``[solver].petsc`` keys starting with it apply here.
PETSC_PREFIX = "mechanics_"

#: CG + smoothed-aggregation AMG with the rigid-body near-null space (DOLFINx elasticity demo).
ITERATIVE_OPTIONS: dict[str, str | int | float | bool] = {
    "ksp_type": "cg",
    "ksp_rtol": 1e-10,  # algebraic error far below the discretisation error of the stresses
    "ksp_max_it": 2000,
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "pc_gamg_coarse_eq_limit": 1000,
    "pc_gamg_sym_graph": True,
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
}

#: Added when no Dirichlet condition removes the rigid-body modes: the coarse AMG operator is
#: then singular, and a pseudo-inverse (at most ``pc_gamg_coarse_eq_limit`` equations) solves it.
SINGULAR_COARSE_OPTIONS: dict[str, str | int | float | bool] = {
    "mg_coarse_ksp_type": "preonly",
    "mg_coarse_pc_type": "svd",
}

#: MUMPS LU: only for small cases (design §9: sane below ~1.5e5 dofs).
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

#: Above this Poisson ratio P1 tetrahedra lock (volumetric stiffness dominates).
NU_LOCKING_P1 = 0.45

#: Relative size below which an eigenvalue of the constrained rigid-mode Gram matrix is zero.
KERNEL_TOL = 1e-10

#: Facet midpoints within this fraction of the box size from a face lie on that face.
PLANE_TOL = 1e-6

#: Number of rigid-body modes in 3D (3 translations, 3 rotations).
N_RIGID = 6


class MechanicsError(RuntimeError):
    """The mechanics solve failed (diverged, or inconsistent input)."""


@dataclass(frozen=True)
class SolveInfo:
    """Outcome of one mechanics solve."""

    iterations: int
    reason: str
    residual_norm: float
    seconds: float
    dofs: int


def petsc_options(case: Case) -> dict[str, str | int | float | bool]:
    """Default KSP options (iterative or direct per ``[solver].linear``) merged with the
    ``[solver].petsc`` entries whose names start with :data:`PETSC_PREFIX` (prefix removed)."""
    opts = dict(DIRECT_OPTIONS if case.solver.linear == "direct" else ITERATIVE_OPTIONS)
    for key, value in case.solver.petsc.items():
        if key.startswith(PETSC_PREFIX):
            opts[key[len(PETSC_PREFIX):]] = value
    return opts


# ---- boundary conditions ---------------------------------------------------------------
def _facets_on_planes(domain: Domain, facets: np.ndarray, axis: int) -> np.ndarray:
    """Those ``facets`` whose midpoints lie on the min or max plane of ``axis``."""
    lo, hi = bounding_box(domain.mesh)
    tol = PLANE_TOL * float(np.max(hi - lo))
    mid = dolfinx.mesh.compute_midpoints(domain.mesh, 2, facets)
    on = np.isclose(mid[:, axis], lo[axis], atol=tol) | np.isclose(mid[:, axis], hi[axis], atol=tol)
    return facets[on]


def boundary_conditions(domain: Domain, V: dolfinx.fem.FunctionSpace,
                        separator: str, lateral: str, collector: str) -> list[dolfinx.fem.DirichletBC]:
    """Homogeneous Dirichlet conditions of ``[mechanics]`` (separator/lateral/collector BCs).

    Surfaces missing from the mesh (e.g. ``separator`` on a sphere) simply carry no condition.
    """
    zero = np.float64(0.0)
    bcs: list[dolfinx.fem.DirichletBC] = []

    def component(i: int, facets: np.ndarray) -> None:
        dofs = dolfinx.fem.locate_dofs_topological(V.sub(i), 2, facets)
        bcs.append(dolfinx.fem.dirichletbc(zero, dofs, V.sub(i)))

    sep = domain.facets("separator")
    if separator == "clamped":
        for i in range(3):
            component(i, sep)
    elif separator == "fixed_z":
        component(2, sep)
    if lateral == "rollers":
        lat = domain.facets("lateral")
        fx, fy = _facets_on_planes(domain, lat, 0), _facets_on_planes(domain, lat, 1)
        stray = domain.mesh.comm.allreduce(lat.size - fx.size - fy.size, op=MPI.SUM)
        if stray:
            raise MechanicsError(
                f"lateral rollers need the 'lateral' faces on the x/y planes of the box; "
                f"{stray} lateral facets lie elsewhere (set mechanics.lateral_bc = 'free')")
        component(0, fx)
        component(1, fy)
    if collector == "rollers":
        component(2, domain.facets("current_collector"))
    return bcs


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

    ``constraint`` = (P, owned slave dofs) of periodic faces (:mod:`fem_electrode.periodicity`):
    a mode must then also be periodic, u = P û; the returned vectors are û (zero on slaves).
    """
    n_owned = modes[0].index_map.size_local * modes[0].block_size
    rows = np.concatenate([bc.dof_indices()[0][: bc.dof_indices()[1]] for bc in bcs]) if bcs else []
    rows = np.unique(np.asarray(rows, dtype=np.int64))
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
_REASONS = {getattr(PETSc.KSP.ConvergedReason, k): k for k in dir(PETSc.KSP.ConvergedReason)
            if not k.startswith("_")}


class LinearElasticSolver:
    """K u = f with a constant K: matrix, near-null space and preconditioner built once.

    Only the right-hand side is re-assembled per :meth:`solve`. Options are set under
    ``prefix`` in PETSc's option database for the set-up only, then removed again.
    """

    def __init__(self, a: dolfinx.fem.Form, L: dolfinx.fem.Form, bcs: list[dolfinx.fem.DirichletBC],
                 u: dolfinx.fem.Function, options: dict, prefix: str = PETSC_PREFIX,
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
        db = PETSc.Options()
        for k, v in options.items():
            db[prefix + k] = v
        try:
            self.ksp.setFromOptions()
            self.ksp.setUp()  # builds the AMG hierarchy while the level options are present
        finally:
            for k in options:
                db.delValue(prefix + k)
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
        name = _REASONS.get(reason, str(reason))
        if reason < 0:
            raise MechanicsError(
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


# ---- the problem -----------------------------------------------------------------------------
class MechanicsProblem:
    """Linear elasticity on NZSP ∪ NVP driven by the NVP concentration (mol/m³).

    ``degree`` (default ``[mechanics].degree``) is the Lagrange degree of u;
    ``c_degree`` the degree of the discontinuous parent-mesh copy of the concentration
    (c given on the NVP submesh in P_k, k ≤ c_degree, is copied exactly).
    ``layer_thickness`` (m) is h of the thin-film fracture indicator when the geometry
    provenance knows it (see :func:`fem_electrode.outputs.stress.layer_thickness`).
    """

    def __init__(self, domain: Domain, case: Case, *, degree: int | None = None, c_degree: int = 1,
                 layer_thickness: float | None = None):
        self.domain, self.case = domain, case
        mech, mat = case.mechanics, case.materials
        self.degree = int(degree if degree is not None else mech.degree)
        self.layer_thickness = layer_thickness
        mesh = domain.mesh
        self._check_tagged()
        self.laws = {
            "NZSP": elasticity.IsotropicElastic.create(mesh, mat.E_nzsp, mat.nu_nzsp),
            "NVP": elasticity.IsotropicElastic.create(mesh, mat.E_nvp, mat.nu_nvp),
        }
        nu_max = max(mat.nu_nzsp, mat.nu_nvp)
        if self.degree == 1 and nu_max > NU_LOCKING_P1:
            log.warning("Poisson ratio %.3f > %.2f with P1 elements: volumetric locking makes the "
                        "solution too stiff; use [mechanics] degree = 2", nu_max, NU_LOCKING_P1)
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", self.degree, (3,)))
        self.u = dolfinx.fem.Function(self.V, name="displacement")
        self.c_degree = int(c_degree)
        self.C = dolfinx.fem.functionspace(mesh, ("DG", self.c_degree))
        self.c = dolfinx.fem.Function(self.C, name="concentration")  # used on NVP cells only
        self.c_max = dolfinx.fem.Constant(mesh, mat.c_max)
        self.y_ref = dolfinx.fem.Constant(mesh, mech.y_ref)
        self.c.x.array[:] = mech.y_ref * mat.c_max  # stress-free start
        if mech.strain_model == "anisotropic":
            e_a = dolfinx.fem.Constant(mesh, mech.lattice_strain_a)
            e_c = dolfinx.fem.Constant(mesh, mech.lattice_strain_c)
            self.eps_ch = elasticity.anisotropic_eigenstrain(self.c / self.c_max, self.y_ref, e_a, e_c)
        else:
            omega = dolfinx.fem.Constant(mesh, mat.omega_nvp)
            self.eps_ch = elasticity.isotropic_eigenstrain(self.c, omega, self.y_ref * self.c_max)
        #: ∂ε_ch/∂c (m³/mol): the chemical strain per mole of Na
        self.eps_ch_per_mol = dolfinx.fem.Constant(mesh, self.chemical_strain_per_mol())
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        a = elasticity.bilinear_form(u, v, [(self.laws[p], domain.dx(p)) for p in tags.PHASES])
        L = elasticity.eigenstrain_load(v, self.laws["NVP"], self.eps_ch, domain.dx("NVP"))
        self.bcs = boundary_conditions(domain, self.V, mech.separator_bc, mech.lateral_bc,
                                       mech.collector_bc)
        periodic = periodicity.lateral_pairs(self.V) if mech.lateral_bc == "periodic" else None
        self.solver = LinearElasticSolver(dolfinx.fem.form(a), dolfinx.fem.form(L), self.bcs, self.u,
                                          petsc_options(case), periodic=periodic)
        if self.solver.free_modes:
            log.info("mechanics: %d rigid-body mode(s) not fixed by the boundary conditions are "
                     "projected out of the solution", self.solver.free_modes)
        self._nvp_cells = domain.cells("NVP")
        self._post = None  # stress sampling (Expressions compiled on first use)

    # ---- inputs --------------------------------------------------------------------------
    def _check_tagged(self) -> None:
        tdim = self.domain.mesh.topology.dim
        imap = self.domain.mesh.topology.index_map(tdim)
        phase = self.domain.cell_phase(np.arange(imap.size_local, dtype=np.int32))
        known = np.isin(phase, [tags.cell_tag(p) for p in tags.PHASES])
        n_bad = self.domain.mesh.comm.allreduce(int(np.count_nonzero(~known)), op=MPI.SUM)
        if n_bad:
            raise MechanicsError(f"{n_bad} cells carry no phase tag ({', '.join(tags.PHASES)})")

    def stress(self, phase: str) -> ufl.core.expr.Expr:
        """UFL Cauchy stress (Pa) in ``phase`` for the current u and c."""
        eps = elasticity.strain(self.u)
        return self.laws[phase].stress(eps - self.eps_ch if phase == "NVP" else eps)

    def elastic_strain(self, phase: str) -> ufl.core.expr.Expr:
        """UFL elastic strain ε(u) − ε_ch in ``phase``."""
        eps = elasticity.strain(self.u)
        return eps - self.eps_ch if phase == "NVP" else eps

    def set_concentration(self, c: dolfinx.fem.Function | float) -> None:
        """Copy the NVP concentration (mol/m³) into the parent-mesh field used by the forms.

        ``c`` is a number (uniform), a Function on ``domain.submesh("NVP")`` (as in the
        electrochemistry) or a Function on the parent mesh (values on NVP cells are used).
        """
        if isinstance(c, dolfinx.fem.Function):
            degree = c.function_space.ufl_element().embedded_superdegree
            if degree > self.c_degree:
                raise ValueError(f"concentration of degree {degree} would be truncated to the "
                                 f"DG{self.c_degree} copy; create MechanicsProblem(c_degree={degree})")
            if c.function_space.value_size != 1:
                raise ValueError("the concentration must be a scalar Function")
            parent_cells, cells = self._cells_to(c.function_space.mesh)
            self.c.interpolate(c, cells0=cells, cells1=parent_cells)
            self.c.x.scatter_forward()
        else:
            value = float(c)
            if not np.isfinite(value):
                raise ValueError(f"concentration must be finite, got {c!r}")
            self.c.x.array[:] = value

    def _cells_to(self, mesh: dolfinx.mesh.Mesh) -> tuple[np.ndarray, np.ndarray]:
        """(parent cells, cells of ``mesh``) of the NVP phase, for the parent or the NVP submesh."""
        if mesh is self.domain.mesh:
            return self._nvp_cells, self._nvp_cells
        sub = self.domain.submesh("NVP")
        if mesh is not sub.mesh:
            raise ValueError("expected a Function on domain.submesh('NVP').mesh or on the parent mesh")
        imap = mesh.topology.index_map(mesh.topology.dim)
        sub_cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
        return sub.entity_map.sub_topology_to_topology(sub_cells, False), sub_cells

    def interpolate_hydrostatic(self, target: dolfinx.fem.Function) -> None:
        """Fill ``target`` with the NVP hydrostatic stress tr σ / 3 (Pa) of the current solution.

        ``target`` is a scalar Function on ``domain.submesh("NVP")`` (or on the parent mesh, NVP
        cells only); use a DG space, the stress is discontinuous between cells.
        """
        self._interpolate_nvp("hydrostatic", lambda: ufl.tr(self.stress("NVP")) / 3.0, target)

    def interpolate_stress_work(self, target: dolfinx.fem.Function) -> None:
        """Fill ``target`` with w = σ : ∂ε_ch/∂c (J/mol) in NVP, the stress term of the Na
        chemical potential μ = μ_chem − w (two-way coupling). Isotropic Vegard strain: w = Ω σ_h.
        Spaces as for :meth:`interpolate_hydrostatic`.
        """
        work = lambda: ufl.inner(self.stress("NVP"), self.eps_ch_per_mol)  # noqa: E731
        self._interpolate_nvp("stress_work", work, target)

    def rigid_stress_work_slope(self) -> float:
        """−∂w/∂c (J m³/mol²) of NVP held rigidly (ε(u) = 0): 𝔼 : C : 𝔼 with 𝔼 = ∂ε_ch/∂c.

        The upper bound of the local stress feedback on the chemical potential (K Ω² for an
        isotropic Vegard strain); the two-way coupling uses it to stabilise its iteration.
        """
        mat = self.case.materials
        e = self.chemical_strain_per_mol()
        lm, mu = elasticity.lame(mat.E_nvp, mat.nu_nvp)
        return float(lm * np.trace(e) ** 2 + 2.0 * mu * np.sum(e * e))

    def chemical_strain_per_mol(self) -> np.ndarray:
        """∂ε_ch/∂c (m³/mol, 3 × 3) of the case's strain model: (Ω/3) I, or
        −diag(e_a, e_a, e_c)/c_max for the anisotropic lattice strains (ε_ch ∝ y_ref − y)."""
        mech, mat = self.case.mechanics, self.case.materials
        if mech.strain_model == "anisotropic":
            return np.diag([mech.lattice_strain_a, mech.lattice_strain_a, mech.lattice_strain_c]) / -mat.c_max
        return np.eye(3) * mat.omega_nvp / 3.0

    def _interpolate_nvp(self, name: str, build: Callable[[], ufl.core.expr.Expr],
                         target: dolfinx.fem.Function) -> None:
        """Interpolate the NVP expression ``build()`` (compiled once per target space) into ``target``."""
        V = target.function_space
        key = (name, id(V), V.element.interpolation_points.tobytes())
        cache = self.__dict__.setdefault("_expressions", {})
        if key not in cache:
            cache[key] = dolfinx.fem.Expression(build(), V.element.interpolation_points)
        parent_cells, cells = self._cells_to(V.mesh)
        target.interpolate(cache[key], cells0=parent_cells, cells1=cells)
        target.x.scatter_forward()

    # ---- solve ------------------------------------------------------------------------------
    def solve(self, c: dolfinx.fem.Function | float | None = None) -> SolveInfo:
        """Solve for u with NVP concentration ``c`` (mol/m³; None: ``mechanics.prescribed_y``)."""
        if c is None:
            y = self.case.mechanics.prescribed_y
            if y is None:
                raise MechanicsError("no NVP concentration given and [mechanics] prescribed_y is not set")
            c = y * self.case.materials.c_max
        self.set_concentration(c)
        t0 = time.perf_counter()
        its, reason, rnorm = self.solver.solve()
        seconds = time.perf_counter() - t0
        dofs = self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs
        log.debug("mechanics: %d dofs, %d iterations (%s), %.2f s", dofs, its, reason, seconds)
        return SolveInfo(its, reason, rnorm, seconds, dofs)

    def solve_y(self, y: float) -> SolveInfo:
        """Solve for a uniform NVP filling ``y`` = c/c_max."""
        return self.solve(y * self.case.materials.c_max)

    # ---- outputs -------------------------------------------------------------------------------
    def metrics(self) -> dict:
        """The ``mechanics`` block of metrics.json for the current solution (design §4)."""
        return self.post.metrics()

    def write_fields(self, target: str | os.PathLike[str] | stress.FieldWriter, t: float = 0.0) -> None:
        """Write u and the derived stress fields at time ``t`` (s).

        ``target`` is an open :class:`~fem_electrode.outputs.stress.FieldWriter` (time series:
        keep it open between steps) or a folder (one snapshot; files are overwritten).
        """
        if isinstance(target, stress.FieldWriter):
            target.write(t)
        else:
            with stress.FieldWriter(self, target) as writer:
                writer.write(t)

    @property
    def post(self) -> stress.StressPost:
        """Stress sampling, derived fields and metrics of the current solution."""
        if self._post is None:
            self._post = stress.StressPost(self)
        return self._post

    def destroy(self) -> None:
        """Free the PETSc objects (matrix, preconditioner)."""
        self.solver.destroy()
