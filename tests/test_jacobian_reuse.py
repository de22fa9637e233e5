"""Newton keeps its Jacobian while the corrections contract (``[solver] jacobian_reuse``).

The same growing steps of a 1 C charge on a layered NZSP | NVP box, each started from the linear
predictor through the last two states (as a run starts them), solved with plain Newton
(``jacobian_reuse = 0``: one Jacobian per iteration) and with reuse:

- the states agree in the solver's scaled units (c / c_max, potentials / (RT/F), computed here
  from the constants) to 1e-8: both stop on the same residual and correction tests;
- reuse assembles fewer Jacobians than it takes iterations (chord steps), plain Newton one per
  iteration (the counter counts assemblies, so a reuse that never happened fails here); with
  the direct solver PETSc's own count of numeric LU factorizations (its log) equals the
  Jacobians, with the iterative one three times the Jacobians (GAMG's coarsest level of each
  field's block): a kept Jacobian keeps its factorization or preconditioner, a new one gets its own;
- a threshold no chord step meets (1e-12) rebuilds the Jacobian after the first chord step of
  each solve: exactly iterations − 1 Jacobians per solve of two or more iterations, which
  catches a rebuild test that never fires or fires too late.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from builders import electro_params, solver_settings
from layered import layered_box
from test_newton_error_estimate import _worst  # states compared in the solver's scaled units

from fem_electrode.fem.fenicsx import MPI, PETSc
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem

LENGTHS = (6e-6, 6e-6, 12e-6)  # m: NZSP below z = 6 µm, NVP above
N = (6, 6, 12)
DTS = (20.0, 40.0, 80.0, 120.0, 180.0)  # s: growing steps of a 1 C charge


def _factorizations() -> int:
    """Numeric LU factorizations so far (PETSc's event log, switched on here)."""
    PETSc.Log.begin()
    return int(PETSc.Log.Event("MatLUFactorNum").getPerfInfo()["count"])


def _run(comm, linear: str, reuse: float):
    """States after each step, Newton iterations and Jacobians assembled per step, c_max, T."""
    domain = layered_box(comm, LENGTHS, N, z_interface=LENGTHS[2] / 2)
    params = electro_params(D=1e-13, initial_y=0.95)
    # a run uses the reuse with the direct solver only (run.setup); Newton supports it with both
    settings = dataclasses.replace(solver_settings(linear), jacobian_reuse=reuse)
    prob = ElectrochemistryProblem(domain, params, settings, c_rate=1.0)
    states, iterations, jacobians, factorizations = [], [], [], []
    try:
        prob.initialise(params.initial_y)
        prob.set_galvanostatic(prob.current_1c)
        assert prob.settle_potentials().converged
        prob.accept()
        history = []  # (time, arrays) of accepted states after the first step
        t = 0.0
        for dt in DTS:
            if len(history) == 2:  # the linear predictor as Newton's first iterate
                (t0, a0), (t1, a1) = history
                for u, x0, x1 in zip(prob.unknowns, a0, a1, strict=True):
                    u.x.array[:] = x1 + (t + dt - t1) / (t1 - t0) * (x1 - x0)
            before, lu_before = prob.newton.jacobians, _factorizations()
            result = prob.solve(dt)
            assert result.converged, (dt, result)
            iterations.append(result.iterations)
            jacobians.append(prob.newton.jacobians - before)
            factorizations.append(_factorizations() - lu_before)
            t += dt
            arrays = [u.x.array.copy() for u in prob.unknowns]
            states.append(arrays + [np.array([float(prob.phi_ref.value)])])
            history = [*history[-1:], (t, arrays)]
            prob.accept()
    finally:
        prob.close()
    return states, iterations, jacobians, factorizations, params.c_max, params.kinetics.temperature


@pytest.mark.parametrize("linear", ["direct", "iterative"])
def test_reused_jacobian_reaches_the_same_state_with_fewer_assemblies(linear):
    comm = MPI.COMM_WORLD
    plain, its_plain, jac_plain, lu_plain, c_max, temperature = _run(comm, linear, 0.0)
    kept, its_kept, jac_kept, lu_kept, _, _ = _run(comm, linear, 0.1)
    assert jac_plain == its_plain  # plain Newton: one Jacobian per iteration
    # direct: one LU of the whole matrix per Jacobian; iterative: GAMG factorizes its coarsest
    # level once per block (three fields) at each set-up
    per_jacobian = 1 if linear == "direct" else 3
    assert lu_plain == [per_jacobian * j for j in jac_plain], (lu_plain, jac_plain)
    assert lu_kept == [per_jacobian * j for j in jac_kept], (lu_kept, jac_kept)
    assert _worst(comm, plain, kept, c_max, temperature) <= 1e-8
    assert sum(jac_kept) < sum(its_kept), (jac_kept, its_kept)
    assert sum(jac_kept) < sum(jac_plain), (jac_kept, jac_plain)
    assert all(j >= 1 for j in jac_kept)  # every solve starts from a fresh Jacobian


def test_slow_contraction_rebuilds_after_the_first_chord_step():
    comm = MPI.COMM_WORLD
    _, its, jac, _, _, _ = _run(comm, "direct", 1e-12)
    expected = [n - 1 if n >= 2 else n for n in its]
    assert jac == expected, (jac, its)


def test_a_failed_solve_with_chord_steps_makes_the_retry_plain_newton():
    """Newton limited to 3 iterations: with a kept Jacobian the first step needs more (chord
    steps converge linearly) and fails; the retry of the same step is plain Newton (a Jacobian
    per iteration) and converges in 3; the step after it keeps its Jacobian again."""
    comm = MPI.COMM_WORLD
    domain = layered_box(comm, LENGTHS, N, z_interface=LENGTHS[2] / 2)
    params = electro_params(D=1e-13, initial_y=0.95)
    prob = ElectrochemistryProblem(domain, params, solver_settings("direct", jacobian_reuse=0.1), c_rate=1.0)
    try:
        prob.initialise(params.initial_y)
        prob.set_galvanostatic(prob.current_1c)
        assert prob.settle_potentials().converged
        prob.accept()
        prob.newton.snes.setTolerances(max_it=3)
        failed = prob.solve(20.0)
        assert not failed.converged and failed.jacobians < failed.iterations, failed
        retry = prob.solve(20.0)  # the state was restored: the same step again
        assert retry.converged and retry.jacobians == retry.iterations, retry
        prob.accept()
        after = prob.solve(1.0)  # a short step converges with chord steps within 3 iterations
        assert after.converged and after.jacobians < after.iterations, after
    finally:
        prob.close()
