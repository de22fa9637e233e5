"""Stress post-processing: samples, derived fields, distributions and the ``mechanics`` metrics.

Samples. The Cauchy stress is evaluated at the points of a degree-:data:`SAMPLE_DEGREE`
quadrature rule in every owned cell, each with its volume weight |det J| w_q (exact
moments for P1 and P2 stresses). On ``interface_nvp_nzsp`` the stress of both sides is
evaluated at each facet's centroid (the one reference point both sides agree on), weighted
by the facet area; the traction is t = ½(σ_NVP + σ_NZSP) n with n the normal pointing out
of NVP, split into the normal (opening, > 0 in tension) and shear (|t − t_n n|) parts.

Distributions are volume (area) weighted over all ranks: :func:`weighted_quantile` is a
distributed selection that returns a sample value, the same on any number of ranks.

Fields for ParaView (XDMF, one file per function, :class:`FieldWriter`): displacement,
the cell-mean stress tensor, von Mises, hydrostatic and max principal stress, strain-energy
density (cell means of the quadrature values, DG0) and the interface tractions on a
surface mesh of the interface.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fem_electrode import tags
from fem_electrode.fenicsx import MPI, basix, dolfinx, ufl

if TYPE_CHECKING:  # pragma: no cover
    from fem_electrode.mechanics import MechanicsProblem

#: Degree of the quadrature rule whose points sample the stress (4 points per tetrahedron).
SAMPLE_DEGREE = 2

#: Percentiles reported for every distribution.
PERCENTILES = (95.0, 99.0)

#: Relative slack on the cumulative-weight target of a quantile: cumulative sums that tie the
#: target exactly (equal cell volumes of a structured mesh) fall on the same side on any
#: number of ranks despite round-off in the order of summation.
QUANTILE_RTOL = 1e-12

#: Channel cracking of a film bonded to a substrate of similar stiffness:
#: G = Z σ² h / E_f with Z = 1.976 (Beuth, Int. J. Solids Struct. 29 (1992) 1657;
#: Hutchinson & Suo, Adv. Appl. Mech. 29 (1992) 63, table 1, no elastic mismatch).
Z_CHANNELING = 1.976

INTERFACE = "interface_nvp_nzsp"
_IT = dolfinx.fem.IntegralType


# ---- distributed weighted statistics ------------------------------------------------------------
def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: list[float] | tuple[float, ...],
                       comm: MPI.Comm) -> list[float]:
    """For each q in [0, 1]: the smallest sample x with W(v ≤ x) ≥ q·W over all ranks (NaN if
    there is no weight).

    A distributed selection: each round pivots on the count-weighted median of the ranks'
    local medians of the remaining candidates, so O(log N) rounds of two small collectives;
    nothing is gathered. The answer is one of the samples and does not depend on the
    partition. The local samples are sorted once for all ``qs``.
    """
    values = np.asarray(values, dtype=float).ravel()
    weights = np.asarray(weights, dtype=float).ravel()
    order = np.argsort(values, kind="stable")
    v, cw = values[order], np.cumsum(weights[order])
    total = comm.allreduce(float(cw[-1]) if cw.size else 0.0, op=MPI.SUM)
    if not total > 0.0:
        return [float("nan")] * len(qs)
    v_max = comm.allreduce(float(v[-1]) if v.size else -np.inf, op=MPI.MAX)

    def weight_le(x: float) -> float:
        i = int(np.searchsorted(v, x, side="right"))
        return comm.allreduce(float(cw[i - 1]) if i else 0.0, op=MPI.SUM)

    def select(q: float) -> float:
        target = q * total * (1.0 - QUANTILE_RTOL)
        lo, hi = -np.inf, v_max
        while True:  # invariant: W(≤ lo) < target ≤ W(≤ hi)
            i0, i1 = int(np.searchsorted(v, lo, side="right")), int(np.searchsorted(v, hi, side="left"))
            n = i1 - i0  # local candidates, strictly inside (lo, hi)
            proposals = comm.allgather((n, float(v[(i0 + i1) // 2]) if n else 0.0))
            n_all = sum(k for k, _ in proposals)
            if n_all == 0:
                return float(hi)
            acc, pivot = 0, hi
            for k, median in sorted(((k, m) for k, m in proposals if k), key=lambda km: km[1]):
                acc += k
                if 2 * acc >= n_all:
                    pivot = median
                    break
            if weight_le(pivot) >= target:
                hi = pivot
            else:
                lo = pivot

    return [select(q) for q in qs]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float, comm: MPI.Comm) -> float:
    """One weighted quantile; see :func:`weighted_quantiles`."""
    return weighted_quantiles(values, weights, (q,), comm)[0]


def distribution(values: np.ndarray, weights: np.ndarray, comm: MPI.Comm,
                 threshold: float | None = None) -> dict[str, float | None]:
    """Weighted mean, p95, p99, min, max (and the weight fraction above ``threshold``)."""
    values = np.asarray(values, dtype=float).ravel()
    weights = np.asarray(weights, dtype=float).ravel()
    total = comm.allreduce(float(weights.sum()), op=MPI.SUM)
    out: dict[str, float | None] = {}
    if not total > 0.0:
        out.update(mean=None, **{f"p{p:g}": None for p in PERCENTILES}, min=None, max=None)
        if threshold is not None:
            out["fraction_above"] = None
        return out
    out["mean"] = comm.allreduce(float(values @ weights), op=MPI.SUM) / total
    quantiles = weighted_quantiles(values, weights, [p / 100.0 for p in PERCENTILES], comm)
    out.update({f"p{p:g}": x for p, x in zip(PERCENTILES, quantiles, strict=True)})
    out["min"] = comm.allreduce(float(values.min()) if values.size else np.inf, op=MPI.MIN)
    out["max"] = comm.allreduce(float(values.max()) if values.size else -np.inf, op=MPI.MAX)
    if threshold is not None:
        above = comm.allreduce(float(weights[values > threshold].sum()), op=MPI.SUM)
        out["fraction_above"] = above / total
    return out


# ---- stress invariants (numpy, arrays of 3x3 tensors) --------------------------------------------
def hydrostatic(s: np.ndarray) -> np.ndarray:
    """tr σ / 3 (Pa), > 0 in tension."""
    return np.trace(s, axis1=-2, axis2=-1) / 3.0


def von_mises(s: np.ndarray) -> np.ndarray:
    """√(3/2 s:s) with s the deviatoric stress (Pa)."""
    dev = s - hydrostatic(s)[..., None, None] * np.eye(3)
    return np.sqrt(1.5 * np.einsum("...ij,...ij->...", dev, dev))


def max_principal(s: np.ndarray) -> np.ndarray:
    """Largest eigenvalue of the symmetric stress (Pa), in closed form (trigonometric solution
    of the characteristic cubic; an order of magnitude faster than ``eigvalsh`` on millions of
    3x3 tensors)."""
    s = 0.5 * (s + np.swapaxes(s, -1, -2))
    q = hydrostatic(s)
    dev = s - q[..., None, None] * np.eye(3)
    p = np.sqrt(np.einsum("...ij,...ij->...", dev, dev) / 6.0)
    safe = np.where(p > 0.0, p, 1.0)
    b = dev / safe[..., None, None]
    det = (b[..., 0, 0] * (b[..., 1, 1] * b[..., 2, 2] - b[..., 1, 2] * b[..., 2, 1])
           - b[..., 0, 1] * (b[..., 1, 0] * b[..., 2, 2] - b[..., 1, 2] * b[..., 2, 0])
           + b[..., 0, 2] * (b[..., 1, 0] * b[..., 2, 1] - b[..., 1, 1] * b[..., 2, 0]))
    r = np.clip(det / 2.0, -1.0, 1.0)
    return np.where(p > 0.0, q + 2.0 * p * np.cos(np.arccos(r) / 3.0), q)


def energy_density(s: np.ndarray, lmbda: float, mu: float) -> np.ndarray:
    """½ σ : C⁻¹ σ (J/m³) of an isotropic phase with Lamé constants (Pa)."""
    tr = np.trace(s, axis1=-2, axis2=-1)
    ss = np.einsum("...ij,...ij->...", s, s)
    return 0.5 * (ss / (2.0 * mu) - lmbda / (2.0 * mu * (3.0 * lmbda + 2.0 * mu)) * tr**2)


# ---- sampling ------------------------------------------------------------------------------------------
class StressPost:
    """Samples of the current solution of a :class:`MechanicsProblem`; compiled once."""

    def __init__(self, problem: MechanicsProblem):
        self.problem = problem
        domain = problem.domain
        mesh = domain.mesh
        tdim = mesh.topology.dim
        self.comm = mesh.comm
        n_owned = mesh.topology.index_map(tdim).size_local
        points, self._qw = basix.make_quadrature(basix.CellType.tetrahedron, SAMPLE_DEGREE)
        self.cells = {p: (c := domain.cells(p))[c < n_owned] for p in tags.PHASES}
        self._sigma = {p: dolfinx.fem.Expression(problem.stress(p), points) for p in tags.PHASES}
        detj = dolfinx.fem.Expression(abs(ufl.JacobianDeterminant(mesh)), points)
        self.nq = len(self._qw)
        self.weights = {p: (detj.eval(mesh, c).reshape(c.size, self.nq) * self._qw).ravel()
                        for p, c in self.cells.items()}
        # interface: facet centroid seen from each side. Facet evaluation needs the entity
        # permutations, whose (collective) creation must not wait for a rank's first facet.
        mesh.topology.create_entity_permutations()
        self.iface = domain.interface_entities(INTERFACE)
        centroid = np.full((1, tdim - 1), 1.0 / tdim)
        self._sigma_f = {p: dolfinx.fem.Expression(problem.stress(p), centroid) for p in tags.PHASES}
        self.facets, self.facet_area, self.normal = _facet_geometry(mesh, self.iface)
        self._trace_forms = None

    # ---- raw samples -------------------------------------------------------------------------------
    def stress_samples(self, phase: str) -> np.ndarray:
        """σ at the sample points of the owned cells of ``phase``, shape (n_cells * n_q, 3, 3)."""
        cells = self.cells[phase]
        return self._sigma[phase].eval(self.problem.domain.mesh, cells).reshape(-1, 3, 3)

    def tractions(self) -> tuple[np.ndarray, np.ndarray]:
        """Normal (opening > 0) and shear traction (Pa) at each owned interface facet."""
        mesh = self.problem.domain.mesh
        plus, minus = np.ascontiguousarray(self.iface[:, :2]), np.ascontiguousarray(self.iface[:, 2:])
        s_plus = self._sigma_f["NVP"].eval(mesh, plus).reshape(-1, 3, 3)
        s_minus = self._sigma_f["NZSP"].eval(mesh, minus).reshape(-1, 3, 3)
        t = np.einsum("fij,fj->fi", 0.5 * (s_plus + s_minus), self.normal)
        tn = np.einsum("fi,fi->f", t, self.normal)
        ts = np.linalg.norm(t - tn[:, None] * self.normal, axis=1)
        return tn, ts

    def phase_fields(self, phase: str) -> dict[str, np.ndarray]:
        """Stress invariants and energy density at the samples of ``phase`` (Pa, J/m³)."""
        s = self.stress_samples(phase)
        law = self.problem.laws[phase]
        return {
            "stress": s,
            "von_mises": von_mises(s),
            "hydrostatic": hydrostatic(s),
            "max_principal": max_principal(s),
            "energy_density": energy_density(s, float(law.lmbda.value), float(law.mu.value)),
        }

    # ---- metrics -------------------------------------------------------------------------------------
    def _mean_traces(self) -> tuple[float, float]:
        """∫_NVP tr ε(u) dx and ∫_NVP tr ε_ch dx (m³)."""
        p = self.problem
        if self._trace_forms is None:
            dx = p.domain.dx("NVP")
            self._trace_forms = (dolfinx.fem.form(ufl.tr(ufl.sym(ufl.grad(p.u))) * dx),
                                 dolfinx.fem.form(ufl.tr(p.eps_ch) * dx))
        return tuple(self.comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM)
                     for f in self._trace_forms)

    def metrics(self) -> dict[str, Any]:
        """The ``mechanics`` block of metrics.json (SI units; see the module docstring)."""
        p, comm = self.problem, self.comm
        mat = p.case.materials
        strength = {"NZSP": mat.strength_nzsp, "NVP": mat.strength_nvp}
        out: dict[str, Any] = {"units": {"stress": "Pa", "energy": "J", "energy_per_volume": "J/m^3",
                                         "volume": "m^3", "area": "m^2", "length": "m",
                                         "energy_release_rate": "J/m^2"}}
        phases: dict[str, Any] = {}
        energy_total = 0.0
        for phase in tags.PHASES:
            f = self.phase_fields(phase)
            w = self.weights[phase]
            volume = comm.allreduce(float(w.sum()), op=MPI.SUM)
            energy = comm.allreduce(float(f["energy_density"] @ w), op=MPI.SUM)
            energy_total += energy
            phases[phase] = {
                "volume": volume,
                "von_mises": distribution(f["von_mises"], w, comm),
                "hydrostatic": distribution(f["hydrostatic"], w, comm),
                "max_principal": distribution(f["max_principal"], w, comm, threshold=strength[phase]),
                "strength": strength[phase],
                "fraction_above_strength": None,
                "elastic_energy": energy,
            }
            phases[phase]["fraction_above_strength"] = phases[phase]["max_principal"]["fraction_above"]
        out["phases"] = phases
        tn, ts = self.tractions()
        area = comm.allreduce(float(self.facet_area.sum()), op=MPI.SUM)
        out["interface"] = {
            "area": area,
            "strength": mat.strength_interface,
            "normal_traction": distribution(tn, self.facet_area, comm, threshold=mat.strength_interface),
            "shear_traction": distribution(ts, self.facet_area, comm, threshold=mat.strength_interface),
        }
        v_nvp = phases["NVP"]["volume"]
        out["elastic_energy"] = {"total": energy_total,
                                 "per_nvp_volume": energy_total / v_nvp if v_nvp > 0 else None}
        tr_u, tr_ch = self._mean_traces()
        out["strain_accommodation_index"] = tr_u / tr_ch if abs(tr_ch) > 0.0 else None
        out["mean_trace_strain_nvp"] = tr_u / v_nvp if v_nvp > 0 else None
        out["mean_trace_eigenstrain_nvp"] = tr_ch / v_nvp if v_nvp > 0 else None
        out["thin_film"] = thin_film_indicator(p, phases["NVP"], area)
        return out


def _facet_geometry(mesh: dolfinx.mesh.Mesh, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facet index, area (m²) and unit normal out of the "+" cell for interface rows."""
    tdim = mesh.topology.dim
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0), np.zeros((0, 3))
    c2f = mesh.topology.connectivity(tdim, tdim - 1)
    facets = np.array([c2f.links(c)[lf] for c, lf in rows[:, :2]], dtype=np.int32)
    nodes = dolfinx.mesh.entities_to_geometry(mesh, tdim - 1, facets)
    x = mesh.geometry.x[nodes[:, :3]]
    n = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    twice_area = np.linalg.norm(n, axis=1)
    n /= twice_area[:, None]
    inward = dolfinx.mesh.compute_midpoints(mesh, tdim, rows[:, 0]) - x.mean(axis=1)
    n[np.einsum("fi,fi->f", n, inward) > 0] *= -1.0
    return facets, 0.5 * twice_area, n


# ---- thin-film fracture indicator ----------------------------------------------------------------------
def layer_thickness(problem: MechanicsProblem, interface_area: float) -> tuple[float | None, str]:
    """h (m) of the NVP layer and where it came from.

    In order: the value given to the problem (geometry provenance); ``[mechanics]
    fracture_layer_thickness``; the case geometry (``film_thickness``/``coating_thickness``/
    ``layer_thickness`` for the layered kinds); else V_NVP / A_interface (exact for a film, the
    mean thickness of a thin coating).
    """
    if problem.layer_thickness is not None:
        return float(problem.layer_thickness), "provenance"
    mech, geo = problem.case.mechanics, problem.case.geometry
    um = 1e-6  # µm -> m (case geometry lengths are in µm)
    if mech.fracture_layer_thickness is not None:
        return mech.fracture_layer_thickness * um, "mechanics.fracture_layer_thickness"
    by_kind = {"film": "film_thickness", "column": "film_thickness", "coated_cavity": "coating_thickness",
               "infiltrated": "layer_thickness"}
    key = by_kind.get(geo.kind)
    if key is not None and getattr(geo, key) is not None:
        return getattr(geo, key) * um, f"geometry.{key}"
    v_nvp = problem.domain.volume("NVP")
    if interface_area > 0.0:
        return v_nvp / interface_area, "V_NVP / A_interface"
    return None, "no interface"


def thin_film_indicator(problem: MechanicsProblem, nvp: dict, interface_area: float) -> dict[str, Any]:
    """G = Z σ_f² h / E_f of the NVP layer against G_c = K_IC² / E (J/m²).

    σ_f is the layer's equi-biaxial in-plane stress estimated as 1.5 × the NVP volume-mean
    hydrostatic stress (exact for a membrane state σ_xx = σ_yy, σ_zz = 0).
    Channel cracking needs tension: G_channel = Z_CHANNELING σ_f² h / E_f for σ_f > 0
    (else 0), compared with the NVP toughness. Steady-state delamination of an equi-biaxial
    film releases its stored energy, G_delam = (1 − ν_f) σ_f² h / E_f (Hutchinson & Suo 1992);
    under compression it needs buckling first, so it is an upper bound there. It is
    compared with the interface toughness.
    """
    mat = problem.case.materials
    h, source = layer_thickness(problem, interface_area)
    mean_h = nvp["hydrostatic"]["mean"]
    if h is None or mean_h is None:
        return {"h": h, "h_source": source}
    sigma_f = 1.5 * mean_h
    E, nu = mat.E_nvp, mat.nu_nvp
    g_channel = Z_CHANNELING * max(sigma_f, 0.0) ** 2 * h / E
    g_delam = (1.0 - nu) * sigma_f**2 * h / E
    gc_film = mat.toughness_nvp**2 / E
    gc_interface = mat.toughness_interface**2 / E
    return {
        "h": h, "h_source": source, "sigma_film": sigma_f,
        "Z_channeling": Z_CHANNELING, "G_channeling": g_channel, "Gc_film": gc_film,
        "channeling_ratio": g_channel / gc_film,
        "Z_delamination": 1.0 - nu, "G_delamination": g_delam, "Gc_interface": gc_interface,
        "delamination_ratio": g_delam / gc_interface,
    }


# ---- ParaView fields -----------------------------------------------------------------------------------
class FieldWriter:
    """XDMF files (one per function) for u and the derived fields; keep open across steps.

    ``append=True`` continues existing files (a resumed run) instead of starting them anew.
    """

    SCALARS = ("von_mises", "hydrostatic", "max_principal", "energy_density")

    def __init__(self, problem: MechanicsProblem, folder: str | os.PathLike[str], append: bool = False):
        self.problem = problem
        self.folder = Path(folder)
        self.append = append
        mesh = problem.domain.mesh
        comm = mesh.comm
        if comm.rank == 0:
            self.folder.mkdir(parents=True, exist_ok=True)
        comm.Barrier()
        post = problem.post
        V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (3,)))
        self.u_out = dolfinx.fem.Function(V1, name="displacement")
        Q0 = dolfinx.fem.functionspace(mesh, ("DG", 0))
        T0 = dolfinx.fem.functionspace(mesh, ("DG", 0, (3, 3)))
        self.tensor = dolfinx.fem.Function(T0, name="stress")
        self.scalars = {k: dolfinx.fem.Function(Q0, name=k) for k in self.SCALARS}
        self.dofs = {p: Q0.dofmap.list[c, 0] for p, c in post.cells.items()}
        self.tdofs = {p: T0.dofmap.list[c, 0] for p, c in post.cells.items()}
        self.files: dict[str, dolfinx.io.XDMFFile] = {}
        for f in (self.u_out, self.tensor, *self.scalars.values()):
            self._open(f.name, mesh)
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
            self.surface = {k: dolfinx.fem.Function(S0, name=k)
                            for k in ("interface_normal_traction", "interface_shear_traction")}
            for k in self.surface:
                self._open(k, sub)

    def _open(self, name: str, mesh: dolfinx.mesh.Mesh) -> None:
        path = self.folder / f"{name}.xdmf"
        exists = mesh.comm.bcast(path.is_file() if mesh.comm.rank == 0 else None, root=0)
        if self.append and exists:
            self.files[name] = dolfinx.io.XDMFFile(mesh.comm, str(path), "a")
        else:
            self.files[name] = dolfinx.io.XDMFFile(mesh.comm, str(path), "w")
            self.files[name].write_mesh(mesh)

    def write(self, t: float = 0.0) -> None:
        """Evaluate and append every field at time ``t`` (s)."""
        post = self.problem.post
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
            self.files[f.name].write_function(f, t)
        if self.surface is not None:
            tn, ts = post.tractions()
            for k, vals in zip(self.surface, (tn, ts), strict=True):
                self.surface[k].x.array[self._sdofs] = vals[self._rows]
                self.surface[k].x.scatter_forward()
                self.files[k].write_function(self.surface[k], t)

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files.clear()

    def __enter__(self) -> FieldWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
