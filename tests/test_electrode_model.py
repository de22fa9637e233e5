"""The through-thickness (homogenized) electrode model against closed forms: porous-electrode
current distribution, capacity and conservation, solid diffusion, cut-off landing (no DOLFINx).

Expected values are closed forms written here, not computed by the package.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from fem_electrode.config import validate
from fem_electrode.electrode.metrics import energy_density, internal_resistance
from fem_electrode.electrode.model import (
    Discretization,
    ElectrodeModel,
    ElectrodeParams,
    StepContext,
)
from fem_electrode.electrode.solve import (
    Segment,
    StepSettings,
    protocol_segments,
    run_protocol,
    simulate,
)
from fem_electrode.physics.effective_medium import EffectiveProperties

F = 96485.33212  # C/mol
R_GAS = 8.314462618  # J/(mol K)
T = 298.15  # K, the case default
U_FLAT = 3.4  # V

pytestmark = pytest.mark.serial  # no DOLFINx/MPI: pure NumPy/SciPy, one process


class FlatOCV:
    """U = 3.4 V at every filling: the reaction distributes by the potentials alone."""

    def value(self, y, ops=None):
        return U_FLAT + 0.0 * np.asarray(y, float)

    def slope(self, y, ops=None):
        return 0.0 * np.asarray(y, float)

    def voltage_range(self):
        return U_FLAT, U_FLAT


def _props(*, kappa, sigma, f_nvp, ell, f_cc=1.0):
    return EffectiveProperties(
        fraction_nzsp=0.95 - f_nvp, fraction_nvp=f_nvp, porosity=0.05, kappa_ion=kappa,
        sigma_electronic=sigma, interface_area_density=f_nvp / ell, diffusion_length=ell,
        collector_nvp_fraction=f_cc, separator_nzsp_fraction=0.95 - f_nvp)


def _nt_linear_params(i0=0.25):
    """Mismatched κ ≠ σ, linear kinetics (small current), flat OCV, fast solid diffusion."""
    case = validate({"electrochemistry": {"initial_y": 0.5, "i0_ref": i0, "separator_thickness": 0.0,
                                          "asr_na_nzsp": 0.0},
                     "materials": {"D_nvp": 1e-12}})
    props = _props(kappa=0.2, sigma=0.05, f_nvp=0.25, ell=0.25e-6)
    params = ElectrodeParams.from_case(case, props, 200e-6)
    return dataclasses.replace(params, ocv=FlatOCV())


def _newman_tobias(current, length, kappa, sigma, a, r_ct):
    """Steady ohmic + kinetic drop φ_s(L) − φ_e(0) − U of a porous electrode with linear kinetics
    (Newman & Tobias, J. Electrochem. Soc. 109 (1962) 1183; Euler & Nonnenmacher 1960).

    Derivation: i_e = −κ φ_e', i_s = −σ φ_s', i_e' = a i = −i_s', i = η/R_ct, so
    η'' = φ_s'' − φ_e'' = a i (1/σ + 1/κ) = (ν/L)² η with ν² = L² a (1/R_ct)(1/κ + 1/σ);
    current I enters the solid at x = L and leaves the electrolyte at x = 0: η'(0) = −I/κ,
    η'(L) = I/σ. Hence η = A cosh(νx/L) + B sinh(νx/L), B = −IL/(κν),
    η(0) = A = (IL/ν)(1/σ + cosh ν/κ)/sinh ν, η(L) = (IL/ν)(cosh ν/σ + 1/κ)/sinh ν.
    From i_s = −(η' + I/κ) σκ/(σ + κ): φ_s(L) − φ_s(0) = [κ(η(L) − η(0)) + IL]/(σ + κ), and
    ΔV = η(0) + φ_s(L) − φ_s(0) = [σ η(0) + κ η(L) + IL]/(σ + κ)
       = (IL/(κ + σ)) [1 + (2 + (σ/κ + κ/σ) cosh ν)/(ν sinh ν)].
    """
    nu = math.sqrt(length ** 2 * a / r_ct * (1.0 / kappa + 1.0 / sigma))
    bracket = 1.0 + (2.0 + (sigma / kappa + kappa / sigma) * math.cosh(nu)) / (nu * math.sinh(nu))
    return current * length / (kappa + sigma) * bracket, nu


def test_current_distribution_matches_newman_tobias_second_order():
    params = _nt_linear_params()
    current = 1e-3  # A/m²: f η ≈ 1e-4, the linearisation error (fη)²/24 is 1e-9
    r_ct = R_GAS * T / (F * 0.25)  # Ω m² of interface: 1 / (i0 f (α_a + α_c))
    expected, nu = _newman_tobias(current, 200e-6, 0.2, 0.05, 0.25 / 0.25e-6, r_ct)
    assert 2.0 < nu < 5.0  # a distribution neither uniform nor confined to one face
    errors = []
    for n_x in (10, 20, 40, 80):
        model = ElectrodeModel(params, Discretization(n_x=n_x, n_r=2))
        res = simulate(model, [Segment("charge", "charge", "current", current, 1e-3)],
                       StepSettings(dt_initial=1e-3))
        # the segment's first point: potentials settled at t = 0, fillings uniform
        drop = res.V[0] - U_FLAT - current * (1.0 / params.contact_conductance + params.r_series)
        errors.append(abs(drop - expected) / expected)
    rates = [errors[k] / errors[k + 1] for k in range(len(errors) - 1)]
    # measured: errors 7.5e-3, 1.9e-3, 4.7e-4, 1.2e-4; ratios 3.98, 4.00, 4.00
    assert errors[-1] < 2e-4
    assert all(3.8 < r < 4.2 for r in rates), (errors, rates)


def test_jacobian_matches_finite_differences():
    case = validate({})
    props = _props(kappa=0.1, sigma=0.02, f_nvp=0.25, ell=0.3e-6, f_cc=0.5)
    rng = np.random.default_rng(1)
    for particle in ("slab", "sphere"):
        params = ElectrodeParams.from_case(case, props, 100e-6, particle=particle)
        model = ElectrodeModel(params, Discretization(n_x=5, n_r=4, r_grading=2.0))
        u = model.initial_state()
        u[model.phi_e] = rng.normal(0.0, 0.01, model.n_x)
        u[model.psi] = rng.normal(0.0, 0.01, model.n_x)
        u[model.i] = rng.normal(0.0, 0.1, model.n_x)
        u[model.y] = rng.uniform(0.2, 0.8, model.n_x * model.n_r)
        u[model.I] = 0.7
        for ctx in (StepContext(3.37, "current", 1.0, 1.0, dt=10.0, alpha0=1.5, history=-2 * u[model.y]),
                    StepContext(3.37, "voltage", 3.5, 1.0, dt=10.0, alpha0=1.0, history=-u[model.y]),
                    StepContext(3.37, "current", 1.0, 1.0, dt=None, frozen=0.9 * u[model.y])):
            _, jac = model.evaluate(u, ctx)
            fd = np.empty((model.size, model.size))
            for k in range(model.size):
                step = 1e-7 * max(1.0, abs(u[k]))
                e = np.zeros(model.size)
                e[k] = step
                fd[:, k] = (model.residual(u + e, ctx) - model.residual(u - e, ctx)) / (2 * step)
            assert np.max(np.abs(jac.toarray() - fd)) < 1e-8 * np.max(np.abs(fd))


def test_capacity_equals_sodium_charge_and_charge_is_conserved():
    """Near-ideal electrode (κ, σ, i₀, D large, 0.05 C): each half-cycle ends where U(y) = cut-off,
    so capacity = c_max F f L Δy; on the shipped two-phase table U = 3.8 V at y = 0.002 (between
    (0, 3.90) and (0.005, 3.65)) and U = 2.8 V at y = 0.995 + 0.35/110 (between (0.995, 3.15) and
    (1, 2.60))."""
    case = validate({"electrochemistry": {"ocv": "two_phase", "i0_ref": 1e4, "separator_thickness": 0.0,
                                          "asr_na_nzsp": 0.0, "collector_conductance": 1e9},
                     "materials": {"D_nvp": 1e-11}, "protocol": {"c_rate": 0.05}})
    props = _props(kappa=100.0, sigma=100.0, f_nvp=0.3, ell=0.25e-6)
    params = ElectrodeParams.from_case(case, props, 100e-6)
    model = ElectrodeModel(params, Discretization(n_x=10, n_r=4))
    res = run_protocol(model, case.protocol)
    assert res.status == "completed"
    charge, discharge = res.half_cycles
    assert (charge.end_reason, discharge.end_reason) == ("cutoff", "cutoff")
    y_high, y_low = 0.002, 0.995 + 0.35 / 110.0
    c_max, rho = 13.85e3, 3156.0
    mah_per_g = c_max * F / rho / 3600.0  # per unit Δy: C/kg → mAh/g
    expect_charge = (0.99 - y_high) * mah_per_g
    expect_discharge = (y_low - y_high) * mah_per_g
    # measured: relative errors −4e-8 (charge), −7e-8 (discharge)
    assert charge.capacity == pytest.approx(expect_charge, rel=1e-6)
    assert discharge.capacity == pytest.approx(expect_discharge, rel=1e-6)
    assert res.conservation_step < 1e-10 and res.conservation_total < 1e-10
    # 1 C from the NVP mass: kg/m² × Ah/kg (= mAh/g) per hour → A/m²; the charge lasts Q / I
    i_1c = 0.3 * 100e-6 * rho * 117.6
    assert abs(res.current[1]) == pytest.approx(0.05 * i_1c, rel=1e-12)
    q_charge = (0.99 - y_high) * c_max * F * 0.3 * 100e-6  # C/m²
    assert charge.t_end - charge.t_start == pytest.approx(q_charge / (0.05 * i_1c), rel=1e-6)


def _series_slab(t, flux, ell, d, c_max, terms=400):
    """Surface filling drop of a slab (thickness ell, insulated back face) losing the constant
    flux ``flux`` (mol/(m² s)) through its front face (Carslaw & Jaeger §3.3, Crank eq. 4.?):
    y0 − y_s = (flux/c_max) [t/ell + (ell/D)(1/3 − (2/π²) Σ exp(−D n² π² t/ell²)/n²)]."""
    n = np.arange(1, terms + 1)[:, None]
    s = np.sum(np.exp(-d * n ** 2 * np.pi ** 2 * t[None, :] / ell ** 2) / n ** 2, axis=0)
    return flux / c_max * (t / ell + ell / d * (1.0 / 3.0 - 2.0 / np.pi ** 2 * s))


def _series_sphere(t, flux, radius, d, c_max, terms=200):
    """The same for a sphere of radius R (Crank eq. 6.?, Carslaw & Jaeger §9.3):
    y0 − y_s = (flux R/(D c_max)) [3Dt/R² + 1/5 − 2 Σ exp(−D α_n² t/R²)/α_n²], tan α_n = α_n."""
    alphas = np.array([brentq(lambda x: math.sin(x) - x * math.cos(x), k * math.pi + 1e-9,
                              (k + 0.5) * math.pi) for k in range(1, terms + 1)])[:, None]
    s = np.sum(np.exp(-d * alphas ** 2 * t[None, :] / radius ** 2) / alphas ** 2, axis=0)
    return flux * radius / (d * c_max) * (3 * d * t / radius ** 2 + 0.2 - 2.0 * s)


@pytest.mark.parametrize("particle", ["slab", "sphere"])
def test_solid_diffusion_under_constant_flux(particle):
    """One x cell: a h i = I exactly, so the NVP domain sees a constant surface flux."""
    d, ell, f_nvp, length, c_max = 1e-15, 1e-6, 0.3, 10e-6, 13.85e3
    case = validate({"materials": {"D_nvp": d}, "electrochemistry": {"initial_y": 0.8}})
    params = ElectrodeParams.from_case(case, _props(kappa=1.0, sigma=1.0, f_nvp=f_nvp, ell=ell), length,
                                       particle=particle)
    size = ell if particle == "slab" else 3.0 * ell
    t_end = 15.0 * size ** 2 / d  # the transient has decayed to < 1e-12 of the surface drop
    current = 0.4 * c_max * F * f_nvp * length / t_end  # Δy = 0.4
    flux = current / (f_nvp / ell * length) / F  # mol/(m² s) through the NVP surface
    settings = StepSettings(tol_concentration=2e-6, dt_initial=1e-4 * size ** 2 / d, dt_max=t_end)
    seg = [Segment("charge", "charge", "current", current, t_end)]
    # transient against the series, fine grid
    res = simulate(ElectrodeModel(params, Discretization(n_x=1, n_r=64)), seg, settings)
    assert res.segment_end == ["time"]
    t, ys = res.t, res.y_surface_min
    series = (_series_slab if particle == "slab" else _series_sphere)(t, flux, size, d, c_max)
    quasi = flux * size / (d * c_max) * (1.0 / 3.0 if particle == "slab" else 0.2)  # ȳ − y_s, t → ∞
    late = t >= 0.02 * size ** 2 / d
    err = np.max(np.abs((0.8 - ys[late]) - series[late])) / quasi
    assert err < 4e-3, err  # measured: slab 1.0e-3, sphere 2.1e-3 (time and space, n_r = 64)
    # the long-time drop ȳ − y_s, finite-volume convergence
    errors = []
    for n_r in (8, 16, 32):
        res = simulate(ElectrodeModel(params, Discretization(n_x=1, n_r=n_r)), seg,
                       dataclasses.replace(settings, tol_concentration=1e-3))
        drop = res.y_mean[-1] - res.y_surface_min[-1]
        errors.append(abs(drop - quasi) / quasi)
    rates = [errors[k] / errors[k + 1] for k in range(2)]
    # measured: slab 7.8e-3, 2.0e-3, 4.9e-4; sphere 2.6e-2, 6.5e-3, 1.6e-3; ratios 4.00 ± 0.005
    assert errors[-1] < 2e-3 and all(3.7 < r < 4.3 for r in rates), (errors, rates)


def _realistic(c_rate, n_x=20, **echem):
    case = validate({"electrochemistry": echem, "protocol": {"c_rate": c_rate}})
    props = _props(kappa=0.5 * 0.8 / 1.5, sigma=0.01 * 0.155 / 2.0, f_nvp=0.155, ell=0.243e-6, f_cc=0.2)
    return case, ElectrodeModel(ElectrodeParams.from_case(case, props, 200e-6), Discretization(n_x, 8))


def test_cutoff_landing_and_sign_conventions():
    case, model = _realistic(1.0)
    res = run_protocol(model, case.protocol)
    assert res.status == "completed"
    charge, discharge = res.half_cycles
    assert (charge.end_reason, discharge.end_reason) == ("cutoff", "cutoff")
    assert abs(charge.voltage_end - 3.8) < 1e-6 and abs(discharge.voltage_end - 2.8) < 1e-6
    ocv = model.params.ocv
    for k, half in ((0, charge), (1, discharge)):
        sel = res.segment == k
        gap = res.V[sel] - ocv.value(res.y_mean[sel])
        if half.kind == "charge":
            assert np.all(res.current[sel] > 0) and np.all(gap > 0)  # charge: above the OCV
        else:
            assert np.all(res.current[sel] < 0) and np.all(gap < 0)  # discharge: below
    assert res.conservation_step < 1e-10


def test_constant_voltage_hold_after_charge():
    case, model = _realistic(1.0, n_x=10)
    protocol = dataclasses.replace(case.protocol, hold_minutes=10.0)
    segments = protocol_segments(protocol, model.params.current_1c)
    assert [s.control for s in segments] == ["current", "voltage", "current", "voltage"]
    res = simulate(model, segments[:2], StepSettings.from_protocol(protocol))
    assert res.segment_end == ["cutoff", "time"]
    hold = res.segment == 1
    assert np.max(np.abs(res.V[hold] - 3.8)) < 1e-9
    current = res.current[hold]
    assert np.all(current > 0) and np.all(np.diff(current) < 0)  # decays
    half = res.half_cycles[0]
    assert half.capacity > half.capacity_galvanostatic
    assert res.t[-1] - res.t[np.flatnonzero(hold)[0]] == pytest.approx(600.0, rel=1e-12)
    assert res.conservation_step < 1e-10


def test_internal_resistance_of_the_linear_electrode():
    """Flat OCV, small current: V_charge − U = +j R, V_discharge − U = −j R with R the
    Newman–Tobias drop per current plus the collector contact and the series resistance."""
    # a short excursion around ⟨y⟩ = ½ keeps the fillings (and i₀(y)) nearly uniform
    params = dataclasses.replace(_nt_linear_params(), initial_y=0.505, r_series=1e-3)
    current = 1e-3
    model = ElectrodeModel(params, Discretization(n_x=40, n_r=2))
    seconds = 0.01 * params.c_max * F * params.fraction_nvp * params.thickness / current  # Δy = 0.01
    segments = [Segment("charge", "charge", "current", current, seconds, None, 0),
                Segment("discharge", "discharge", "current", -current, seconds, None, 1)]
    res = simulate(model, segments, StepSettings(dt_initial=1.0, dt_max=1e7))
    r_ct = R_GAS * T / (F * 0.25)
    drop, _ = _newman_tobias(current, 200e-6, 0.2, 0.05, 0.25 / 0.25e-6, r_ct)
    expected = drop / current + 1.0 / params.contact_conductance + 1e-3
    error = abs(internal_resistance(res) - expected) / expected
    assert error < 6e-4, error  # measured 3e-4: the grid error of the Newman–Tobias part


def test_energy_density_closed_form():
    case, model = _realistic(1.0)
    p = model.params
    e = 20.0  # Wh/m²
    rho_nzsp = 3300.0
    out = energy_density(p, e, rho_nzsp)
    mass = 200e-6 * ((0.95 - 0.155) * rho_nzsp + 0.155 * 3156.0)
    assert out.wh_per_l == pytest.approx(e / (200e-6 * 1000.0), rel=1e-14)
    assert out.wh_per_kg == pytest.approx(e / mass, rel=1e-14)
    assert out.wh_per_kg_with_separator == pytest.approx(e / (mass + 700e-6 * rho_nzsp), rel=1e-14)
    assert out.wh_per_l_with_separator == pytest.approx(e / (900e-6 * 1000.0), rel=1e-14)
    assert out.wh_per_kg_nvp == pytest.approx(e / (0.155 * 200e-6 * 3156.0), rel=1e-14)
