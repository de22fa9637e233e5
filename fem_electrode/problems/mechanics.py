"""Chemo-mechanics on the solid NZSP ∪ NVP: the elasticity problem driven by the NVP concentration.

Typical use, once per output step of an electrochemistry run (nothing recompiles; the
stiffness matrix and the AMG hierarchy are built once)::

    mech = MechanicsProblem(domain, params, solver_options("iterative", {}))
    info = mech.solve(c_nvp)     # c_nvp: Function on domain.submesh("NVP"), or mol/m^3

Stresses, metrics and fields of the solution are computed by :mod:`fem_electrode.outputs.stress`
and :mod:`fem_electrode.outputs.mechanics_fields`; this module writes no files.

Boundary conditions (:class:`MechanicsParams`): separator u_z = 0 (or clamped, or free),
lateral rollers (u·n = 0 on the x and y faces of the box; or periodic, see
:mod:`fem_electrode.fem.periodicity`; or free), current collector free (or rollers); every
other surface (pore walls, outer surfaces of canonical shapes) is traction-free.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from fem_electrode import tags
from fem_electrode.fem import periodicity
from fem_electrode.fem.domain import Domain, bounding_box
from fem_electrode.fem.elastic_solver import LinearElasticSolver
from fem_electrode.fem.fenicsx import MPI, dolfinx, ufl
from fem_electrode.fem.petsc_options import OptionValue
from fem_electrode.physics import elasticity
from fem_electrode.util.log import get_logger

log = get_logger("mechanics")

#: Above this Poisson ratio P1 tetrahedra lock (volumetric stiffness dominates).
NU_LOCKING_P1 = 0.45

#: Facet midpoints within this fraction of the box size from a face lie on that face.
PLANE_TOL = 1e-6


class MechanicsError(RuntimeError):
    """Inconsistent input of the mechanics problem (untagged cells, misplaced lateral faces)."""


@dataclass(frozen=True)
class MechanicsParams:
    """Elastic constants, chemical strain and boundary conditions (SI; from ``[materials]`` and
    ``[mechanics]``, whose defaults and sources live in the case schema)."""

    E_nzsp: float  #: Young's modulus of NZSP, Pa
    nu_nzsp: float  #: Poisson ratio of NZSP
    E_nvp: float  #: Young's modulus of NVP, Pa
    nu_nvp: float  #: Poisson ratio of NVP
    omega: float  #: partial molar volume of Na in NVP, m³/mol (isotropic Vegard strain)
    c_max: float  #: cyclable Na concentration, mol/m³
    y_ref: float  #: stress-free filling c_ref/c_max
    strain_model: str  #: "isotropic" or "anisotropic"
    lattice_strain_a: float | None  #: anisotropic: linear strain along a (x, y) from y = 1 to 0
    lattice_strain_c: float | None  #: anisotropic: linear strain along c (z) from y = 1 to 0
    separator_bc: str  #: "fixed_z", "clamped" or "free"
    lateral_bc: str  #: "rollers", "periodic" or "free"
    collector_bc: str  #: "free" or "rollers"
    degree: int  #: Lagrange degree of the displacement
    #: isotropic eigenstrain of NVP relative to NZSP present at every state (thermal mismatch from
    #: cooling after the heat treatment: (α_NVP − α_NZSP)(T_cell − T_heat)); 0 = none
    residual_strain: float = 0.0

    def __post_init__(self) -> None:
        if self.strain_model == "anisotropic" and (self.lattice_strain_a is None
                                                   or self.lattice_strain_c is None):
            raise ValueError("strain_model = 'anisotropic' needs lattice_strain_a and lattice_strain_c")

    def chemical_strain_per_mol(self) -> np.ndarray:
        """∂ε_ch/∂c (m³/mol, 3 × 3): (Ω/3) I, or −diag(e_a, e_a, e_c)/c_max for the anisotropic
        lattice strains (ε_ch ∝ y_ref − y)."""
        if self.strain_model == "anisotropic":
            assert self.lattice_strain_a is not None and self.lattice_strain_c is not None
            e_a, e_c = self.lattice_strain_a, self.lattice_strain_c
            return np.diag([e_a, e_a, e_c]) / -self.c_max
        return np.eye(3) * self.omega / 3.0

    def rigid_stress_work_slope(self) -> float:
        """−∂w/∂c (J m³/mol²) of NVP held rigidly (ε(u) = 0): 𝔼 : C : 𝔼 with 𝔼 = ∂ε_ch/∂c.

        The upper bound of the local stress feedback on the chemical potential (K Ω² for an
        isotropic Vegard strain); the two-way coupling uses it to stabilise its iteration.
        """
        e = self.chemical_strain_per_mol()
        lm, mu = elasticity.lame(self.E_nvp, self.nu_nvp)
        return float(lm * np.trace(e) ** 2 + 2.0 * mu * np.sum(e * e))


@dataclass(frozen=True)
class SolveInfo:
    """Outcome of one mechanics solve."""

    iterations: int
    reason: str
    residual_norm: float
    seconds: float
    dofs: int


# ---- boundary conditions ---------------------------------------------------------------
def _facets_on_planes(domain: Domain, facets: np.ndarray, axis: int,
                      mesh: dolfinx.mesh.Mesh | None = None) -> np.ndarray:
    """Those ``facets`` (of ``mesh``, default the domain's) whose midpoints lie on the min or
    max plane of ``axis`` of the domain's box."""
    lo, hi = bounding_box(domain.mesh)
    tol = PLANE_TOL * float(np.max(hi - lo))
    mid = dolfinx.mesh.compute_midpoints(mesh or domain.mesh, 2, facets)
    on = np.isclose(mid[:, axis], lo[axis], atol=tol) | np.isclose(mid[:, axis], hi[axis], atol=tol)
    return facets[on]


def boundary_conditions(domain: Domain, V: dolfinx.fem.FunctionSpace,
                        separator: str, lateral: str, collector: str,
                        facets: Callable[[str], np.ndarray] | None = None) -> list[dolfinx.fem.DirichletBC]:
    """Homogeneous Dirichlet conditions of ``[mechanics]`` (separator/lateral/collector BCs).

    Surfaces missing from the mesh (e.g. ``separator`` on a sphere) simply carry no condition.
    ``V`` lives on the parent mesh or on a phase submesh; ``facets(name)`` then gives the
    facets of V's mesh tagged ``name`` (default: the parent's, :meth:`Domain.facets`).
    """
    zero = np.float64(0.0)
    bcs: list[dolfinx.fem.DirichletBC] = []
    facets = facets or domain.facets
    mesh = V.mesh

    def component(i: int, facets: np.ndarray) -> None:
        dofs = dolfinx.fem.locate_dofs_topological(V.sub(i), 2, facets)
        bcs.append(dolfinx.fem.dirichletbc(zero, dofs, V.sub(i)))

    sep = facets("separator")
    if separator == "clamped":
        for i in range(3):
            component(i, sep)
    elif separator == "fixed_z":
        component(2, sep)
    if lateral == "rollers":
        lat = facets("lateral")
        fx, fy = _facets_on_planes(domain, lat, 0, mesh), _facets_on_planes(domain, lat, 1, mesh)
        stray = domain.mesh.comm.allreduce(lat.size - fx.size - fy.size, op=MPI.SUM)
        if stray:
            raise MechanicsError(
                f"lateral rollers need the 'lateral' faces on the x/y planes of the box; "
                f"{stray} lateral facets lie elsewhere (set mechanics.lateral_bc = 'free')")
        component(0, fx)
        component(1, fy)
    if collector == "rollers":
        component(2, facets("current_collector"))
    return bcs


# ---- the problem -----------------------------------------------------------------------------
class MechanicsProblem:
    """Linear elasticity on NZSP ∪ NVP driven by the NVP concentration (mol/m³).

    ``solver_options``: the KSP options (see :func:`fem_electrode.fem.elastic_solver.solver_options`);
    ``degree`` overrides ``params.degree``; ``c_degree`` is the degree of the discontinuous
    parent-mesh copy of the concentration (c given on the NVP submesh in P_k, k ≤ c_degree, is
    copied exactly).
    """

    def __init__(self, domain: Domain, params: MechanicsParams,
                 solver_options: Mapping[str, OptionValue], *, degree: int | None = None,
                 c_degree: int = 1):
        self.domain, self.params = domain, params
        self.degree = int(degree if degree is not None else params.degree)
        mesh = domain.mesh
        self._check_tagged()
        self.laws = {
            "NZSP": elasticity.IsotropicElastic.create(mesh, params.E_nzsp, params.nu_nzsp),
            "NVP": elasticity.IsotropicElastic.create(mesh, params.E_nvp, params.nu_nvp),
        }
        nu_max = max(params.nu_nzsp, params.nu_nvp)
        if self.degree == 1 and nu_max > NU_LOCKING_P1:
            log.warning("Poisson ratio %.3f > %.2f with P1 elements: volumetric locking makes the "
                        "solution too stiff; use [mechanics] degree = 2", nu_max, NU_LOCKING_P1)
        self.c_degree = int(c_degree)
        self.C = dolfinx.fem.functionspace(mesh, ("DG", self.c_degree))
        self.c = dolfinx.fem.Function(self.C, name="concentration")  # used on NVP cells only
        self.c_max = dolfinx.fem.Constant(mesh, params.c_max)
        self.y_ref = dolfinx.fem.Constant(mesh, params.y_ref)
        self.c.x.array[:] = params.y_ref * params.c_max  # stress-free start
        #: ∂ε_ch/∂c (m³/mol): the chemical strain per mole of Na
        self.eps_ch_per_mol = dolfinx.fem.Constant(mesh, params.chemical_strain_per_mol())
        # ε_ch = ∂ε_ch/∂c (c − c_ref): both strain models are linear in c
        #: the residual (thermal mismatch) eigenstrain of NVP, isotropic
        self.eps_residual = dolfinx.fem.Constant(mesh, params.residual_strain * np.eye(3))
        self.eps_ch = self.eps_ch_per_mol * (self.c - self.y_ref * self.c_max) + self.eps_residual
        self._nvp_cells = domain.cells("NVP")
        self._expressions: dict[tuple, dolfinx.fem.Expression] = {}
        self._build_displacement(solver_options)

    def _build_displacement(self, solver_options: Mapping[str, OptionValue]) -> None:
        """The displacement ``u`` (continuous P_k on the parent mesh: a perfectly bonded
        interface), its boundary conditions and the linear solver."""
        domain, params = self.domain, self.params
        self.V = dolfinx.fem.functionspace(domain.mesh, ("Lagrange", self.degree, (3,)))
        self.u = dolfinx.fem.Function(self.V, name="displacement")
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        a = elasticity.bilinear_form(u, v, [(self.laws[p], domain.dx(p)) for p in tags.PHASES])
        L = elasticity.eigenstrain_load(v, self.laws["NVP"], self.eps_ch, domain.dx("NVP"))
        self.bcs = boundary_conditions(domain, self.V, params.separator_bc, params.lateral_bc,
                                       params.collector_bc)
        periodic = periodicity.lateral_pairs(self.V) if params.lateral_bc == "periodic" else None
        self.solver = LinearElasticSolver(dolfinx.fem.form(a), dolfinx.fem.form(L), self.bcs, self.u,
                                          solver_options, periodic=periodic)
        if self.solver.free_modes:
            log.info("mechanics: %d rigid-body mode(s) not fixed by the boundary conditions are "
                     "projected out of the solution", self.solver.free_modes)

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

    def _interpolate_nvp(self, name: str, build: Callable[[], ufl.core.expr.Expr],
                         target: dolfinx.fem.Function) -> None:
        """Interpolate the NVP expression ``build()`` (compiled once per target space) into ``target``."""
        V = target.function_space
        key = (name, id(V), V.element.interpolation_points.tobytes())
        if key not in self._expressions:
            self._expressions[key] = dolfinx.fem.Expression(build(), V.element.interpolation_points)
        parent_cells, cells = self._cells_to(V.mesh)
        target.interpolate(self._expressions[key], cells0=parent_cells, cells1=cells)
        target.x.scatter_forward()

    # ---- solve ------------------------------------------------------------------------------
    def solve(self, c: dolfinx.fem.Function | float) -> SolveInfo:
        """Solve for u with NVP concentration ``c`` (mol/m³: a Function or a uniform number)."""
        self.set_concentration(c)
        t0 = time.perf_counter()
        its, reason, rnorm = self.solver.solve()
        seconds = time.perf_counter() - t0
        dofs = self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs
        log.debug("mechanics: %d dofs, %d iterations (%s), %.2f s", dofs, its, reason, seconds)
        return SolveInfo(its, reason, rnorm, seconds, dofs)

    def solve_y(self, y: float) -> SolveInfo:
        """Solve for a uniform NVP filling ``y`` = c/c_max."""
        return self.solve(y * self.params.c_max)

    def destroy(self) -> None:
        """Free the PETSc objects (matrix, preconditioner)."""
        self.solver.destroy()
