"""Stress post-processing: samples of the current mechanics solution and the ``mechanics`` metrics.

Samples. The Cauchy stress is evaluated at the points of a degree-:data:`SAMPLE_DEGREE`
quadrature rule in every owned cell, each with its volume weight |det J| w_q (exact
moments for P1 and P2 stresses). On ``interface_nvp_nzsp`` the stress of both sides is
evaluated at each facet's centroid (the one reference point both sides agree on), weighted
by the facet area; the traction is t = ½(σ_NVP + σ_NZSP) n with n the normal pointing out
of NVP, split into the normal (opening, > 0 in tension) and shear (|t − t_n n|) parts.

Distributions are volume (area) weighted over all ranks (:mod:`fem_electrode.outputs.statistics`).
ParaView fields of the same samples: :mod:`fem_electrode.outputs.mechanics_fields`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fem_electrode import tags
from fem_electrode.fem.fenicsx import MPI, basix, dolfinx, ufl
from fem_electrode.outputs.statistics import distribution
from fem_electrode.physics import fracture
from fem_electrode.problems.mechanics import MechanicsProblem

#: Degree of the quadrature rule whose points sample the stress (4 points per tetrahedron).
SAMPLE_DEGREE = 2

INTERFACE = "interface_nvp_nzsp"


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
        self._trace_forms: tuple[Any, Any] | None = None

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
    def _mean_traces(self) -> tuple[float, ...]:
        """∫_NVP tr ε(u) dx and ∫_NVP tr ε_ch dx (m³)."""
        p = self.problem
        if self._trace_forms is None:
            dx = p.domain.dx("NVP")
            self._trace_forms = (dolfinx.fem.form(ufl.tr(ufl.sym(ufl.grad(p.u))) * dx),
                                 dolfinx.fem.form(ufl.tr(p.eps_ch) * dx))
        return tuple(self.comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM)
                     for f in self._trace_forms)

    def metrics(self, strengths: fracture.Strengths, layer: fracture.LayerThickness) -> dict[str, Any]:
        """The ``mechanics`` block of metrics.json (SI units; see the module docstring):
        ``strengths`` of the phases and the interface, ``layer`` the NVP layer thickness h of
        the thin-film indicator (and where it came from)."""
        comm = self.comm
        strength = {"NZSP": strengths.strength_nzsp, "NVP": strengths.strength_nvp}
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
        strength_interface = strengths.strength_interface
        area = comm.allreduce(float(self.facet_area.sum()), op=MPI.SUM)
        out["interface"] = {
            "area": area,
            "strength": strengths.strength_interface,
            "normal_traction": distribution(tn, self.facet_area, comm, threshold=strength_interface),
            "shear_traction": distribution(ts, self.facet_area, comm, threshold=strength_interface),
        }
        v_nvp = phases["NVP"]["volume"]
        out["elastic_energy"] = {"total": energy_total,
                                 "per_nvp_volume": energy_total / v_nvp if v_nvp > 0 else None}
        tr_u, tr_ch = self._mean_traces()
        out["strain_accommodation_index"] = tr_u / tr_ch if abs(tr_ch) > 0.0 else None
        out["mean_trace_strain_nvp"] = tr_u / v_nvp if v_nvp > 0 else None
        out["mean_trace_eigenstrain_nvp"] = tr_ch / v_nvp if v_nvp > 0 else None
        mp = self.problem.params
        out["thin_film"] = fracture.thin_film_indicator(phases["NVP"]["hydrostatic"]["mean"], layer,
                                                        mp.E_nvp, mp.nu_nvp, mp.E_nzsp, mp.nu_nzsp, strengths)
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
