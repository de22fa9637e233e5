"""Layered column NZSP | NVP (3D tetrahedra) at steady state against the closed form.

With the filling frozen (uniform y) everything depends on z only:
V = U(y) + η + j L_e/σ_e + j L_s/σ_s + j/g_c + j r_series (g_c: collector contact), η from Butler–Volmer,
η = (2RT/F) asinh(j / (2 i₀(y))) for α = ½, a 1D root otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import electro_params, solver_settings
from layered import layered_box
from scipy.optimize import brentq

from fem_electrode.physics.kinetics import ButlerVolmer
from fem_electrode.physics.ocv import SmoothOCV
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem, ElectroParams

L_E, L_S = 4e-6, 2e-6  # NZSP and NVP thickness, m
LENGTHS = (1e-6, 1e-6, L_E + L_S)
Y0 = 0.3
RTOL = 1e-9  # measured: 4e-13 (α = ½) and 8e-13 (α = 0.3 / 0.7), serial and 2 ranks
# Kinetics and OCV of the tests: i0_ref other than 1, a temperature other than 298.15 K, so that a
# wrong RT/F or normalisation of i₀ shows.
I0_REF, T = 1.7, 320.0  # A/m², K
U0, TILT = 3.37, 0.05  # V
F_CONST, R_CONST = 96485.33212, 8.314462618  # C/mol, J/(mol K) (CODATA 2018)


def closed_form_voltage(p: ElectroParams, j: float, alpha_a: float = 0.5, alpha_c: float = 0.5) -> float:
    """The cell voltage written out here, independent of the package's laws: the smooth OCV
    U = U0 + (RT/F) ln((1 − y)/y) − s (y − ½), i₀ = i0_ref (2y)^α_c (2(1 − y))^α_a and the
    Butler–Volmer root, plus the ohmic drops."""
    f = F_CONST / (R_CONST * T)
    u = U0 + math.log((1.0 - Y0) / Y0) / f - TILT * (Y0 - 0.5)
    i0 = I0_REF * (2.0 * Y0) ** alpha_c * (2.0 * (1.0 - Y0)) ** alpha_a
    if alpha_a == alpha_c == 0.5:
        eta = 2.0 / f * math.asinh(j / (2.0 * i0))
    else:
        eta = brentq(lambda e: i0 * (math.exp(alpha_a * f * e) - math.exp(-alpha_c * f * e)) - j,
                     -2.0, 2.0, xtol=1e-15, rtol=1e-15)
    ohmic = j * (L_E / p.sigma_e + L_S / p.sigma_s + 1.0 / p.collector_conductance + p.r_series)
    return u + eta + ohmic


def params_for(alpha_a: float = 0.5, alpha_c: float = 0.5, **overrides) -> ElectroParams:
    return electro_params(kinetics=ButlerVolmer(I0_REF, alpha_a, alpha_c, T), ocv=SmoothOCV(U0, TILT, T),
                          initial_y=Y0, **overrides)


def column_problem(comm, params: ElectroParams, linear: str) -> ElectrochemistryProblem:
    domain = layered_box(comm, LENGTHS, (2, 2, 12), z_interface=L_E)
    prob = ElectrochemistryProblem(domain, params, solver_settings(linear), c_rate=1.0)
    prob.set_frozen_concentration(True)
    return prob


@pytest.mark.parametrize("linear", ["direct", "iterative"])
@pytest.mark.parametrize("alpha_a, alpha_c", [(0.5, 0.5), (0.3, 0.7)])
def test_galvanostatic_column_matches_closed_form(comm, linear, alpha_a, alpha_c):
    params = params_for(alpha_a, alpha_c, r_series=3.7e-3, sigma_s=0.05)
    prob = column_problem(comm, params, linear)
    try:
        for j in (5.0, -3.0, 0.2, 0.0):  # A/m², charge and discharge, large and small
            prob.set_galvanostatic(j * prob.projected_area)
            result = prob.solve(1.0)
            assert result.converged, result
            st = prob.state()
            expected = closed_form_voltage(params, j, alpha_a, alpha_c)
            assert st.voltage == pytest.approx(expected, rel=RTOL)
            assert st.interface_current == pytest.approx(j * prob.projected_area, rel=1e-9, abs=1e-20)
            assert st.c_min == st.c_max == pytest.approx(Y0 * params.c_max, rel=1e-14)  # frozen
    finally:
        prob.close()


def test_potentiostatic_column_holds_the_cell_voltage(comm):
    params = params_for(r_series=3.7e-3, sigma_s=0.05)
    prob = column_problem(comm, params, "direct")
    try:
        v_hold = 3.45
        j_expected = brentq(lambda j: closed_form_voltage(params, j) - v_hold, -100.0, 100.0, xtol=1e-14)
        prob.set_potentiostatic(v_hold)
        assert prob.solve(1.0).converged
        st = prob.state()
        assert st.voltage == pytest.approx(v_hold, rel=1e-12)
        assert st.current / prob.projected_area == pytest.approx(j_expected, rel=RTOL)
        assert st.interface_current == pytest.approx(st.current, rel=1e-9)
    finally:
        prob.close()


def test_fields_are_linear_in_each_phase(comm):
    """φ_e(z) = j z / σ_e in NZSP: exact for P1, at every dof."""
    params = electro_params(initial_y=Y0)
    prob = column_problem(comm, params, "direct")
    try:
        j = 2.0
        prob.set_galvanostatic(j * prob.projected_area)
        assert prob.solve(1.0).converged
        z = prob.V_e.tabulate_dof_coordinates()[:, 2]
        assert np.allclose(prob.phi_e.x.array, j * z / params.sigma_e, rtol=1e-9, atol=1e-14)
        zs = prob.V_s.tabulate_dof_coordinates()[:, 2]
        slope = np.polyfit(zs, prob.phi_s.x.array, 1)[0] if zs.size > 2 else j / params.sigma_s
        assert slope == pytest.approx(j / params.sigma_s, rel=1e-8)
    finally:
        prob.close()


@pytest.mark.parametrize("linear", ["direct", "iterative"])
def test_half_debonded_column_carries_the_current_through_the_other_half(comm, linear):
    """Contact fraction 0 on the half x > Lx/2 of the interface: the bonded half carries the
    whole current at twice the density. With highly conducting phases the lateral spreading
    costs nothing (≈ j Lx/σ ≈ 5e-8 V here), so the voltage is the closed form with the
    Butler–Volmer term at 2j and the ohmic terms at j."""
    sigma = 1.0e2  # S/m, both phases
    params = params_for(r_series=3.7e-3, sigma_e=sigma, sigma_s=sigma)
    prob = column_problem(comm, params, linear)
    try:
        half = LENGTHS[0] / 2.0
        prob.set_contact(lambda x: (x[0] < half).astype(float))
        assert prob.active_interface_area() == pytest.approx(prob.interface_area / 2.0, rel=1e-12)
        for j in (5.0, -3.0):
            prob.set_galvanostatic(j * prob.projected_area)
            assert prob.solve(1.0).converged
            st = prob.state()
            f = F_CONST / (R_CONST * T)
            u = U0 + math.log((1.0 - Y0) / Y0) / f - TILT * (Y0 - 0.5)
            i0 = I0_REF * (2.0 * Y0) ** 0.5 * (2.0 * (1.0 - Y0)) ** 0.5
            eta = 2.0 / f * math.asinh(2.0 * j / (2.0 * i0))  # at twice the density
            ohmic = j * (L_E / sigma + L_S / sigma + 1.0 / params.collector_conductance + params.r_series)
            assert st.voltage == pytest.approx(u + eta + ohmic, rel=1e-7)
            assert st.voltage != pytest.approx(closed_form_voltage(params, j), rel=1e-4)  # full area
            assert st.interface_current == pytest.approx(j * prob.projected_area, rel=1e-9)
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            prob.set_contact(np.full(prob.contact.x.array.size, 1.5))
    finally:
        prob.close()
