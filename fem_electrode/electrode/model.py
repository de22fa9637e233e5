"""Homogenized porous-electrode model through the thickness (pseudo-2D, Newman type), SI units.

The electrolyte is the NZSP scaffold, a single-ion conductor: no salt concentration, only its
potential φ_e. x ∈ [0, L] runs through the electrode (x = 0 the separator face, x = L the Au
current collector); everything is per m² of projected area. The microstructure enters only
through :class:`fem_electrode.physics.effective_medium.EffectiveProperties` (κ, σ, a, f_NVP,
ℓ, f_cc); the materials and the electrochemistry through the case, with the resolved RVE
model's conventions (:mod:`fem_electrode.problems.electrochemistry`).

Equations (i: Butler–Volmer current density per interface area, A/m², > 0 anodic = charge,
Na leaves NVP; I: the current density through the electrode, A/m², > 0 on charge)::

    ionic       d/dx(κ dφ_e/dx) = −a i,   φ_e(0) = 0,          κ dφ_e/dx(L) = 0
    electronic  d/dx(σ dφ_s/dx) =  a i,   σ dφ_s/dx(0) = 0,    σ dφ_s/dx(L) = I
    kinetics    i = i₀(y_s) [exp(α_a f η) − exp(−α_c f η)],  η = φ_s − φ_e − U(y_s)
    solid       ∂c/∂t = D ∇²c in a representative NVP domain at every x, outward Na flux
                N = i/F at its reacting surface, y_s = c_surface/c_max
    collector   V_cc − φ_s(L) = I / (g_c f_cc)
    cell        V = V_cc − φ_e(0) + I r_series,  r_series = L_sep/σ_NZSP + ASR_Na|NZSP

so that the ionic current i_e = −κ φ_e' runs from 0 at the collector to −I at the separator
(towards the Na counter electrode on charge) and the electronic one i_s = −σ φ_s' from −I at
the collector to 0 at the separator; i_e + i_s = −I everywhere.

The NVP domain has volume/area ℓ = f_NVP/a (checked against ``diffusion_length``), so that its
Na per total volume is f_NVP c and the reaction area per total volume is a:

- ``"slab"``: a planar layer of thickness ℓ reacting on one face (the infiltrated film),
  ∂c/∂t = D ∂²c/∂s², s ∈ [0, ℓ] the depth below the reacting face, no flux at s = ℓ;
- ``"sphere"``: a grain of radius R = 3ℓ (volume/area = R/3 = ℓ, a co-sintered grain),
  ∂c/∂t = D ρ⁻² ∂/∂ρ(ρ² ∂c/∂ρ), reacting at ρ = R.

Discretization: cell-centred finite volumes. x: ``n_x`` equal cells of width h, the Dirichlet
φ_e(0) = 0 through the half cell at x = 0 (second order). Solid: ``n_r`` cells in depth
(optionally graded finer towards the surface), the unknowns are the cell means of y = c/c_max,
fluxes between cell centres; y_s = y₀ − N δ/(D c_max) with δ the depth of the first cell's
centre (the flux N across the half cell; second order). Conservative: the Na of the electrode,
c_max a h Σ_k Σ_j V_j y_kj, changes by exactly −(I/F) dt when the residual is zero.

Unknowns, stored cell by cell ([φ_e, ψ, i, y_0 … y_{n_r−1}] of each x cell, then I: a banded
Jacobian; :attr:`ElectrodeModel.phi_e` etc. index them): φ_e (V), ψ = φ_s − φ_ref (V: the
deviation from a constant reference potential φ_ref re-centred by the time stepper, so that the
large conductance σ/h never multiplies ≈ 3.4 V and loses digits), i (A/m²), y (the NVP cells,
index 0 at the reacting surface) and I (A/m²), closed by the control: I = I_set (galvanostatic)
or V = V_hold (potentiostatic hold of the cell voltage).

Residual rows are A/m² of projected area (the φ_e, φ_s rows are the current balances of a cell,
the i rows a h (i − i_BV), the y rows F a h × the Na balance per interface area, the I row the
control), divided by the current scale of the run, so that the Newton tolerance is relative to
the current that flows. The Jacobian is analytic (sparse).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fem_electrode.config import Case
from fem_electrode.physics import ocv as ocv_laws
from fem_electrode.physics.constants import (
    FARADAY,
    SECONDS_PER_HOUR,
    Y_EPS,
    capacity_coulomb_per_kg,
)
from fem_electrode.physics.effective_medium import EffectiveProperties
from fem_electrode.physics.kinetics import EXP_ARG_MAX, ButlerVolmer
from fem_electrode.physics.ocv import OCV

#: Shapes of the representative NVP domain.
PARTICLES = ("slab", "sphere")
#: Sphere radius / diffusion length: a sphere's volume/area is R/3.
SPHERE_RADIUS_PER_LENGTH = 3.0
#: a ℓ = f_NVP is an identity of the RVE's figures (ℓ = V_NVP/A_interface); allowed mismatch.
GEOMETRY_RTOL = 1e-6
#: Controls of the I row.
CONTROLS = ("current", "voltage")


@dataclass(frozen=True)
class ElectrodeParams:
    """Everything the through-thickness model needs (SI units, per m² of projected area)."""

    thickness: float  #: electrode thickness L, m
    kappa: float  #: effective ionic conductivity of the NZSP network along x, S/m
    sigma: float  #: effective electronic conductivity of the NVP network along x, S/m
    area_density: float  #: NVP|NZSP interface area per total volume a, 1/m
    fraction_nvp: float  #: NVP volume fraction f_NVP, -
    fraction_nzsp: float  #: NZSP volume fraction, -
    diffusivity: float  #: Na diffusivity in NVP D, m²/s
    c_max: float  #: cyclable Na concentration, mol/m³
    density_nvp: float  #: kg/m³
    capacity_nvp: float  #: theoretical specific capacity, mAh/g
    kinetics: ButlerVolmer
    ocv: OCV
    initial_y: float  #: initial filling c/c_max, -
    r_series: float  #: separator + Na|NZSP resistance, Ω m²
    contact_conductance: float  #: g_c f_cc: Au|NVP contact per projected area, S/m²
    separator_thickness: float  #: dense NZSP separator (energy densities only), m
    particle: str = "slab"  #: "slab" or "sphere"

    def __post_init__(self) -> None:
        for name in ("thickness", "kappa", "sigma", "area_density", "fraction_nvp", "diffusivity",
                     "c_max", "density_nvp", "capacity_nvp", "contact_conductance"):
            value = getattr(self, name)
            if not (value > 0.0 and math.isfinite(value)):
                raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        if not 0.0 < self.initial_y < 1.0:
            raise ValueError(f"initial_y must lie in (0, 1), got {self.initial_y!r}")
        if not (self.r_series >= 0.0 and self.separator_thickness >= 0.0 and self.fraction_nzsp >= 0.0):
            raise ValueError("r_series, separator_thickness and fraction_nzsp must be >= 0")
        if self.particle not in PARTICLES:
            raise ValueError(f"particle must be one of {PARTICLES}, got {self.particle!r}")

    @classmethod
    def from_case(cls, case: Case, props: EffectiveProperties, thickness: float, *,
                  particle: str = "slab") -> ElectrodeParams:
        """Parameters of an electrode of ``thickness`` (m) made of the microstructure ``props``, with
        the materials, kinetics, OCV, separator and collector of ``case`` (as the RVE model builds
        them: r_series = L_sep/σ_NZSP + ASR, contact g_c × the collector's NVP area fraction)."""
        m, e = case.materials, case.electrochemistry
        if props.kappa_ion <= 0.0 or props.sigma_electronic <= 0.0:
            raise ValueError(f"the microstructure does not percolate along z: kappa_ion = "
                             f"{props.kappa_ion:g} S/m, sigma_electronic = {props.sigma_electronic:g} S/m")
        if props.collector_nvp_fraction <= 0.0:
            raise ValueError("no NVP touches the current collector (collector_nvp_fraction = 0)")
        if props.interface_area_density <= 0.0 or props.fraction_nvp <= 0.0:
            raise ValueError("no NVP|NZSP interface or no NVP in the microstructure")
        length = props.fraction_nvp / props.interface_area_density
        if abs(props.diffusion_length - length) > GEOMETRY_RTOL * length:
            raise ValueError(
                f"diffusion_length = {props.diffusion_length:.6g} m but fraction_nvp / "
                f"interface_area_density = {length:.6g} m: the model needs volume/area = f/a (one NVP "
                f"domain of volume/area l per interface area)")
        return cls(
            thickness=thickness, kappa=props.kappa_ion, sigma=props.sigma_electronic,
            area_density=props.interface_area_density, fraction_nvp=props.fraction_nvp,
            fraction_nzsp=props.fraction_nzsp, diffusivity=m.D_nvp, c_max=m.c_max,
            density_nvp=m.density_nvp, capacity_nvp=m.capacity_nvp,
            kinetics=ButlerVolmer(e.i0_ref, e.alpha_a, e.alpha_c, e.temperature),
            ocv=ocv_laws.from_config(e), initial_y=e.initial_y,
            r_series=e.separator_thickness / m.sigma_e_nzsp + e.asr_na_nzsp,
            contact_conductance=e.collector_conductance * props.collector_nvp_fraction,
            separator_thickness=e.separator_thickness, particle=particle,
        )

    @property
    def diffusion_length(self) -> float:
        """ℓ = f_NVP / a: NVP volume per interface area, m."""
        return self.fraction_nvp / self.area_density

    @property
    def particle_size(self) -> float:
        """Slab thickness ℓ or sphere radius 3ℓ, m."""
        return self.diffusion_length * (SPHERE_RADIUS_PER_LENGTH if self.particle == "sphere" else 1.0)

    @property
    def mass_nvp(self) -> float:
        """NVP mass per projected area, kg/m²."""
        return self.fraction_nvp * self.thickness * self.density_nvp

    @property
    def current_1c(self) -> float:
        """1 C current density, A/m²: the NVP's theoretical capacity per hour."""
        return self.mass_nvp * capacity_coulomb_per_kg(self.capacity_nvp) / SECONDS_PER_HOUR

    @property
    def sodium_charge(self) -> float:
        """c_max F f_NVP L: the charge of the cyclable Na per projected area, C/m²."""
        return self.c_max * FARADAY * self.fraction_nvp * self.thickness


@dataclass(frozen=True)
class Discretization:
    """Finite-volume grid: ``n_x`` cells through the thickness, ``n_r`` in each NVP domain;
    ``r_grading`` = width of the innermost / the surface cell (1: uniform; > 1: finer at the
    reacting surface, geometric)."""

    n_x: int = 60
    n_r: int = 16
    r_grading: float = 1.0

    def __post_init__(self) -> None:
        if self.n_x < 1 or self.n_r < 1:
            raise ValueError(f"need n_x >= 1 and n_r >= 1, got {self.n_x}, {self.n_r}")
        if not self.r_grading >= 1.0:
            raise ValueError(f"r_grading must be >= 1, got {self.r_grading!r}")


@dataclass(frozen=True)
class StepContext:
    """What one residual evaluation needs besides the unknowns.

    ``dt`` (s) and ``alpha`` give the time derivative of y as (α₀ y + history)/dt with
    ``history`` = Σ_{m≥1} α_m y_{n+1−m} (same shape as y); ``dt=None`` freezes y at ``frozen``
    (the potentials settled for a new current, no time passes)."""

    phi_ref: float  #: V
    control: str  #: "current" or "voltage"
    target: float  #: I_set (A/m²) or V_hold (V)
    scale: float  #: current scale of the residual, A/m²
    dt: float | None = None
    alpha0: float = 1.0
    history: np.ndarray | None = None
    frozen: np.ndarray | None = None


def _safe_exp_slope(x: np.ndarray) -> np.ndarray:
    """d/dx of :func:`fem_electrode.physics.kinetics.safe_exp`: exp(min(x, EXP_ARG_MAX))."""
    return np.exp(np.minimum(x, EXP_ARG_MAX))


class ElectrodeModel:
    """Residual and analytic Jacobian of the discrete through-thickness model."""

    def __init__(self, params: ElectrodeParams, disc: Discretization | None = None):
        self.params = p = params
        self.disc = d = disc or Discretization()
        self.n_x, self.n_r = d.n_x, d.n_r
        self.h = p.thickness / d.n_x
        #: cell centres through the thickness, m
        self.x = (np.arange(d.n_x) + 0.5) * self.h
        self._particle_grid()
        n, m = d.n_x, d.n_r
        # node-major layout: [φ_e, ψ, i, y_0 … y_{n_r−1}] of cell 0, of cell 1, …, then I; the
        # Jacobian is then banded (half-bandwidth n_r + 3) but for the I row and column
        stride = m + 3
        base = np.arange(n) * stride
        self.size = n * stride + 1
        #: indices of the unknowns (and residual rows) of each field
        self.phi_e = base
        self.psi = base + 1
        self.i = base + 2
        self.y = (base[:, None] + 3 + np.arange(m)[None, :]).ravel()
        self.I = self.size - 1
        self._structure: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray, np.ndarray, int]] = {}
        #: collector-side series resistance of the last half cell, contact and separator, Ω m²
        self.r_collector = self.h / (2.0 * p.sigma) + 1.0 / p.contact_conductance
        #: F a h: A/m² (projected) per mol/(m² s) of interface
        self.w_y = FARADAY * p.area_density * self.h

    def _particle_grid(self) -> None:
        """Depths s of the faces (0 at the reacting surface), cell volumes V_j and face areas A per
        unit reacting area (m), distances between centres d_j and of the first centre δ (m)."""
        p, m = self.params, self.n_r
        size = p.particle_size
        q = self.disc.r_grading ** (1.0 / (m - 1)) if m > 1 else 1.0
        widths = q ** np.arange(m)
        faces = np.concatenate(([0.0], np.cumsum(widths)))
        faces *= size / faces[-1]
        faces[-1] = size
        if p.particle == "slab":
            volumes = np.diff(faces)
            areas = np.ones(m - 1)
            centres = 0.5 * (faces[:-1] + faces[1:])
        else:
            radius = size
            rho = radius - faces  # decreasing from R to 0
            volumes = (rho[:-1] ** 3 - rho[1:] ** 3) / (3.0 * radius ** 2)
            areas = rho[1:-1] ** 2 / radius ** 2
            centres = radius - 0.5 * (rho[:-1] + rho[1:])
        self.r_faces = faces
        self.r_volumes = volumes  # sum = ℓ
        self.r_areas = areas  # interior faces
        self.r_dist = np.diff(centres)
        self.r_delta = float(centres[0])

    # -- unknowns -----------------------------------------------------------------------------

    def initial_state(self, y0: float | None = None) -> np.ndarray:
        """Uniform filling ``y0`` (default: the case's), potentials 0 (the stepper settles them)."""
        u = np.zeros(self.size)
        u[self.y] = self.params.initial_y if y0 is None else y0
        return u

    def fillings(self, u: np.ndarray) -> np.ndarray:
        """y (n_x, n_r), cell means, index 0 at the reacting surface."""
        return u[self.y].reshape(self.n_x, self.n_r)

    def surface_filling(self, u: np.ndarray) -> np.ndarray:
        """y_s at the reacting surfaces (n_x)."""
        return self.fillings(u)[:, 0] - self._q_surface() * u[self.i]

    def _q_surface(self) -> float:
        """∂(y_0 − y_s)/∂i: δ/(F D c_max), m²/A."""
        p = self.params
        return self.r_delta / (FARADAY * p.diffusivity * p.c_max)

    def sodium(self, u: np.ndarray) -> float:
        """Cyclable Na per projected area, mol/m²."""
        return float(self.params.c_max * self.params.area_density * self.h
                     * np.sum(self.fillings(u) @ self.r_volumes))

    def mean_filling(self, u: np.ndarray) -> float:
        """⟨y⟩ over the NVP of the electrode."""
        return float(np.sum(self.fillings(u) @ self.r_volumes)
                     / (self.n_x * self.params.diffusion_length))

    def voltage(self, u: np.ndarray, phi_ref: float) -> float:
        """Cell voltage V = φ_s(L) + I/(g_c f_cc) + I r_series (φ_e(0) = 0), V."""
        current = u[self.I]
        return float(u[self.psi][-1] + phi_ref + current * (self.r_collector + self.params.r_series))

    # -- residual and Jacobian ----------------------------------------------------------------

    def residual(self, u: np.ndarray, ctx: StepContext) -> np.ndarray:
        return self._assemble(u, ctx, jacobian=False)[0]

    def evaluate(self, u: np.ndarray, ctx: StepContext) -> tuple[np.ndarray, sp.csc_matrix]:
        """Residual and its Jacobian (CSC)."""
        res, jac = self._assemble(u, ctx, jacobian=True)
        assert jac is not None
        return res, jac

    def _assemble(self, u: np.ndarray, ctx: StepContext, *, jacobian: bool
                  ) -> tuple[np.ndarray, sp.csc_matrix | None]:
        p, n, m, h = self.params, self.n_x, self.n_r, self.h
        a, kap, sig = p.area_density, p.kappa, p.sigma
        phe, psi, cur = u[self.phi_e], u[self.psi], u[self.i]
        y = self.fillings(u)
        current = u[self.I]
        res = np.empty(self.size)

        # ionic and electronic current balances of each cell, A/m²
        i_e = np.empty(n + 1)
        i_e[0] = -kap * phe[0] / (0.5 * h)
        i_e[1:n] = -kap * np.diff(phe) / h
        i_e[n] = 0.0
        i_s = np.empty(n + 1)
        i_s[0] = 0.0
        i_s[1:n] = -sig * np.diff(psi) / h
        i_s[n] = -current
        res[self.phi_e] = np.diff(i_e) - a * h * cur
        res[self.psi] = np.diff(i_s) + a * h * cur

        # Butler–Volmer at the surface filling
        q = self._q_surface()
        ys = y[:, 0] - q * cur
        eta = psi + ctx.phi_ref - phe - p.ocv.value(ys)
        i_bv = p.kinetics.current(eta, ys)
        res[self.i] = a * h * (cur - i_bv)

        # Na balance of each solid cell, per interface area (mol/(m² s)), times F a h
        dcoef = p.diffusivity * p.c_max * self.r_areas / self.r_dist  # mol/(m² s) per unit Δy
        flux = dcoef * np.diff(y, axis=1)  # into cell j from j + 1 (n, m − 1)
        vol = p.c_max * self.r_volumes
        if ctx.dt is None:
            assert ctx.frozen is not None
            rows_y = vol * (y - ctx.frozen.reshape(n, m))  # frozen: y = y_n (per "second")
        else:
            assert ctx.history is not None
            rows_y = vol * (ctx.alpha0 * y + ctx.history.reshape(n, m)) / ctx.dt
            rows_y[:, :-1] -= flux
            rows_y[:, 1:] += flux
            rows_y[:, 0] += cur / FARADAY
        res[self.y] = (self.w_y * rows_y).ravel()

        # control
        r_tot = self.r_collector + p.r_series
        if ctx.control == "current":
            res[self.I] = current - ctx.target
        else:
            res[self.I] = (psi[-1] + ctx.phi_ref + current * r_tot - ctx.target) / r_tot
        res /= ctx.scale
        if not jacobian:
            return res, None

        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []

        def add(r: np.ndarray | int, c: np.ndarray | int, v: np.ndarray | float) -> None:
            r_, c_, v_ = np.broadcast_arrays(np.asarray(r), np.asarray(c), np.asarray(v, float))
            rows.append(r_.ravel())
            cols.append(c_.ravel())
            vals.append(v_.ravel())

        ie_rows, s_rows, i_rows = self.phi_e, self.psi, self.i
        # ionic: row k = i_e[k+1] − i_e[k] − a h i_k
        diag_e = np.full(n, 2.0 * kap / h)
        diag_e[0] = kap / h + kap / (0.5 * h)
        if n > 1:
            diag_e[-1] = kap / h
        else:
            diag_e[0] = kap / (0.5 * h)
        add(ie_rows, ie_rows, diag_e)
        add(ie_rows[:-1], ie_rows[1:], -kap / h)
        add(ie_rows[1:], ie_rows[:-1], -kap / h)
        add(ie_rows, i_rows, -a * h)
        # electronic: row k = i_s[k+1] − i_s[k] + a h i_k
        diag_s = np.full(n, 2.0 * sig / h)
        diag_s[0] = sig / h
        diag_s[-1] = sig / h if n > 1 else 0.0
        add(s_rows, s_rows, diag_s)
        add(s_rows[:-1], s_rows[1:], -sig / h)
        add(s_rows[1:], s_rows[:-1], -sig / h)
        add(s_rows, i_rows, a * h)
        add(s_rows[-1], self.I, -1.0)
        # kinetics: a h (i − i_BV(η, y_s))
        g_eta, g_ys = self._bv_derivatives(eta, ys)
        dg_dys = g_ys - g_eta * p.ocv.slope(ys)  # through y_s in i₀ and in U
        add(i_rows, ie_rows, a * h * g_eta)
        add(i_rows, s_rows, -a * h * g_eta)
        add(i_rows, i_rows, a * h * (1.0 + q * dg_dys))
        y_rows = self.y.reshape(n, m)
        add(i_rows, y_rows[:, 0], -a * h * dg_dys)
        # solid
        if ctx.dt is None:
            add(y_rows, y_rows, self.w_y * np.broadcast_to(vol, (n, m)))
        else:
            diag = np.broadcast_to(vol * ctx.alpha0 / ctx.dt, (n, m)).copy()
            diag[:, :-1] += dcoef
            diag[:, 1:] += dcoef
            add(y_rows, y_rows, self.w_y * diag)
            add(y_rows[:, :-1], y_rows[:, 1:], -self.w_y * dcoef)
            add(y_rows[:, 1:], y_rows[:, :-1], -self.w_y * dcoef)
            add(y_rows[:, 0], i_rows, self.w_y / FARADAY)
        # control
        if ctx.control == "current":
            add(self.I, self.I, 1.0)
        else:
            add(self.I, s_rows[-1], 1.0 / r_tot)
            add(self.I, self.I, 1.0)
        key = (ctx.control, ctx.dt is None)
        if key not in self._structure:  # the pattern is fixed per (control, frozen): sort it once
            flat = np.concatenate(cols) * self.size + np.concatenate(rows)
            uniq, inverse = np.unique(flat, return_inverse=True)
            indptr = np.searchsorted(uniq // self.size, np.arange(self.size + 1))
            self._structure[key] = (uniq % self.size, indptr, inverse, len(uniq))
        indices, indptr, inverse, nnz = self._structure[key]
        data = np.bincount(inverse, weights=np.concatenate(vals), minlength=nnz) / ctx.scale
        return res, sp.csc_matrix((data, indices, indptr), shape=(self.size, self.size))

    def _bv_derivatives(self, eta: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """∂i_BV/∂η (A/(m² V)) and ∂i_BV/∂y_s (A/m², through i₀ only) of
        :meth:`ButlerVolmer.current` (safe_exp's linear continuation included)."""
        kin = self.params.kinetics
        f = kin.f
        xa, xc = kin.alpha_a * f * eta, -kin.alpha_c * f * eta
        i0 = kin.exchange_current(ys)
        g_eta = i0 * f * (kin.alpha_a * _safe_exp_slope(xa) + kin.alpha_c * _safe_exp_slope(xc))
        inside = (ys > Y_EPS) & (ys < 1.0 - Y_EPS)
        yc = np.clip(ys, Y_EPS, 1.0 - Y_EPS)
        dlog_i0 = np.where(inside, kin.alpha_c / yc - kin.alpha_a / (1.0 - yc), 0.0)
        g_ys = kin.current(eta, ys) * dlog_i0
        return g_eta, g_ys


def bdf_coefficients(times: Sequence[float] | np.ndarray) -> np.ndarray:
    """α_m with dy/dt(t₀) ≈ Σ α_m y(t_m) / (t₀ − t₁): the derivative at ``times[0]`` of the
    polynomial through (t_m, y_m), m = 0 … p (variable-step BDF of order p = len(times) − 1)."""
    t = np.asarray(times, float)
    p = len(t) - 1
    dt = t[0] - t[1]
    alpha = np.empty(p + 1)
    for mm in range(p + 1):
        others = np.delete(t, mm)
        # derivative of the Lagrange basis polynomial ℓ_m at t₀
        if mm == 0:
            deriv = sum(1.0 / (t[0] - tj) for tj in others)
        else:
            deriv = np.prod(t[0] - np.delete(others, 0)) / np.prod(t[mm] - others)
        alpha[mm] = deriv * dt
    return alpha
