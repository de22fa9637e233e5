"""Constant-flux diffusion in a planar NVP film against the series solution (Crank 1975).

A galvanostatic discharge of a layered column puts a uniform, constant Na flux J0 = −j/F
into the NVP film through the interface; the collector face is closed. With x the distance
from the closed face (film thickness L, τ = L²/D):

c(x, t) = c0 + J0 t/L + (J0 L/D)[(3x² − L²)/(6L²) − (2/π²) Σ (−1)ⁿ/n² e^{−n²π²t/τ} cos(nπx/L)]

so c_mean = c0 + J0 t / L exactly, and c_surface − c_mean → J0 L / (3D).
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import electro_params, solver_settings
from layered import layered_box

from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.physics.constants import FARADAY
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem

L_FILM, L_E = 1e-6, 0.25e-6  # m
D = 1e-16  # m²/s
TAU = L_FILM**2 / D  # 1e4 s
C_MAX = 13850.0
Y0 = 0.4
J0 = 0.15 * C_MAX * D / L_FILM  # mol/(m² s): surface - mean -> 0.05 c_max
N_TERMS = 200


def series_surface_minus_mean(t: float) -> float:
    n = np.arange(1, N_TERMS + 1)
    decay = np.exp(-(n**2) * np.pi**2 * t / TAU) / n**2
    return J0 * L_FILM / D * (1.0 / 3.0 - 2.0 / np.pi**2 * np.sum(decay))


def film_errors(comm, nz: int, steps_per_tau: int) -> dict[float, float]:
    """Relative error of surface − mean against the series at t/τ = 0.2, 0.5, 1.5; asserts the
    mean is exact at every step."""
    domain = layered_box(comm, (0.25e-6, 0.25e-6, L_E + L_FILM), (1, 1, nz), z_interface=L_E)
    params = electro_params(D=D, c_max=C_MAX, initial_y=Y0, sigma_s=1.0)
    prob = ElectrochemistryProblem(domain, params, solver_settings("direct"), c_rate=1.0)
    c0 = Y0 * C_MAX
    surface = dolfinx.fem.form(prob.c("+") * domain.dS(), entity_maps=prob.entity_maps)
    checks = {round(f * steps_per_tau): f for f in (0.2, 0.5, 1.5)}
    errors = {}
    try:
        prob.set_galvanostatic(-FARADAY * J0 * prob.projected_area)  # discharge: Na enters NVP
        dt = TAU / steps_per_tau
        for step in range(1, max(checks) + 1):
            assert prob.solve(dt).converged
            prob.accept()
            t = step * dt
            st = prob.state()
            assert st.c_mean == pytest.approx(c0 + J0 * t / L_FILM, rel=1e-12)  # exact for all t
            if step in checks:
                c_s = comm.allreduce(dolfinx.fem.assemble_scalar(surface), op=MPI.SUM) / prob.interface_area
                errors[checks[step]] = (c_s - st.c_mean) / series_surface_minus_mean(t) - 1.0
    finally:
        prob.close()
    return errors


def test_constant_flux_film_against_series(comm):
    """Late time: surface − mean → J0 L/(3D) with the P1 error O(h²) (rate 2 under refinement);
    early times: within the backward-Euler error of Δt = τ/100."""
    assert series_surface_minus_mean(1.5 * TAU) == pytest.approx(J0 * L_FILM / (3 * D), rel=1e-6)
    coarse = film_errors(comm, 25, 100)  # h = L/20 in the film
    fine = film_errors(comm, 50, 100)  # h = L/40
    assert abs(coarse[1.5]) < 1e-3 and abs(fine[1.5]) < 2.5e-4, (coarse, fine)
    rate = np.log2(coarse[1.5] / fine[1.5])
    assert rate == pytest.approx(2.0, abs=0.1), (coarse, fine)
    assert abs(fine[0.2]) < 2e-2 and abs(fine[0.5]) < 3e-3, fine
