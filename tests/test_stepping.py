"""Error-controlled time steps (run.stepping), against closed forms written here.

Backward Euler's local error for x(t) = a t² (x'' = 2a) is exactly a dt²; the linear
predictor through the two previous exact states misses x(t + dt) by exactly a dt (dt + dt_prev).
These tests use unequal steps so that a wrong weight (e.g. dt/(dt + dt_prev)) fails.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpi4py import MPI

from fem_electrode.run.stepping import (
    LANDING_OVERSHOOT,
    MIN_FACTOR,
    SAFETY,
    ErrorController,
    LocalError,
    StateHistory,
    time_to_event,
)

A = 3.0e2  # x = A t²


def x_exact(t):
    return A * t * t


def backward_euler(x_n, t, dt):
    """One BE step of x' = 2 A t (exact right-hand side at the new time)."""
    return x_n + dt * 2.0 * A * (t + dt)


def history_on_quadratic(t, dt_prev, c_max=1.0e4, n=5):
    """A StateHistory holding x(t − dt_prev) and x(t) as the concentration (n nodes, the
    largest one A t²), voltage V = 3.4 + 1e-3 x (V)."""
    h = StateHistory(MPI.COMM_SELF, 1, n, c_max)
    scale = np.linspace(0.2, 1.0, n)
    for time, dt in ((t - dt_prev, None), (t, dt_prev)):
        x = x_exact(time)
        h.push([np.zeros(n), x * scale, np.zeros(n)], 0.0, 3.4 + 1e-3 * x, dt)
    # the first state was a segment start (no step led to it): give it a voltage too
    h.states[0].voltage = 3.4 + 1e-3 * x_exact(t - dt_prev)
    return h, scale


@pytest.mark.parametrize(("dt", "dt_prev"), [(0.7, 0.3), (0.2, 0.9), (0.5, 0.5)])
def test_local_error_is_exact_for_a_quadratic(dt, dt_prev):
    t, c_max, tol_c, tol_v = 2.0, 1.0e4, 1e-3, 2e-4
    h, scale = history_on_quadratic(t, dt_prev, c_max)
    x_new = backward_euler(x_exact(t), t, dt)
    true_error = x_new - x_exact(t + dt)
    assert true_error == pytest.approx(A * dt * dt, rel=1e-12)  # the closed form itself
    err = h.local_error(dt, x_new * scale, 3.4 + 1e-3 * x_new, tol_c, tol_v)
    assert err.concentration == pytest.approx(A * dt * dt / (tol_c * c_max), rel=1e-9)
    assert err.voltage == pytest.approx(1e-3 * A * dt * dt / tol_v, rel=1e-9)
    assert err.value == max(err.concentration, err.voltage)


def test_steep_voltage_tolerance_adds_a_time_shift():
    """tol_t: the voltage error is judged against tol_v + tol_t |ΔV/dt|."""
    t, dt, dt_prev, tol_v, tol_t = 2.0, 0.4, 0.6, 2e-4, 0.5
    h, scale = history_on_quadratic(t, dt_prev)
    x_new = backward_euler(x_exact(t), t, dt)
    v_new, v_old = 3.4 + 1e-3 * x_new, 3.4 + 1e-3 * x_exact(t)
    err = h.local_error(dt, x_new * scale, v_new, 1.0, tol_v, tol_t)
    expected = 1e-3 * A * dt * dt / (tol_v + tol_t * abs(v_new - v_old) / dt)
    assert err.voltage == pytest.approx(expected, rel=1e-9)


def test_no_error_without_two_states_and_no_voltage_error_across_a_switch():
    h = StateHistory(MPI.COMM_SELF, 1, 3, 1.0)
    assert not h.local_error(1.0, np.zeros(3), 3.0, 1e-3, 1e-3).known
    h.push([np.zeros(3)] * 3, 0.0, None, None)  # segment start: its voltage belongs to the old current
    h.push([np.zeros(3), np.full(3, 0.1), np.zeros(3)], 0.0, 3.5, 2.0)
    err = h.local_error(1.0, np.full(3, 0.2), 3.6, 1e-3, 1e-3)
    assert err.voltage is None
    # c is continuous across the switch: predictor 0.1 + (1/2)(0.1 − 0) = 0.15, corrector 0.2,
    # weight dt/(2 dt + dt_prev) = 1/4: e = 0.0125 = 12.5 × (tol 1e-3 × c_max 1)
    assert err.concentration == pytest.approx(12.5, rel=1e-12)
    assert not h.can_start_newton  # the predictor through a switch is not a Newton start
    assert h.time_to_cutoff(3.8) is None


def test_predictor_is_linear_and_keeps_c_inside_its_range():
    h = StateHistory(MPI.COMM_SELF, 1, 3, 1.0)
    h.push([np.array([1.0, 2.0]), np.array([0.50, 0.05, 0.97]), np.zeros(1)], 3.0, 3.40, 5.0)
    h.push([np.array([2.0, 2.0]), np.array([0.60, 0.02, 0.99]), np.zeros(1)], 3.2, 3.42, 2.0)
    arrays, phi_ref = h.predicted(3.0)  # 1.5 × the last step
    assert arrays[0] == pytest.approx([3.5, 2.0])
    assert phi_ref == pytest.approx(3.5)
    # c: 0.75 inside; 0.02 − 0.045 < 0 and 0.99 + 0.03 > 1 keep their last values
    assert arrays[1] == pytest.approx([0.75, 0.02, 0.99])
    assert h.can_start_newton


def cubic(t):
    """A cubic in t (the quadratic extrapolation misses it by exactly its x‴ term)."""
    return 1.0 + 2.0 * t - 0.7 * t * t + 0.05 * t**3


def test_newton_start_is_the_quadratic_extrapolation_through_three_states():
    """Three in-segment states at unequal steps (t = 1, 1.4, 2.2): the quadratic through them
    at t = 3.1 is written here as a Newton divided difference; the cubic's x‴ term then
    misses by exactly 0.05 (t − 1)(t − 1.4)(t − 2.2) at t = 3.1 (a linear or a wrongly
    weighted predictor is far off)."""
    times, dt = (1.0, 1.4, 2.2), 0.9
    h = StateHistory(MPI.COMM_SELF, 1, 1, 100.0)
    h.push([np.array([0.0]), np.array([cubic(0.5)]), np.zeros(1)], 0.0, 3.3, None)  # segment start
    prev = 0.5
    for t in times:
        h.push([np.array([cubic(t)]), np.array([cubic(t)]), np.zeros(1)], cubic(t), 3.3, t - prev)
        prev = t
    assert h.quadratic and h.can_start_newton
    t0, t1, t2 = times
    f01 = (cubic(t1) - cubic(t0)) / (t1 - t0)
    f12 = (cubic(t2) - cubic(t1)) / (t2 - t1)
    f012 = (f12 - f01) / (t2 - t0)
    t = t2 + dt
    expected = cubic(t0) + f01 * (t - t0) + f012 * (t - t0) * (t - t1)
    assert expected == pytest.approx(cubic(t) - 0.05 * (t - t0) * (t - t1) * (t - t2), rel=1e-12)
    arrays, phi_ref = h.predicted(dt)
    assert arrays[0][0] == pytest.approx(expected, rel=1e-12)
    assert arrays[1][0] == pytest.approx(expected, rel=1e-12)
    assert phi_ref == pytest.approx(expected, rel=1e-12)
    # the local error still comes from the linear predictor through the last two states
    x_new = 3.0
    lin = cubic(t2) + dt / (t2 - t1) * (cubic(t2) - cubic(t1))
    w = dt / (2 * dt + (t2 - t1))
    err = h.local_error(dt, np.array([x_new]), 3.3, 1e-3, 1.0)
    assert err.concentration == pytest.approx(w * abs(x_new - lin) / (1e-3 * 100.0), rel=1e-12)


def test_quadratic_start_needs_three_states_after_the_segment_start_and_keeps_c_in_range():
    h = StateHistory(MPI.COMM_SELF, 1, 3, 1.0)
    h.push([np.zeros(2), np.array([0.50, 0.10, 0.88]), np.zeros(1)], 0.0, None, None)  # segment start
    h.push([np.zeros(2), np.array([0.52, 0.06, 0.90]), np.zeros(1)], 0.0, 3.40, 1.0)
    h.push([np.zeros(2), np.array([0.56, 0.03, 0.91]), np.zeros(1)], 0.0, 3.41, 1.0)
    assert not h.quadratic and h.can_start_newton  # the oldest is the start state: linear
    arrays, _ = h.predicted(1.0)
    # linear: 0.60 inside; 0.03 − 0.03 = 0 is not inside (0, 1): the last value; 0.92
    assert arrays[1] == pytest.approx([0.60, 0.03, 0.92])
    h.push([np.zeros(2), np.array([0.62, 0.01, 0.95]), np.zeros(1)], 0.0, 3.42, 1.0)
    assert h.quadratic
    arrays, _ = h.predicted(1.0)
    # equal steps: quadratic 3 x_n − 3 x_{n−1} + x_{n−2}, linear 2 x_n − x_{n−1}
    # node 0: quadratic 1.86 − 1.68 + 0.52 = 0.70;
    # node 1: quadratic 0.03 − 0.09 + 0.06 = 0 and linear 0.02 − 0.03 < 0: the last value 0.01;
    # node 2: quadratic 2.85 − 2.73 + 0.90 = 1.02 > 1: the linear 1.90 − 0.91 = 0.99
    assert arrays[1] == pytest.approx([0.70, 0.01, 0.99])


def test_controller_accepts_rejects_and_scales_as_first_order():
    ctl = ErrorController(dt=10.0, dt_min=0.1, dt_max=1000.0, growth=3.0, shrink=0.5)
    # rejected: err 4 → dt × SAFETY/2
    assert not ctl.judge(10.0, LocalError(4.0, None))
    assert ctl.dt == pytest.approx(10.0 * SAFETY / 2.0)
    # a huge error shrinks by no more than MIN_FACTOR per judgement
    assert not ctl.judge(10.0, LocalError(1e6, 0.1))
    assert ctl.dt == pytest.approx(10.0 * MIN_FACTOR)
    # accepted: err 0.25 → dt × SAFETY/0.5 (below the growth limit)
    ctl = ErrorController(dt=10.0, dt_min=0.1, dt_max=1000.0, growth=3.0, shrink=0.5)
    assert ctl.judge(10.0, LocalError(0.25, None))
    assert ctl.dt == pytest.approx(10.0 * SAFETY / 0.5)
    # a tiny error grows by at most `growth`, and never past dt_max
    ctl.dt = 10.0
    ctl.last_dt = ctl.last_err = None
    assert ctl.judge(10.0, LocalError(1e-12, None))
    assert ctl.dt == pytest.approx(30.0)
    ctl.dt = 900.0
    assert ctl.judge(900.0, LocalError(1e-12, None)) and ctl.dt == 1000.0
    # at dt_min a step is accepted whatever its error
    assert ctl.judge(0.1, LocalError(50.0, None))
    ctl.restart(5.0)
    assert ctl.dt == 5.0 and ctl.last_dt is None and ctl.last_err is None


def test_growth_must_exceed_one():
    with pytest.raises(ValueError, match="growth"):
        ErrorController(dt=1.0, dt_min=0.1, dt_max=10.0, growth=1.0, shrink=0.5)


def integrate_decay(tol, t_end=5.0, rate=1.0):
    """x' = −rate x, x(0) = 1, by backward Euler under the controller; returns (steps, rejected,
    largest local error, global error at t_end)."""
    ctl = ErrorController(dt=1e-3, dt_min=1e-9, dt_max=10.0, growth=2.0, shrink=0.5)
    h = StateHistory(MPI.COMM_SELF, 0, 1, 1.0)
    t, x = 0.0, 1.0
    h.push([np.array([x])], 0.0, None, None)
    steps = rejected = 0
    worst = 0.0
    while t < t_end * (1 - 1e-12):
        dt = ctl.propose(t_end - t)
        x_new = x / (1.0 + rate * dt)
        err = h.local_error(dt, np.array([x_new]), 0.0, tol, 1.0)
        exact_local = x_new - x * math.exp(-rate * dt)
        if not ctl.judge(dt, err, cut_short=dt < ctl.dt * (1 - 1e-12)):
            rejected += 1
            continue
        worst = max(worst, abs(exact_local) / tol)
        t, x = t + dt, x_new
        h.push([np.array([x])], 0.0, None, dt)
        steps += 1
    return steps, rejected, worst, abs(x - math.exp(-rate * t_end))


def test_controller_on_a_decay_keeps_the_local_error_and_needs_sqrt_more_steps():
    """First order: steps ∝ tol^(−1/2), so 16× tighter needs ≈ 4× the steps; the true local
    error stays near the tolerance; the global error falls ∝ tol^(1/2)."""
    coarse, fine = integrate_decay(1e-4), integrate_decay(1e-4 / 16)
    for _, rejected, worst, _ in (coarse, fine):
        assert worst < 1.5  # the estimate tracks the true local error
        assert rejected <= 2  # a smooth solution: (almost) no rejected steps
    ratio = fine[0] / coarse[0]
    assert 3.4 < ratio < 4.6, ratio
    assert 3.0 < coarse[3] / fine[3] < 5.0, (coarse[3], fine[3])


def test_event_location_aims_at_the_cutoff():
    # V = 3.70 + 0.01 t/s: 3.8 V is 10 s after t = 0 from the last two states (at −2 s and 0 s)
    assert time_to_event(3.70, 3.68, 2.0, 3.8) == pytest.approx(10.0)
    assert time_to_event(3.70, 3.72, 2.0, 3.8) is None  # moving away
    assert time_to_event(3.70, 3.70, 2.0, 3.8) is None  # flat
    ctl = ErrorController(dt=60.0, dt_min=0.1, dt_max=100.0, growth=2.0, shrink=0.5)
    assert ctl.propose(None, 10.0) == pytest.approx(10.0 * (1.0 + LANDING_OVERSHOOT))
    assert ctl.propose(None, 100.0) == 60.0  # far away: the controller's step
    assert ctl.propose(5.0, 10.0) == 5.0  # a timed segment ends first
    assert ctl.propose(None, 1e-6) == 0.1  # never below dt_min


@pytest.mark.parametrize(("key", "value"), [("tol_voltage", 0.0), ("tol_concentration", -1e-3),
                                            ("tol_capacity", -0.1), ("time_stepping", "bdf9"),
                                            ("dt_growth", 1.0)])
def test_bad_tolerances_are_rejected_before_any_work(key, value):
    from fem_electrode.config import ConfigError, validate

    with pytest.raises(ConfigError) as info:
        validate({"case": {"name": "x"}, "protocol": {key: value}})
    assert f"protocol.{key}" in str(info.value) and repr(value).strip("'") in str(info.value)


# ---- BDF2 (time_stepping = "bdf2") -----------------------------------------------------------------
def bdf2_weights(t_prev, t_n, t_new):
    """Weights of x_{n−1}, x_n, x_{n+1} in the derivative at t_new of the quadratic through the three
    points (Lagrange, written out here): BDF2 sets this derivative equal to x'(t_new)."""
    h2, dt = t_n - t_prev, t_new - t_n
    w_new = 1.0 / dt + 1.0 / (dt + h2)
    w_n = -(dt + h2) / (h2 * dt)
    w_prev = dt / (h2 * (dt + h2))
    return w_prev, w_n, w_new


@pytest.mark.parametrize(("h1", "h2", "dt"), [(0.5, 0.8, 1.3), (1.0, 1.0, 1.0), (0.9, 0.6, 0.35)])
def test_bdf2_step_and_its_error_estimate_are_exact_for_a_cubic(h1, h2, dt):
    """x' = t²/2 (x = t³/6, x‴ = 1) from exact states at unequal steps: the BDF2 step taken the
    package's way (backward Euler with dt/a0 from x̂) equals the Lagrange-derivative step written
    here, and its estimated local error (corrector − quadratic predictor, weighted) equals the
    true error x_{n+1} − x(t_{n+1}) exactly (a cubic has no higher derivative)."""
    t0 = 2.0
    t1, t2 = t0 + h1, t0 + h1 + h2
    t3 = t2 + dt
    x = lambda t: t**3 / 6.0  # noqa: E731
    w_prev, w_n, w_new = bdf2_weights(t1, t2, t3)
    x_lagrange = (t3**2 / 2.0 - w_n * x(t2) - w_prev * x(t1)) / w_new
    c_max, tol_c = 100.0, 1e-3
    h = StateHistory(MPI.COMM_SELF, 0, 1, c_max)
    h.push([np.array([x(t0 - 0.4)])], 0.0, None, None)  # the segment's start (pushed out below)
    for t, step in ((t0, 0.4), (t1, h1), (t2, h2)):
        h.push([np.array([x(t)])], 0.0, 3.0 + x(t), step)
    assert h.bdf2_ready(dt)
    x_hat, a0, _ = h.bdf2_old_state(dt)
    x_step = x_hat[0] + dt / a0 * t3**2 / 2.0  # backward Euler with dt/a0 from x̂
    assert x_step == pytest.approx(x_lagrange, rel=1e-13)
    true_error = x_step - x(t3)
    err = h.local_error(dt, np.array([x_step]), 3.0 + x_step, tol_c, 1.0, order=2)
    assert err.concentration == pytest.approx(abs(true_error) / (tol_c * c_max), rel=1e-9)
    assert err.voltage == pytest.approx(abs(true_error), rel=1e-9)
    # for equal steps the error is 2 dt³ x‴ / 9 (the textbook constant)
    if h1 == h2 == dt:
        assert true_error == pytest.approx(2.0 / 9.0 * dt**3, rel=1e-12)


def test_bdf2_needs_three_states_after_the_segment_start_and_a_bounded_ratio():
    h = StateHistory(MPI.COMM_SELF, 0, 1, 1.0)
    h.push([np.array([0.1])], 0.0, None, None)  # segment start: its voltage is the old current's
    h.push([np.array([0.2])], 0.0, 3.4, 1.0)
    assert not h.bdf2_ready(1.0)  # two states: backward Euler
    h.push([np.array([0.3])], 0.0, 3.5, 1.0)
    assert not h.bdf2_ready(1.0)  # the start state would leave the voltage error unknown
    h.push([np.array([0.4])], 0.0, 3.6, 1.0)
    assert h.bdf2_ready(2.4) and not h.bdf2_ready(2.5)  # zero-stability: ratio <= 2.4
    # equal steps: quadratic predictor 3(3.6) − 3(3.5) + 3.4 = 3.7, weight (2/9)/(2/9 + 1) = 2/11
    err = h.local_error(1.0, np.array([0.5]), 3.75, 1e-3, 1e-3, order=2)
    assert err.voltage == pytest.approx(2.0 / 11.0 * 0.05 / 1e-3, rel=1e-9)


def integrate_decay_bdf2(tol, t_end=5.0):
    """x' = −x, x(0) = 1, under the controller with BDF2 from the third state on (as a run does):
    returns (steps, rejected, global error at t_end)."""
    ctl = ErrorController(dt=1e-3, dt_min=1e-9, dt_max=10.0, growth=2.0, shrink=0.5)
    h = StateHistory(MPI.COMM_SELF, 0, 1, 1.0)
    t, x = 0.0, 1.0
    h.push([np.array([x])], 0.0, None, None)
    steps = rejected = 0
    while t < t_end * (1 - 1e-12):
        dt = ctl.propose(t_end - t)
        if h.bdf2_ready(dt):
            x_hat, a0, _ = h.bdf2_old_state(dt)
            x_new, order = x_hat[0] / (1.0 + dt / a0), 2
        else:
            x_new, order = x / (1.0 + dt), 1
        err = h.local_error(dt, np.array([x_new]), 0.0, tol, 1.0, order=order)
        if not ctl.judge(dt, err, cut_short=dt < ctl.dt * (1 - 1e-12), order=order):
            rejected += 1
            continue
        t, x = t + dt, x_new
        h.push([np.array([x])], 0.0, None, dt)
        steps += 1
    return steps, rejected, abs(x - math.exp(-t_end))


def test_bdf2_controller_needs_cube_root_more_steps_and_is_second_order():
    """Second order: steps ∝ tol^(−1/3), so 64× tighter needs ≈ 4× the steps (backward Euler
    would need 8×), and the global error falls ∝ tol^(2/3) (16×)."""
    coarse, fine = integrate_decay_bdf2(1e-4), integrate_decay_bdf2(1e-4 / 64)
    assert coarse[1] <= 2 and fine[1] <= 2
    ratio = fine[0] / coarse[0]
    assert 3.2 < ratio < 5.0, ratio
    assert 10.0 < coarse[2] / fine[2] < 26.0, (coarse[2], fine[2])
    # and fewer steps than backward Euler at the same tolerance
    assert coarse[0] < 0.5 * integrate_decay(1e-4)[0]
