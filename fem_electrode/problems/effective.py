"""Effective (homogenized) properties of a resolved RVE: steady cell problems on the mesh, SI units.

Typical use (the electrode-scale model reads the result; every rank gets the same numbers)::

    props = effective_properties(domain, case.materials, periodic=case.geometry.periodic,
                                 source={"mesh": "meshes/demo.msh"})
    props.kappa_ion, props.tortuosity_ion(case.materials.sigma_e_nzsp)

Conductivities (:func:`conductivity_z`): on the submesh of one phase, P1,
∇·(σ∇φ) = 0 with φ = 1 V on the phase's part of the plane z = z_min of the box (separator
side), φ = 0 on its part of z = z_max (collector side), zero flux on pore walls and on the
other phase; the lateral faces are insulated, or periodic (``periodic=True``, for meshes built
with ``geometry.periodic``: a phase then connects through them, φ(x + Lx) = φ(x), as
u = P û of :mod:`fem_electrode.fem.periodicity`). The z planes are found geometrically (facets
whose vertices all lie on them), not from the facet tags, so an NVP phase that also touches
z = 0 is held there too. The effective conductivity along z is

    κ_eff = I / (A_box ΔV / Lz),   I ΔV = ∫ σ |∇φ|² dx   (discrete: I ΔV = a(φ, φ) exactly),

with A_box = Lx Ly and ΔV = 1 V: the energy form, sign-free and quadratic in the algebraic
error of φ. The current I is also taken from the residual a(φ, v_i) summed over the z_min
dofs (the reaction); the two agree to solver tolerance and their difference is recorded.

A phase that does not touch both planes does not percolate: κ_eff = 0 without a solve. The
generated microstructures never put NVP on z = 0 (no pore or grain crosses the separator face),
so their ``sigma_electronic`` is 0; :func:`conductivity_uniform_source` gives a one-sided value
(φ = 0 on the entry plane, a uniform source in the phase, matched to a homogeneous slab) that
:func:`effective_properties` records in ``source["cell_problems"]``.

Parts of a phase connected to no held plane (floating islands) make the matrix singular; they
are found by graph connectivity of the P1 dofs (local connected components, then exchanges over
ghosts and periodic pairs until nothing changes) and held at φ = 0: the exact solution there is
any constant and carries no current, so this changes nothing else and needs no regularisation
or null space. The remaining SPD system is solved by CG + smoothed-aggregation AMG (GAMG; this
PETSc has no hypre), or by MUMPS with ``linear="direct"``.

Young's modulus along z (:func:`young_modulus_z`, uniaxial stress): P1 linear elasticity on the
whole solid (NZSP ∪ NVP, bonded, pores empty) with u_z = 0 on z = z_min, u_z = δ on z = z_max,
u_x, u_y free there, traction-free lateral faces and pore walls; the in-plane rigid-body modes
left free are projected out (:class:`fem_electrode.fem.elastic_solver.LinearElasticSolver`).
E_z = σ̄_zz / ε̄_zz = a(u, u) Lz / (A_box δ²). The free lateral faces make it the modulus of a
free-standing column cut from the electrode: softer than the periodic (bulk) value by a
boundary layer at the cut faces that shrinks with the RVE size.

Geometric figures: fractions are phase volumes over the box volume Lx Ly Lz (porosity the rest),
the interface area is ∫ dS over ``interface_nvp_nzsp``, the contact fractions are phase areas
on the two z planes over A_box. Everything is collective (MPI reductions; any number of ranks).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from fem_electrode import tags
from fem_electrode.fem import elastic_solver, periodicity, petsc_options
from fem_electrode.fem.domain import Domain, bounding_box
from fem_electrode.fem.fenicsx import MPI, PETSc, dolfinx, ufl
from fem_electrode.physics import elasticity
from fem_electrode.physics.effective_medium import EffectiveProperties
from fem_electrode.util.log import get_logger

log = get_logger("effective")

#: Options prefix of the conduction cell problems' KSP.
PETSC_PREFIX = "effective_"
#: Options prefix of the uniaxial-stress elasticity problem.
MECHANICS_PREFIX = "effective_mechanics_"

#: CG + smoothed-aggregation AMG for the SPD conduction problems.
ITERATIVE_OPTIONS: dict[str, petsc_options.OptionValue] = {
    "ksp_type": "cg",
    "ksp_rtol": 1e-12,  # κ from the energy: its error is quadratic in this
    "ksp_atol": 0.0,
    "ksp_max_it": 5000,
    "pc_type": "gamg",
    "pc_gamg_type": "agg",
    "mg_levels_ksp_type": "chebyshev",
    "mg_levels_pc_type": "jacobi",
}
#: MUMPS LU (small meshes).
DIRECT_OPTIONS: dict[str, petsc_options.OptionValue] = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}

#: Vertices within this fraction of the box size from a z plane lie on it.
PLANE_TOL = 1e-6
#: Volume fractions that sum to 1 within this leave a porosity of 0, not −round-off.
ROUNDOFF = 1e-12
#: Imposed mean strain δ/Lz of the uniaxial-stress problem (the problem is linear; any value).
STRAIN_Z = 1e-3


class EffectiveSolveError(RuntimeError):
    """A cell problem's linear solve diverged."""


class Materials(Protocol):
    """What the cell problems read from ``[materials]`` (:class:`~fem_electrode.config.sections.
    materials.MaterialsConfig` has these fields): conductivities in S/m, moduli in Pa."""

    @property
    def sigma_e_nzsp(self) -> float: ...
    @property
    def sigma_s_nvp(self) -> float: ...
    @property
    def E_nzsp(self) -> float: ...
    @property
    def nu_nzsp(self) -> float: ...
    @property
    def E_nvp(self) -> float: ...
    @property
    def nu_nvp(self) -> float: ...


# ---- geometry --------------------------------------------------------------------------------
def box(domain: Domain) -> tuple[np.ndarray, np.ndarray]:
    """Global (min, max) corner of the RVE box (m)."""
    return bounding_box(domain.mesh)


def _sum(comm: MPI.Comm, value: float) -> float:
    return float(comm.allreduce(value, op=MPI.SUM))


def _integral(form: ufl.Form, comm: MPI.Comm) -> float:
    return _sum(comm, float(dolfinx.fem.assemble_scalar(dolfinx.fem.form(form))))


def _n_owned_cells(domain: Domain, phase: str) -> int:
    imap = domain.mesh.topology.index_map(domain.mesh.topology.dim)
    n = int(np.count_nonzero(domain.cells(phase) < imap.size_local))
    return int(domain.mesh.comm.allreduce(n, op=MPI.SUM))


def plane_facets(mesh: dolfinx.mesh.Mesh, z: float, tol: float, axis: int = 2) -> np.ndarray:
    """Local facets of ``mesh`` whose vertices all lie on the plane x_axis = ``z`` (m, ± ``tol``;
    axis 2: a z plane)."""
    mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
    return dolfinx.mesh.locate_entities(mesh, mesh.topology.dim - 1,
                                        lambda x: np.abs(x[axis] - z) <= tol)


def face_area(domain: Domain, phase: str, side: str, axis: int = 2) -> float:
    """Area (m²) of ``phase`` on the box plane z = z_min (``side="min"``) or z_max (``"max"``)
    (``axis`` 0, 1: the x or y planes), found geometrically on the parent mesh (collective)."""
    lo, hi = box(domain)
    tol = PLANE_TOL * float(np.max(hi - lo))
    z = lo[axis] if side == "min" else hi[axis]
    facets = plane_facets(domain.mesh, float(z), tol, axis)
    ent = dolfinx.fem.compute_integration_domains(
        dolfinx.fem.IntegralType.exterior_facet, domain.mesh.topology, facets).reshape(-1, 2)
    ent = ent[domain.cell_phase(ent[:, 0]) == tags.cell_tag(phase)]
    ds = ufl.Measure("ds", domain=domain.mesh, subdomain_data=[(1, ent.ravel())])
    return _integral(dolfinx.fem.Constant(domain.mesh, 1.0) * ds(1), domain.mesh.comm)


def interface_area(domain: Domain, name: str = "interface_nvp_nzsp") -> float:
    """Area (m²) of the tagged NVP|NZSP interface, ∫ dS (collective)."""
    n = domain.mesh.comm.allreduce(int(domain.facets(name).size), op=MPI.SUM)
    if n == 0:
        return 0.0
    return _integral(dolfinx.fem.Constant(domain.mesh, 1.0) * domain.dS(name), domain.mesh.comm)


# ---- connectivity and periodic pairs ---------------------------------------------------------------
def unreached_nodes(V: dolfinx.fem.FunctionSpace, seeds: np.ndarray,
                    periodic: PETSc.Mat | None = None) -> np.ndarray:
    """Local nodes (owned and ghost) of the scalar space ``V`` with no path through the mesh's
    cells (and, with ``periodic`` = P of :func:`fem_electrode.fem.periodicity.constraint_operator`,
    through paired nodes) to any of the local nodes ``seeds`` (collective).

    Connected components of the local cell-node graph, then the "reached" flags are exchanged
    over the ghosts (and the periodic pairs) until no rank changes; a few rounds.
    """
    imap = V.dofmap.index_map
    n_owned, n = imap.size_local, imap.size_local + imap.num_ghosts
    cells = V.dofmap.list
    k = cells.shape[1]
    rows = np.repeat(cells[:, :1], k, axis=1).ravel()  # a star per cell connects its nodes
    graph = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cells.ravel())), shape=(n, n))
    n_comp, label = connected_components(graph, directed=False)
    reached = np.zeros(n, dtype=bool)
    reached[seeds] = True
    flags = dolfinx.la.vector(imap, bs=1)
    comm = V.mesh.comm
    pair_in, pair_out = periodic.createVecs() if periodic is not None else (None, None)
    count = -1
    while True:
        comp = np.zeros(n_comp, dtype=bool)
        comp[label[reached]] = True
        flags.array[:] = comp[label]
        flags.scatter_reverse(dolfinx.la.InsertMode.add)  # owners learn their ghosts' flags
        if periodic is not None and pair_in is not None and pair_out is not None:
            # masters learn their slaves' flags, then slaves their masters'
            pair_out.array[:] = flags.array[:n_owned]
            periodic.multTranspose(pair_out, pair_in)
            periodic.mult(pair_in, pair_out)
            flags.array[:n_owned] += pair_out.array
        flags.scatter_forward()
        reached = flags.array > 0.0
        new = int(comm.allreduce(int(np.count_nonzero(reached[:n_owned])), op=MPI.SUM))
        if new == count:
            break
        count = new
    for vec in (pair_in, pair_out):
        if vec is not None:
            vec.destroy()
    return np.flatnonzero(~reached).astype(np.int32)


def lateral_pairs(V: dolfinx.fem.FunctionSpace, lo: np.ndarray, hi: np.ndarray,
                  axes: tuple[int, ...] = periodicity.LATERAL_AXES
                  ) -> tuple[periodicity.PeriodicPairs, int]:
    """Periodic pairs of a scalar space on a phase submesh, with the faces of the RVE box
    (``lo``, ``hi``, m) rather than the phase's own extent (collective).

    Each owned node on x = x_max or y = y_max is paired with the node at its image on the min
    faces (corners straight to the corner at x_min, y_min); ``axes``: only these periodic axes
    (e.g. (1,) for a problem driven along x). A node whose image is not in this
    phase (the phase changes across the periodic face: a non-periodic mesh, or phases that do
    not match) stays unpaired, i.e. insulated there; their global number is returned too.
    """
    comm = V.mesh.comm
    imap = V.dofmap.index_map
    tol = periodicity.MATCH_TOL * float(np.max(hi - lo))
    x = V.tabulate_dof_coordinates()[: imap.size_local]
    on_hi = np.stack([np.abs(x[:, a] - hi[a]) <= tol for a in axes], axis=1)
    on_lo = np.any([np.abs(x[:, a] - lo[a]) <= tol for a in axes], axis=0)
    slave = on_hi.any(axis=1)
    master = on_lo & ~slave
    image = x[slave].copy()
    for i, a in enumerate(axes):
        image[on_hi[slave, i], a] = lo[a]
    cand_x = np.concatenate(comm.allgather(x[master])).reshape(-1, 3)
    cand_g = np.concatenate(comm.allgather(imap.local_range[0] + np.flatnonzero(master)))
    found = np.full(len(image), -1, dtype=np.int64)
    if len(image) and len(cand_x):
        dist, idx = cKDTree(cand_x).query(image, distance_upper_bound=tol)
        found = np.where(np.isfinite(dist), idx, -1)
    ok = found >= 0
    unpaired = int(comm.allreduce(int(np.count_nonzero(~ok)), op=MPI.SUM))
    pairs = periodicity.PeriodicPairs(np.flatnonzero(slave)[ok].astype(np.int32),
                                      cand_g[found[ok]].astype(np.int64),
                                      (hi - lo)[list(axes)])
    return pairs, unpaired


# ---- conduction cell problems ---------------------------------------------------------------------
#: The face where each phase's carriers enter the RVE: ions from the separator (z_min),
#: electrons from the current collector (z_max).
ENTRY_SIDE = {"NZSP": "min", "NVP": "max"}


def conductivity_z(domain: Domain, phase: str, sigma: float, *, periodic: bool = False,
                   linear: str = "iterative", options: Mapping[str, petsc_options.OptionValue] | None = None
                   ) -> tuple[float, dict[str, Any]]:
    """Effective conductivity (S/m) along z of the network of ``phase`` with bulk ``sigma`` (S/m),
    per total box cross-section, and a record of the solve (collective).

    φ = 1 V on z_min, 0 on z_max; 0 when the phase does not touch both planes. The lateral faces
    are insulated, or with ``periodic`` periodic (φ(x + Lx) = φ(x), likewise y: the phase
    connects through them, as in a mesh built with ``geometry.periodic``). ``linear``:
    "iterative" (CG + GAMG) or "direct" (MUMPS); ``options`` override the KSP options.
    """
    return _conduction(domain, phase, sigma, "through", periodic, linear, options)


def conductivity_lateral(domain: Domain, phase: str, sigma: float, *, periodic: bool = False,
                         linear: str = "iterative",
                         options: Mapping[str, petsc_options.OptionValue] | None = None
                         ) -> tuple[float, dict[str, Any]]:
    """Effective conductivity (S/m) of ``phase`` in the plane of the electrode: the mean of the
    through-conductivities along x and along y (φ = 1 / 0 on the x (y) faces of the box, z faces
    insulated; with ``periodic`` the other lateral axis is periodic), and a record per axis
    (collective).

    Why: a generated RVE has an NZSP skin at z = 0 (no pore crosses the separator face), so its
    NVP never conducts from z = 0 to z = Lz (:func:`conductivity_z` is 0) and its z values mix the
    bulk with that skin. The lateral directions cut through the bulk of a microstructure whose
    pores and grains are placed uniformly in depth (isotropic by construction), so they estimate
    the bulk conductivity that the through-thickness model needs away from the electrode's faces.
    """
    values, records = [], {}
    for axis in (0, 1):
        value, record = _conduction(domain, phase, sigma, "through", periodic, linear, options, axis)
        values.append(value)
        records["xyz"[axis]] = {"value": value, **record}
    return float(np.mean(values)), records


def conductivity_uniform_source(domain: Domain, phase: str, sigma: float, *, periodic: bool = False,
                                linear: str = "iterative",
                                options: Mapping[str, petsc_options.OptionValue] | None = None
                                ) -> tuple[float, dict[str, Any]]:
    """One-sided effective conductivity (S/m) along z of ``phase``: the value that a homogeneous
    slab of thickness Lz needs to show the same mean potential drop, with a uniform source
    (collective).

    φ = 0 on the phase's entry plane (:data:`ENTRY_SIDE`: NZSP z_min, NVP z_max), a uniform
    current source q (A/m³) in the part of the phase connected to that plane, zero flux
    elsewhere; the homogeneous slab has ⟨φ⟩ = Q Lz² / (3κ) with Q = I / (A_box Lz), so
    κ = I Lz / (3 A_box ⟨φ⟩) = I² Lz / (3 A_box ∫σ|∇φ|²) (I = q V_connected; ⟨φ⟩ the mean over
    the source). Defined where the through-conductivity is not: a generated NVP network never
    reaches z = 0. For a phase of uniform cross-section it equals :func:`conductivity_z`;
    P1 overestimates it by O(h²) (the discrete energy is below the exact one). 0 when the phase
    does not touch its entry plane. ``periodic``, ``linear``, ``options`` as for :func:`conductivity_z`.
    """
    return _conduction(domain, phase, sigma, "source", periodic, linear, options)


def _conduction(domain: Domain, phase: str, sigma: float, mode: str, periodic: bool, linear: str,
                options: Mapping[str, petsc_options.OptionValue] | None, axis: int = 2
                ) -> tuple[float, dict[str, Any]]:
    """The conduction cell problem of ``phase``; ``mode`` "through" (φ = 1 / 0 on the min / max
    plane of ``axis``, z by default) or "source" (φ = 0 on the z entry plane, uniform source)."""
    if mode == "source" and axis != 2:
        raise ValueError("the uniform-source problem is defined along z only")
    if linear not in ("iterative", "direct"):
        raise ValueError(f"linear solver {linear!r}: allowed: 'iterative', 'direct'")
    if not sigma > 0.0:
        raise ValueError(f"conductivity of {phase} must be > 0 S/m, got {sigma!r}")
    comm = domain.mesh.comm
    lo, hi = box(domain)
    across = [a for a in range(3) if a != axis]
    length = float(hi[axis] - lo[axis])
    area = float((hi[across[0]] - lo[across[0]]) * (hi[across[1]] - lo[across[1]]))
    if _n_owned_cells(domain, phase) == 0:
        return 0.0, {"percolates": False, "reason": "no cells"}
    contact = {side: face_area(domain, phase, side, axis) for side in ("min", "max")}
    needed = ("min", "max") if mode == "through" else (ENTRY_SIDE[phase],)
    if not all(contact[side] > 0.0 for side in needed):
        return 0.0, {"percolates": False, "reason": f"does not touch the z planes {needed}",
                     "area_min": contact["min"], "area_max": contact["max"]}
    t0 = time.perf_counter()
    sub = domain.submesh(phase).mesh
    tol = PLANE_TOL * float(np.max(hi - lo))
    V = dolfinx.fem.functionspace(sub, ("Lagrange", 1))
    n_owned = V.dofmap.index_map.size_local
    faces = {side: dolfinx.fem.locate_dofs_topological(V, 2, plane_facets(sub, float(z), tol, axis))
             for side, z in (("min", lo[axis]), ("max", hi[axis]))}
    held = np.concatenate([faces[side] for side in needed])
    pairs, unpaired, P_all = None, 0, None
    if periodic:
        pairs, unpaired = lateral_pairs(V, lo, hi, tuple(a for a in periodicity.LATERAL_AXES if a != axis))
        P_all = periodicity.constraint_operator(V, pairs, np.zeros(0, dtype=np.int32))[0]
    floating = unreached_nodes(V, held, P_all)
    n_floating = int(comm.allreduce(int(np.count_nonzero(floating < n_owned)), op=MPI.SUM))
    if n_floating and not periodic:
        log.warning("%s: %d of %d nodes are connected to no held plane and carry no current; on a mesh "
                    "built with geometry.periodic pass periodic=True (the phase connects through the lateral "
                    "faces)", phase, n_floating, V.dofmap.index_map.size_global)
    s = dolfinx.fem.Constant(sub, float(sigma))
    phi = dolfinx.fem.Function(V, name=f"phi_{phase}")
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = dolfinx.fem.form(s * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    if mode == "through":
        bottom = faces["min"]
        bcs = [dolfinx.fem.dirichletbc(np.float64(1.0), bottom, V),
               dolfinx.fem.dirichletbc(np.float64(0.0),
                                       np.setdiff1d(np.concatenate([faces["max"], floating]), bottom), V)]
        L = dolfinx.fem.form(dolfinx.fem.Constant(sub, 0.0) * v * ufl.dx)
    else:
        bcs = [dolfinx.fem.dirichletbc(np.float64(0.0), np.union1d(held, floating), V)]
        fed = dolfinx.fem.Function(V)  # 1 on the part connected to the entry plane, 0 on islands
        fed.x.array[:] = 1.0
        fed.x.array[floating] = 0.0
        volume_fed = _integral(fed * ufl.dx, comm)
        q = dolfinx.fem.Constant(sub, 1.0 / volume_fed)  # A/m³: I = 1 A
        L = dolfinx.fem.form(q * fed * v * ufl.dx)
    constraint = None
    if pairs is not None and P_all is not None:
        fixed = np.unique(np.concatenate([bc.dof_indices()[0] for bc in bcs]))
        _check_fixed_pairs(P_all, fixed, pairs, n_owned)
        P_all.destroy()
        constraint = periodicity.constraint_operator(V, pairs, fixed)
    its, reason = _solve_scalar(a, L, bcs, phi, {**(DIRECT_OPTIONS if linear == "direct"
                                                    else ITERATIVE_OPTIONS), **(options or {})}, constraint)
    energy = _integral(s * ufl.inner(ufl.grad(phi), ufl.grad(phi)) * ufl.dx, comm)  # W
    info: dict[str, Any] = {"percolates": True, "dofs": int(V.dofmap.index_map.size_global),
                            "floating_dofs": n_floating, "iterations": its, "reason": reason,
                            "lateral": "periodic" if periodic else "insulated"}
    if periodic:
        info["unpaired_lateral_nodes"] = unpaired
    if mode == "through":
        # the reaction: the residual a(φ, v_i) summed over the owned z_min dofs (A, current entering)
        r = dolfinx.fem.assemble_vector(dolfinx.fem.form(s * ufl.inner(ufl.grad(phi), ufl.grad(v)) * ufl.dx))
        r.scatter_reverse(dolfinx.la.InsertMode.add)
        bottom = faces["min"]
        current = _sum(comm, float(np.sum(r.array[bottom[bottom < n_owned]])))
        kappa = energy * length / area  # I ΔV = energy with ΔV = 1 V
        info["current_reaction_rel_diff"] = abs(current - energy) / energy if energy > 0 else None
    else:
        # I = 1 A; ⟨φ⟩ over the source = ∫ q φ dx = energy (Galerkin identity)
        kappa = length / (3.0 * area * energy) if energy > 0 else math.inf
        info["volume_fed"] = volume_fed
        info["mean_potential_per_current"] = energy  # V/A
    info.update({"seconds": time.perf_counter() - t0, "axis": "xyz"[axis], "area_min": contact["min"],
                 "area_max": contact["max"]})
    log.debug("effective conductivity (%s) of %s: %.6g S/m (%s)", mode, phase, kappa, info)
    return kappa, info


def _check_fixed_pairs(P: PETSc.Mat, fixed: np.ndarray, pairs: periodicity.PeriodicPairs,
                       n_owned: int) -> None:
    """Raise unless every slave whose master has a Dirichlet value has one too (the z planes
    and the floating parts are periodic; a slave must not be tied to a held master)."""
    flag, image = P.createVecs()
    try:
        mask = np.zeros(n_owned)
        mask[fixed[fixed < n_owned]] = 1.0
        flag.array[:] = mask
        P.mult(flag, image)
        bad = (image.array[pairs.slaves] > 0.0) & (mask[pairs.slaves] == 0.0)
        n_bad = int(P.getComm().tompi4py().allreduce(int(np.count_nonzero(bad)), op=MPI.SUM))
    finally:
        flag.destroy()
        image.destroy()
    if n_bad:
        raise periodicity.PeriodicityError(
            f"{n_bad} periodic node(s) on x_max / y_max are free while their image on x_min / y_min is "
            "held (on a z plane or in a floating part): the mesh is not periodic there")


def _solve_scalar(a: dolfinx.fem.Form, L: dolfinx.fem.Form, bcs: list[dolfinx.fem.DirichletBC],
                  u: dolfinx.fem.Function, options: Mapping[str, petsc_options.OptionValue],
                  constraint: tuple[PETSc.Mat, np.ndarray] | None = None) -> tuple[int, str]:
    """Assemble with Dirichlet rows, solve once, update ``u``; (iterations, reason name).

    ``constraint`` = (P, owned slave dofs) of periodic faces: (Pᵀ A P + D) û = Pᵀ b, u = P û
    (:mod:`fem_electrode.fem.periodicity`); P is destroyed here.
    """
    V = u.function_space
    A = dolfinx.fem.petsc.assemble_matrix(a, bcs=bcs)
    A.assemble()
    b = dolfinx.fem.petsc.create_vector(V)
    with b.localForm() as b_local:
        b_local.set(0.0)
    dolfinx.fem.petsc.assemble_vector(b, L)
    dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, bcs)
    x = dolfinx.fem.petsc.create_vector(V)
    objects = [b, x]
    b_solve, x_solve = b, x
    P = None
    if constraint is not None:
        P, slaves = constraint
        full, A = A, A.PtAP(P)
        D = periodicity.slave_identity(A, slaves)
        A.axpy(1.0, D, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
        D.destroy()
        full.destroy()
        b_solve, x_solve = A.createVecs()
        P.multTranspose(b, b_solve)
        objects += [P, b_solve, x_solve]
    ksp = PETSc.KSP().create(V.mesh.comm)
    objects += [A, ksp]
    try:
        ksp.setOperators(A)
        ksp.setOptionsPrefix(PETSC_PREFIX)
        scope = petsc_options.OptionsScope(PETSC_PREFIX, options)
        with scope.active():
            try:
                ksp.setFromOptions()
                ksp.setUp()
            except PETSc.Error as exc:
                raise petsc_options.rejected(exc, PETSC_PREFIX, options) or exc from None
        ksp.solve(b_solve, x_solve)
        code = ksp.getConvergedReason()
        its = int(ksp.getIterationNumber())
        reason = petsc_options.reason_name(PETSc.KSP.ConvergedReason, code)
        if code < 0:
            raise EffectiveSolveError(f"conduction cell problem diverged: {reason} after {its} iterations "
                                      f"(residual {ksp.getResidualNorm():.3e}); options {dict(options)}")
        if P is not None:
            P.mult(x_solve, x)
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        with x.localForm() as x_local:
            u.x.array[:] = x_local.array_r
    finally:
        for obj in objects:
            obj.destroy()
    return its, reason


# ---- uniaxial-stress cell problem -----------------------------------------------------------------
def young_modulus_z(domain: Domain, materials: Materials, *, linear: str = "iterative",
                    options: Mapping[str, petsc_options.OptionValue] | None = None
                    ) -> tuple[float, dict[str, Any]]:
    """Effective Young's modulus (Pa) along z in uniaxial stress with free lateral faces, and a
    record of the solve (collective). P1 displacement on the parent mesh (NZSP ∪ NVP, bonded).

    ``linear``: "iterative" (CG + GAMG with the rigid-body near-null space) or "direct" (MUMPS);
    ``options`` override the KSP options (names without prefix).
    """
    mesh, comm = domain.mesh, domain.mesh.comm
    lo, hi = box(domain)
    length, area = float(hi[2] - lo[2]), float((hi[0] - lo[0]) * (hi[1] - lo[1]))
    tol = PLANE_TOL * float(np.max(hi - lo))
    t0 = time.perf_counter()
    laws = {"NZSP": elasticity.IsotropicElastic.create(mesh, materials.E_nzsp, materials.nu_nzsp),
            "NVP": elasticity.IsotropicElastic.create(mesh, materials.E_nvp, materials.nu_nvp)}
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))
    u = dolfinx.fem.Function(V, name="displacement")
    Vz = V.sub(2)
    bottom = dolfinx.fem.locate_dofs_topological(Vz, 2, plane_facets(mesh, float(lo[2]), tol))
    top = dolfinx.fem.locate_dofs_topological(Vz, 2, plane_facets(mesh, float(hi[2]), tol))
    delta = STRAIN_Z * length
    bcs = [dolfinx.fem.dirichletbc(np.float64(0.0), bottom, Vz),
           dolfinx.fem.dirichletbc(np.float64(delta), top, Vz)]
    # solid islands reaching neither plane would leave rigid modes of their own: count them
    V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    planes = [dolfinx.fem.locate_dofs_topological(V1, 2, plane_facets(mesh, float(z), tol))
              for z in (lo[2], hi[2])]
    islands = unreached_nodes(V1, np.concatenate(planes))
    n_islands = int(comm.allreduce(int(np.count_nonzero(islands < V1.dofmap.index_map.size_local)),
                                   op=MPI.SUM))
    if n_islands:
        log.warning("E_z: %d solid nodes are connected to neither z plane (floating islands); "
                    "their rigid modes are not fixed and the solve may fail", n_islands)
    w, vt = ufl.TrialFunction(V), ufl.TestFunction(V)
    phases = [(laws[p], domain.dx(p)) for p in tags.PHASES if _n_owned_cells(domain, p) > 0]
    a_ufl = elasticity.bilinear_form(w, vt, phases)
    zero = dolfinx.fem.Constant(mesh, np.zeros(3))
    a = dolfinx.fem.form(a_ufl)
    L = dolfinx.fem.form(ufl.inner(zero, vt) * ufl.dx)
    opts = petsc_options.merged(elastic_solver.DIRECT_OPTIONS if linear == "direct"
                                else elastic_solver.ITERATIVE_OPTIONS, options or {}, "")
    solver = elastic_solver.LinearElasticSolver(a, L, bcs, u, opts, prefix=MECHANICS_PREFIX)
    try:
        its, reason, _ = solver.solve()
        free = solver.free_modes
    finally:
        solver.destroy()
    energy = _integral(sum(ufl.inner(law.stress(elasticity.strain(u)), elasticity.strain(u)) * dx
                           for law, dx in phases), comm)
    modulus = energy * length / (area * delta**2)
    info = {"dofs": int(V.dofmap.index_map.size_global * 3), "iterations": its, "reason": reason,
            "free_rigid_modes": free, "floating_nodes": n_islands, "seconds": time.perf_counter() - t0,
            "lateral_faces": "traction-free"}
    return modulus, info


def _porosity(f_nzsp: float, f_nvp: float) -> float:
    """1 − f_NZSP − f_NVP, with round-off below zero (a dense mesh) set to 0."""
    p = 1.0 - f_nzsp - f_nvp
    return 0.0 if -ROUNDOFF < p < 0.0 else p


# ---- all together ---------------------------------------------------------------------------------
def effective_properties(domain: Domain, materials: Materials, *, source: dict[str, Any] | None = None,
                         periodic: bool = False, young_modulus: bool = True, uniform_source: bool = True,
                         linear: str = "iterative") -> EffectiveProperties:
    """The effective properties of the RVE ``domain`` with the bulk properties ``materials``
    (collective; every rank returns the same numbers).

    ``source`` (mesh file, kind, seed, ...) is stored in the result, with the record of each
    cell problem added under ``"cell_problems"`` and the box (µm) under ``"box_um"``.
    ``periodic``: periodic lateral faces in the conduction problems (a mesh built with
    ``geometry.periodic``; else insulated). ``young_modulus=False`` skips the elasticity problem
    (``young_modulus_z`` None).
    ``uniform_source`` adds the one-sided conductivities (:func:`conductivity_uniform_source`) of
    both phases to ``source["cell_problems"]`` as ``kappa_ion_uniform_source`` and
    ``sigma_electronic_uniform_source`` (``"value"`` in S/m): the generated microstructures never
    put NVP on z = 0, so their ``sigma_electronic`` (through z_min to z_max) is 0.
    """
    comm = domain.mesh.comm
    lo, hi = box(domain)
    lengths = hi - lo
    v_box = float(np.prod(lengths))
    a_box = float(lengths[0] * lengths[1])
    volume = {p: domain.volume(p) for p in tags.PHASES}
    a_int = interface_area(domain)
    kappa, info_ion = conductivity_z(domain, "NZSP", materials.sigma_e_nzsp, periodic=periodic, linear=linear)
    sigma, info_el = conductivity_z(domain, "NVP", materials.sigma_s_nvp, periodic=periodic, linear=linear)
    records: dict[str, Any] = {"kappa_ion": info_ion, "sigma_electronic": info_el}
    kappa_lat, records["kappa_ion_lateral"] = conductivity_lateral(
        domain, "NZSP", materials.sigma_e_nzsp, periodic=periodic, linear=linear)
    sigma_lat, records["sigma_electronic_lateral"] = conductivity_lateral(
        domain, "NVP", materials.sigma_s_nvp, periodic=periodic, linear=linear)
    if uniform_source:
        for key, phase, value in (("kappa_ion", "NZSP", materials.sigma_e_nzsp),
                                  ("sigma_electronic", "NVP", materials.sigma_s_nvp)):
            one_sided, record = conductivity_uniform_source(domain, phase, value, periodic=periodic,
                                                            linear=linear)
            records[f"{key}_uniform_source"] = {"value": one_sided, **record}
    modulus = None
    if young_modulus:
        modulus, records["young_modulus_z"] = young_modulus_z(domain, materials, linear=linear)
    f_nzsp, f_nvp = volume["NZSP"] / v_box, volume["NVP"] / v_box
    out_source = dict(source or {})
    out_source.setdefault("box_um", [float(x) * 1e6 for x in lengths])
    out_source.setdefault("ranks", comm.size)
    out_source["cell_problems"] = records
    return EffectiveProperties(
        fraction_nzsp=f_nzsp,
        fraction_nvp=f_nvp,
        porosity=_porosity(f_nzsp, f_nvp),
        kappa_ion=kappa,
        sigma_electronic=sigma,
        interface_area_density=a_int / v_box,
        diffusion_length=volume["NVP"] / a_int if a_int > 0.0 else math.inf,
        collector_nvp_fraction=face_area(domain, "NVP", "max") / a_box,
        separator_nzsp_fraction=face_area(domain, "NZSP", "min") / a_box,
        young_modulus_z=modulus,
        kappa_ion_lateral=kappa_lat,
        sigma_electronic_lateral=sigma_lat,
        source=out_source,
    )
