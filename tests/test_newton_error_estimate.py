"""Newton stops on its own error estimate, and the iterate it stops at is that close to the solution.

With the contraction θ = ‖δ_k‖/‖δ_{k−1}‖ of two successive full Newton corrections, the iterate
after δ_k is within θ/(1 − θ)‖δ_k‖ of the solution (Hairer & Wanner, Solving ODEs II, §IV.8).
``[solver] newton_error_tol`` stops the solve there. Checked against the same steps solved with
the estimate switched off (residual and step tests only, which converge to round-off): the
estimate must save Newton iterations, and the two solutions must agree to the tolerance in the
solver's own scaled units (c / c_max, potentials / (RT/F)), computed here from the constants.
A stopping test that trusted the estimate too early leaves a larger difference: shown by the
second test, which stops after the first correction and must fail the same comparison; one
that never fires saves nothing.
"""

from __future__ import annotations

import numpy as np
from builders import electro_params, solver_settings
from layered import layered_box

from fem_electrode.fem.fenicsx import MPI
from fem_electrode.fem.newton import BlockedNewton
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem

LENGTHS = (6e-6, 6e-6, 12e-6)  # m: NZSP below z = 6 µm, NVP above
N = (6, 6, 12)
TOL = 1e-6  #: newton_error_tol (scaled units)
R_GAS, FARADAY_C = 8.314462618, 96485.33212  # J/(mol K), C/mol (CODATA)
DTS = (20.0, 60.0, 180.0, 360.0)  # s: growing steps of a 1 C charge (620 s of 3600)


def _run(comm, tol: float) -> tuple[list[list[np.ndarray]], list[int], float, float, list[str]]:
    """States (owned + ghost arrays of the unknowns) after each step, Newton iterations per step,
    c_max and the temperature of the parameters, the Newton stop reasons."""
    domain = layered_box(comm, LENGTHS, N, z_interface=LENGTHS[2] / 2)
    params = electro_params(D=1e-13, initial_y=0.95)
    # plain Newton: the estimate is checked on pairs of Newton corrections (with a kept Jacobian
    # it is trusted on pairs of chord corrections only; tests/test_jacobian_reuse.py)
    settings = solver_settings("direct", newton_error_tol=tol, jacobian_reuse=0.0)
    prob = ElectrochemistryProblem(domain, params, settings, c_rate=1.0)
    states, iterations, reasons = [], [], []
    try:
        prob.initialise(params.initial_y)
        prob.set_galvanostatic(prob.current_1c)
        assert prob.settle_potentials().converged
        prob.accept()
        for dt in DTS:
            result = prob.solve(dt)
            assert result.converged, (dt, result)
            iterations.append(result.iterations)
            reasons.append(result.reason)
            states.append([u.x.array.copy() for u in prob.unknowns] + [np.array([float(prob.phi_ref.value)])])
            prob.accept()
    finally:
        prob.close()
    return states, iterations, params.c_max, params.kinetics.temperature, reasons


def _worst(comm, exact, early, c_max: float, temperature: float) -> float:
    """Largest difference of the two runs' states in the solver's scaled units."""
    v_ref = R_GAS * temperature / FARADAY_C  # V
    worst = 0.0
    for a, b in zip(exact, early, strict=True):
        d_phi_e, d_c = np.abs(a[0] - b[0]), np.abs(a[1] - b[1])
        # φ_s is stored as a deviation from φ_ref (the solver moves its mean into φ_ref): compare φ_s + φ_ref
        d_phi_s = np.abs((a[2] + a[3][0]) - (b[2] + b[3][0]))
        worst = max(worst, d_phi_e.max(initial=0.0) / v_ref, d_c.max(initial=0.0) / c_max,
                    d_phi_s.max(initial=0.0) / v_ref)
    return comm.allreduce(worst, op=MPI.MAX)


def test_newton_stops_on_its_error_estimate_within_the_tolerance():
    comm = MPI.COMM_WORLD
    exact, its_exact, c_max, temperature, reasons_exact = _run(comm, 0.0)
    early, its_early, _, _, reasons = _run(comm, TOL)
    worst = _worst(comm, exact, early, c_max, temperature)
    assert worst <= TOL, worst  # measured 8.5e-8
    assert sum(its_early) < sum(its_exact), (its_early, its_exact)
    assert all(e <= x for e, x in zip(its_early, its_exact, strict=True)), (its_early, its_exact)
    assert "CONVERGED_ERROR_ESTIMATE" in reasons and "CONVERGED_ERROR_ESTIMATE" not in reasons_exact


def test_the_comparison_catches_a_stop_one_correction_too_soon(monkeypatch):
    """Trusting the first correction alone (no contraction known yet) leaves the iterate about
    one quadratic step from the solution: the comparison above must see more than TOL."""
    comm = MPI.COMM_WORLD
    exact, _, c_max, temperature, _ = _run(comm, 0.0)
    monkeypatch.setattr(BlockedNewton, "_error_estimate", lambda self: 0.0 if self._corrections else np.inf)
    early, its_early, _, _, _ = _run(comm, TOL)
    assert max(its_early) == 1, its_early
    assert _worst(comm, exact, early, c_max, temperature) > TOL
