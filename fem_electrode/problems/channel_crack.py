"""Steady channel crack through a bonded film: plane-strain finite-element energy release rate (SI units).

A film (thickness h, E_f, ν_f) bonded to a substrate (E_s, ν_s) carries an equi-biaxial tension
σ_f. A crack through the whole film thickness that tunnels along the film releases, far behind
its front, the energy of the plane-strain cross-section (Beuth 1992; Hutchinson & Suo 1992;
``docs/references.md``):

    G_ss = (σ_f / (2h)) ∫_0^h δ(z) dz,   g = 2 G_ss Ē_f / (π σ_f² h),   Ē_f = E_f / (1 − ν_f²),

with δ the crack opening of the cross-section whose crack faces carry the pressure σ_f
(superposition: the uniform film stress itself does no work on the opening). The cross-section
is solved here with P2 Lagrange elements on a half model x ≥ 0 (symmetry u_x = 0 on the
substrate part of x = 0, the crack face 0 < y < h loaded by σ_f e_x), film 0 < y < h and
substrate y < 0 truncated at ``extent`` × h in x and depth and clamped there (the semi-infinite
bilayer). The gmsh mesh is graded geometrically toward the crack root (0, 0) on the interface,
where the stress is singular with a mismatch-dependent exponent. The mesh is built once in
units of h and scaled, so G is exactly proportional to h.

Accuracy (``docs/degradation.md``, defaults): g(0, 0) = 1.2576 against Beuth's 1.258; refinement
1 → 2 changes g by 0.01 % (0.03 % at α = 0.6, the strongest root singularity checked); the
truncation at 200 h costs 0.01 % at α = 0 and 0.06 % at α = 0.6 (against 1000 h). About a second
per call (gmsh, JIT-cached forms, MUMPS).
"""

from __future__ import annotations

import math

import gmsh
import numpy as np

from fem_electrode.fem.fenicsx import MPI, dolfinx, ufl
from fem_electrode.physics.fracture import plane_strain_modulus

#: Cell and facet markers of the cross-section mesh.
FILM, SUBSTRATE = 1, 2
CRACK_FACE, SYMMETRY, FAR = 1, 2, 3

#: Lateral extent and depth of the model, in film thicknesses (clamped there; the truncation error
#: falls from 0.1 % at 50 h to 0.01 % at 200 h for α = 0: see the module doc).
EXTENT = 200.0
#: Element size / distance to the crack root (geometric grading; refinement divides it).
GRADING = 0.2
#: Smallest element size at the crack root, in h (refinement divides it).
ROOT_SIZE = 1e-5
#: Largest element size in the film, in h: elements across the film away from the root.
FILM_SIZE = 0.25
#: Largest element size anywhere, as a fraction of the extent.
FAR_SIZE = 0.1
#: Polynomial degree of the displacement.
DEGREE = 2
#: Direct solve (MUMPS LU): the 2D systems are small (~5·10⁴ dofs).
PETSC_OPTIONS = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}


def _build_gmsh_model(extent: float, refinement: float) -> None:
    """The half cross-section in units of h on the current gmsh model, meshed (rank 0 only)."""
    geo = gmsh.model.geo
    pts = [geo.addPoint(x, y, 0.0) for x, y in
           ((0.0, 0.0), (0.0, 1.0), (extent, 1.0), (extent, 0.0), (extent, -extent), (0.0, -extent))]
    root, top, top_far, mid_far, bot_far, bot = pts
    crack = geo.addLine(root, top)
    film_top = geo.addLine(top, top_far)
    film_far = geo.addLine(top_far, mid_far)
    interface = geo.addLine(mid_far, root)
    sub_far = geo.addLine(mid_far, bot_far)
    sub_bottom = geo.addLine(bot_far, bot)
    symmetry = geo.addLine(bot, root)
    film = geo.addPlaneSurface([geo.addCurveLoop([crack, film_top, film_far, interface])])
    substrate = geo.addPlaneSurface([geo.addCurveLoop([-interface, sub_far, sub_bottom, symmetry])])
    geo.synchronize()
    gmsh.model.addPhysicalGroup(2, [film], FILM, name="film")
    gmsh.model.addPhysicalGroup(2, [substrate], SUBSTRATE, name="substrate")
    gmsh.model.addPhysicalGroup(1, [crack], CRACK_FACE, name="crack_face")
    gmsh.model.addPhysicalGroup(1, [symmetry], SYMMETRY, name="symmetry")
    gmsh.model.addPhysicalGroup(1, [film_far, sub_far, sub_bottom], FAR, name="far")

    grading, root_size = GRADING / refinement, ROOT_SIZE / refinement
    film_size, far_size = FILM_SIZE / refinement, FAR_SIZE * extent / refinement
    field = gmsh.model.mesh.field
    graded = field.add("MathEval")
    field.setString(graded, "F", f"max({root_size!r}, {grading!r} * sqrt(x*x + y*y))")
    in_film = field.add("Box")
    field.setNumber(in_film, "VIn", film_size)
    field.setNumber(in_film, "VOut", far_size)
    for name, value in (("XMin", -1.0), ("XMax", 2.0 * extent), ("YMin", 0.0), ("YMax", 1.0)):
        field.setNumber(in_film, name, value)
    cap = field.add("MathEval")
    field.setString(cap, "F", repr(far_size))
    size = field.add("Min")
    field.setNumbers(size, "FieldsList", [graded, in_film, cap])
    field.setAsBackgroundMesh(size)
    for option in ("ExtendFromBoundary", "FromPoints", "FromCurvature"):
        gmsh.option.setNumber(f"Mesh.MeshSize{option}", 0)
    gmsh.model.mesh.generate(2)


def cross_section_mesh(comm: MPI.Comm, extent: float = EXTENT, refinement: float = 1.0
                       ) -> tuple[dolfinx.mesh.Mesh, dolfinx.mesh.MeshTags, dolfinx.mesh.MeshTags]:
    """The graded half cross-section in units of h (film 0 < y < 1), distributed over ``comm``.

    Returns (mesh, cell tags FILM/SUBSTRATE, facet tags CRACK_FACE/SYMMETRY/FAR). gmsh runs on
    rank 0 in its own session; it must not be initialised already in this process.
    """
    if comm.rank == 0:
        if gmsh.isInitialized():
            raise RuntimeError("channel_crack needs its own gmsh session, but one is already open")
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    try:
        if comm.rank == 0:
            gmsh.option.setNumber("General.Terminal", 0)
            gmsh.model.add("channel_crack")
            _build_gmsh_model(extent, refinement)
        data = dolfinx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=2)
    finally:
        if comm.rank == 0:
            gmsh.finalize()
    return data.mesh, data.cell_tags, data.facet_tags


def _lame(E: float, nu: float) -> tuple[float, float]:
    """Shear modulus μ and plane-strain λ (Pa)."""
    return E / (2.0 * (1.0 + nu)), E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))


def channel_crack_energy_release_rate(E_f: float, nu_f: float, E_s: float, nu_s: float, h: float,
                                      sigma_f: float, *, comm: MPI.Comm = MPI.COMM_WORLD,
                                      refinement: float = 1.0, extent: float = EXTENT) -> float:
    """Steady-state G_ss (J/m²) of a channel crack through a film of thickness ``h`` (m) under the
    in-plane stress ``sigma_f`` (Pa, tension > 0; the formula is even in σ_f, but a compressed film
    does not channel), moduli E (Pa) and Poisson ratios ν of film (f) and substrate (s).
    """
    mesh, cells, facets = cross_section_mesh(comm, extent, refinement)
    mesh.geometry.x[:] *= h
    Q = dolfinx.fem.functionspace(mesh, ("DG", 0))
    mu, lam = dolfinx.fem.Function(Q), dolfinx.fem.Function(Q)
    for marker, (E, nu) in ((FILM, (E_f, nu_f)), (SUBSTRATE, (E_s, nu_s))):
        rows = cells.find(marker)
        mu.x.array[rows], lam.x.array[rows] = _lame(E, nu)
    mu.x.scatter_forward()
    lam.x.scatter_forward()

    V = dolfinx.fem.functionspace(mesh, ("Lagrange", DEGREE, (mesh.geometry.dim,)))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)

    def eps(w: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
        return ufl.sym(ufl.grad(w))

    def stress(w: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
        return 2.0 * mu * eps(w) + lam * ufl.tr(eps(w)) * ufl.Identity(mesh.geometry.dim)

    ds = ufl.Measure("ds", domain=mesh, subdomain_data=facets)
    load = dolfinx.fem.Constant(mesh, float(sigma_f))
    a = ufl.inner(stress(u), eps(v)) * ufl.dx
    L = load * v[0] * ds(CRACK_FACE)

    fdim = mesh.topology.dim - 1
    sym_dofs = dolfinx.fem.locate_dofs_topological(V.sub(0), fdim, facets.find(SYMMETRY))
    far_dofs = dolfinx.fem.locate_dofs_topological(V, fdim, facets.find(FAR))
    bcs = [dolfinx.fem.dirichletbc(0.0, sym_dofs, V.sub(0)),
           dolfinx.fem.dirichletbc(np.zeros(mesh.geometry.dim), far_dofs, V)]
    problem = dolfinx.fem.petsc.LinearProblem(a, L, bcs=bcs, petsc_options_prefix="channel_crack_",
                                              petsc_options=PETSC_OPTIONS)
    try:
        uh = problem.solve()
        reason = problem.solver.getConvergedReason()
        if reason <= 0:
            raise RuntimeError(f"channel-crack solve failed (KSP reason {reason})")
        # Half model: u_x on the crack face is half the opening δ, so G = (σ/h) ∫ u_x dz.
        local = dolfinx.fem.assemble_scalar(dolfinx.fem.form(uh[0] * ds(CRACK_FACE)))
        opening_half = comm.allreduce(local, op=MPI.SUM)
    finally:
        problem.solver.destroy()
        problem.A.destroy()
        problem.b.destroy()
    return float(sigma_f * opening_half / h)


def channel_crack_g(E_f: float, nu_f: float, E_s: float, nu_s: float, *, comm: MPI.Comm = MPI.COMM_WORLD,
                    refinement: float = 1.0, extent: float = EXTENT) -> float:
    """Beuth's mismatch factor g = 2 G_ss Ē_f / (π σ_f² h) of film (f) on substrate (s), from the FE
    solution (moduli in Pa; g depends on them through the Dundurs parameters only)."""
    h, sigma = 1.0, 1.0  # G ∝ σ² h: any pair gives the same g
    G = channel_crack_energy_release_rate(E_f, nu_f, E_s, nu_s, h, sigma, comm=comm,
                                          refinement=refinement, extent=extent)
    return 2.0 * G * plane_strain_modulus(E_f, nu_f) / (math.pi * sigma**2 * h)


def critical_thickness_channel(E_f: float, nu_f: float, E_s: float, nu_s: float, sigma_f: float, G_c: float,
                               *, g: float | None = None, comm: MPI.Comm = MPI.COMM_WORLD,
                               refinement: float = 1.0) -> float:
    """Film thickness h_c (m) below which a channel crack cannot grow: G_ss(h_c) = G_c (J/m²),
    h_c = 2 G_c Ē_f / (π g σ_f²). ``g`` from :func:`channel_crack_g` unless given; a film not in
    tension (σ_f ≤ 0, Pa) does not channel: ``math.inf``."""
    if sigma_f <= 0.0:
        return math.inf
    if g is None:
        g = channel_crack_g(E_f, nu_f, E_s, nu_s, comm=comm, refinement=refinement)
    return 2.0 * G_c * plane_strain_modulus(E_f, nu_f) / (math.pi * g * sigma_f**2)
