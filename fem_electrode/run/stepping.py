"""Error-controlled time steps and cut-off event location.

Backward Euler is first order: its local error over a step dt is x_{n+1} − x(t + dt) =
(dt²/2) x''. A linear predictor through the two previous accepted states,
x_p = x_n + (dt/dt_prev)(x_n − x_{n−1}), has the error −(dt (dt + dt_prev)/2) x'', so the
converged step and the predictor give the local error of the step for free (Milne's device at
order 1; Hairer & Wanner, Solving ODEs II, §IV.8):

    e ≈ dt / (2 dt + dt_prev) · (x_{n+1} − x_p)

(exact when x is quadratic in t; 1/3 of the difference for equal steps).

It is measured on the NVP concentration (largest nodal value, relative to c_max) and on the
cell voltage, against ``tol_concentration`` and ``tol_voltage`` (case keys):
err = max(|e_c| / tol_c, |e_V| / tol_V). A step with err ≤ 1 is accepted; a larger one is
rejected and retried shorter. The next step is dt · clip(SAFETY / √err, MIN_FACTOR, growth)
(the error of a first-order step scales as dt²). Newton starts from the quadratic extrapolation
through the last three states (the linear predictor while there are two; :class:`StateHistory`).

History starts afresh at every protocol segment (the current switches: x' jumps). The
voltage also jumps at the switch, so its error is used from the third step of a segment on,
the concentration's (continuous) from the second.

BDF2 (``time_stepping = "bdf2"``): from the fourth state of a segment on (three states after its
start, so that the voltage's error is known too), the step is the
variable-step second-order backward differentiation formula, (a0 x_{n+1} − a1 x_n + a2 x_{n−1})/dt
= f(x_{n+1}) with ω = dt/dt_prev, a0 = (1 + 2ω)/(1 + ω), a1 = 1 + ω, a2 = ω²/(1 + ω). It is
backward Euler with the step dt/a0 from the old state x̂ = (a1 x_n − a2 x_{n−1})/a0, so the
problem's forms are unchanged. Its local error is E x‴ with E = −(a1 dt³ − a2 (dt + dt_prev)³)/(6 a0)
(2 dt³/9 for equal steps); the quadratic predictor through the last three states misses by
−P x‴, P = dt (dt + dt_prev)(dt + dt_prev + dt_prev2)/6, so the error is E/(E + P) × (corrector −
quadratic predictor), and the next step scales with err^(−1/3), never more than
:data:`BDF2_MAX_RATIO` × the last one (zero-stability; a longer step, e.g. a cut-off landing
proposed by the backward-Euler rule, is backward Euler with the linear estimate above, as are
the first three steps of a segment).

Event location: in a galvanostatic segment the cut-off is a root of V(t) − V_cut. With the
voltage slope of the last step, a step that would cross it is shortened to land on it; the
local-error control keeps the curvature term V'' dt²/2 of that landing near ``tol_voltage``,
so landings overshoot by about that (a larger overshoot is still retried by the secant rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fem_electrode.fem.fenicsx import MPI
from fem_electrode.run.protocol import StepController, within

#: Step factor applied to the optimal step (headroom so that the next step is rarely rejected).
SAFETY = 0.9
#: Smallest factor by which one error judgement shrinks the step.
MIN_FACTOR = 0.2
#: Largest step ratio dt/dt_prev taken by BDF2 (variable-step BDF2 is zero-stable below 1 + √2);
#: a step with a larger ratio is a backward-Euler step.
BDF2_MAX_RATIO = 2.4
#: A landing step is aimed this fraction past the predicted crossing (so that it ends the
#: segment instead of stopping just short of the cut-off).
LANDING_OVERSHOOT = 0.02


@dataclass
class LocalError:
    """The local error estimate of one step, relative to its tolerances (1 = at tolerance)."""

    concentration: float | None  #: max |e_c| / (tol_c c_max)
    voltage: float | None  #: |e_V| / tol_V

    @property
    def value(self) -> float:
        """The larger of the two (0 when neither is known)."""
        return max((e for e in (self.concentration, self.voltage) if e is not None), default=0.0)

    @property
    def known(self) -> bool:
        return self.concentration is not None or self.voltage is not None


def error_weight(dt: float, dt_prev: float) -> float:
    """dt / (2 dt + dt_prev): local error = weight × (corrector − linear predictor)."""
    return dt / (2.0 * dt + dt_prev)


def predict(x_n: Any, x_prev: Any, dt: float, dt_prev: float) -> Any:
    """Linear extrapolation through (t − dt_prev, x_prev) and (t, x_n) to t + dt (numbers or arrays)."""
    return x_n + (dt / dt_prev) * (x_n - x_prev)


def bdf2_coefficients(dt: float, dt_prev: float) -> tuple[float, float, float]:
    """(a0, a1, a2) of variable-step BDF2: (a0 x_{n+1} − a1 x_n + a2 x_{n−1}) / dt = x'(t_{n+1})."""
    w = dt / dt_prev
    return (1.0 + 2.0 * w) / (1.0 + w), 1.0 + w, w * w / (1.0 + w)


def bdf2_error_weight(dt: float, dt_prev: float, dt_prev2: float) -> float:
    """E/(E + P): a BDF2 step's local error = weight × (corrector − quadratic predictor)."""
    a0, a1, a2 = bdf2_coefficients(dt, dt_prev)
    e = -(a1 * dt**3 - a2 * (dt + dt_prev) ** 3) / (6.0 * a0)
    p = dt * (dt + dt_prev) * (dt + dt_prev + dt_prev2) / 6.0
    return e / (e + p)


def predict_quadratic(x_n: Any, x_prev: Any, x_prev2: Any, dt: float, dt_prev: float, dt_prev2: float) -> Any:
    """Quadratic (Lagrange) extrapolation through (t − dt_prev − dt_prev2, x_prev2),
    (t − dt_prev, x_prev) and (t, x_n) to t + dt (numbers or arrays)."""
    h1, h2 = dt_prev2, dt_prev
    w2 = dt * (dt + h2) / (h1 * (h1 + h2))
    w1 = -dt * (dt + h1 + h2) / (h1 * h2)
    w0 = (dt + h1 + h2) * (dt + h2) / ((h1 + h2) * h2)
    return w0 * x_n + w1 * x_prev + w2 * x_prev2


@dataclass
class ErrorController(StepController):
    """Step size (s) from local error estimates, bounded by [dt_min, dt_max]; ``growth`` is the
    largest factor between two steps, ``shrink`` the factor after a failed Newton solve.
    Failures and cut-off landings are handled as by :class:`StepController`."""

    #: the last accepted step of the segment and its relative error (predictive control)
    last_dt: float | None = None
    last_err: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.growth > 1.0:
            raise ValueError(f"need growth > 1 for error-controlled steps, got {self.growth}")

    def propose(self, remaining: float | None = None, to_event: float | None = None) -> float:
        """The step to try: never past ``remaining`` (s to the end of a timed segment; no sliver
        shorter than dt_min left before it), and aimed at a predicted cut-off ``to_event`` (s)."""
        dt = self.dt
        if to_event is not None and 0.0 < to_event * (1.0 + LANDING_OVERSHOOT) < dt:
            dt = max(to_event * (1.0 + LANDING_OVERSHOOT), self.dt_min)
        return within(dt, remaining, self.dt_min)

    def factor(self, err: float, order: int = 1) -> float:
        """The step factor for a relative error ``err`` of a step of ``order`` (error ∝ dt^(order+1))."""
        if err <= 0.0:
            return self.growth
        return min(max(SAFETY / err ** (1.0 / (order + 1)), MIN_FACTOR), self.growth)

    def predictive_factor(self, dt: float, err: float, order: int = 1) -> float | None:
        """Gustafsson's predictive factor (dt/dt_prev) (err_prev/err)^(1/(k+1)) × SAFETY/err^(1/(k+1))
        for order k: it anticipates an error that grows from step to step (Hairer & Wanner,
        Solving ODEs II, eq. IV.8.21), where the plain factor would have the next step rejected."""
        if self.last_dt is None or self.last_err is None or err <= 0.0 or self.last_err <= 0.0:
            return None
        k = 1.0 / (order + 1)
        return (dt / self.last_dt) * (self.last_err / err) ** k * SAFETY / err**k

    def judge(self, dt_taken: float, error: LocalError, cut_short: bool = False, order: int = 1) -> bool:
        """After a converged step of ``dt_taken`` (a method of ``order``): True to accept it;
        sets the next step. ``cut_short``: the step was shortened by a segment end or a cut-off
        landing (the controller's own step is then kept when the error allows). A step at dt_min
        is accepted whatever its error (nothing shorter may be tried)."""
        err = error.value
        if err > 1.0 and dt_taken > self.dt_min * (1.0 + 1e-9):
            self.dt = max(dt_taken * self.factor(err, order), self.dt_min)
            return False
        base = max(self.dt, dt_taken) if cut_short else dt_taken
        grow = self.growth
        if error.known:
            grow = self.factor(err, order)
            predictive = None if cut_short else self.predictive_factor(dt_taken, err, order)
            if predictive is not None:
                grow = min(grow, max(predictive, MIN_FACTOR))
            self.last_dt, self.last_err = dt_taken, err
        self.dt = min(max(base * grow, self.dt_min), self.dt_max)
        return True

    def restart(self, dt: float) -> None:
        """A new protocol segment: step ``dt``, no error history."""
        self.dt = min(max(dt, self.dt_min), self.dt_max)
        self.last_dt = self.last_err = None


def time_to_event(v_n: float, v_prev: float, dt_prev: float, target: float) -> float | None:
    """Seconds until the voltage, extrapolated linearly from its last step, reaches ``target``;
    None when it is not moving towards it."""
    slope = (v_n - v_prev) / dt_prev if dt_prev > 0.0 else 0.0
    if slope == 0.0:
        return None
    t = (target - v_n) / slope
    return t if t > 0.0 else None


@dataclass
class Accepted:
    """One accepted state of the current segment: the unknowns' arrays (with ghosts), φ_ref (V),
    the cell voltage (None where it belongs to another current, at a segment start) and the step
    that led to it (None for the segment's start state)."""

    arrays: list[np.ndarray]
    phi_ref: float
    voltage: float | None
    dt: float | None


class StateHistory:
    """The last three accepted states of the running segment: the predictors of the next step
    and the local error of a converged one.

    The local error (and the cut-off's time) use the linear predictor through the last two
    states (Milne's device, above). Newton's first iterate is the quadratic extrapolation
    through the last three where all three lie inside the segment after its start state: the
    backward-Euler states are a smooth sequence, so it misses the next one by O(dt³ x‴) instead
    of the linear predictor's O(dt² x″), which saves Newton iterations, not accuracy (Newton
    converges to the same state from either).

    ``arrays`` are the problem's unknowns in its field order (as
    :attr:`ElectrochemistryProblem.unknowns`: φ_e, c, φ_s), ``c_index`` the position of c, ``n_owned_c``
    its owned dofs; ``c_max`` scales the concentration error.
    """

    #: accepted states kept
    DEPTH = 3

    def __init__(self, comm: Any, c_index: int, n_owned_c: int, c_max: float):
        self.comm = comm
        self.c_index = c_index
        self.n_owned_c = n_owned_c
        self.c_max = c_max
        self.states: list[Accepted] = []

    def clear(self) -> None:
        self.states = []

    def push(self, arrays: Sequence[np.ndarray], phi_ref: float, voltage: float | None,
             dt: float | None) -> None:
        kept = self.states[1 - self.DEPTH:]
        self.states = [*kept, Accepted([a.copy() for a in arrays], phi_ref, voltage, dt)]

    @property
    def can_predict(self) -> bool:
        return len(self.states) >= 2

    @property
    def can_start_newton(self) -> bool:
        """Whether the predictor is a good first Newton iterate: not from a segment's start state
        (its potentials belong to the instant of the switch, the first step's transient would be
        extrapolated)."""
        return self.can_predict and self.states[-2].dt is not None

    @property
    def quadratic(self) -> bool:
        """Whether Newton's first iterate is the quadratic extrapolation (three states, none
        of them the segment's start state)."""
        return len(self.states) == 3 and self.states[0].dt is not None

    def predicted(self, dt: float) -> tuple[list[np.ndarray], float]:
        """Newton's first iterate for a step of ``dt``: every unknown and φ_ref at t + dt,
        extrapolated quadratically (:attr:`quadratic`) or else linearly. Where the quadratic
        extrapolation would take c out of (0, c_max) the linear one is used, and where that
        would too (an emptied or filled surface, where U and i₀ are flat) c keeps its last value."""
        old, new = self.states[-2:]
        prev_dt = new.dt
        assert prev_dt is not None
        linear = [predict(b, a, dt, prev_dt) for a, b in zip(old.arrays, new.arrays, strict=True)]
        phi_ref = predict(new.phi_ref, old.phi_ref, dt, prev_dt)
        arrays = linear
        if self.quadratic:
            oldest = self.states[0]
            assert old.dt is not None
            arrays = [predict_quadratic(b, a, z, dt, prev_dt, old.dt)
                      for z, a, b in zip(oldest.arrays, old.arrays, new.arrays, strict=True)]
            phi_ref = predict_quadratic(new.phi_ref, old.phi_ref, oldest.phi_ref, dt, prev_dt, old.dt)
        c, c_lin, last = arrays[self.c_index], linear[self.c_index], new.arrays[self.c_index]
        outside = (c <= 0.0) | (c >= self.c_max)
        c[outside] = c_lin[outside]
        outside = (c <= 0.0) | (c >= self.c_max)
        c[outside] = last[outside]
        return arrays, phi_ref

    def bdf2_ready(self, dt: float) -> bool:
        """Whether a step of ``dt`` may be BDF2: three states after the segment's start (their
        voltages belong to its current, so the voltage error is known) and a step ratio
        dt/dt_prev of at most :data:`BDF2_MAX_RATIO`."""
        if not self.quadratic:
            return False
        last_dt = self.states[-1].dt
        assert last_dt is not None
        return dt <= BDF2_MAX_RATIO * last_dt

    def bdf2_old_state(self, dt: float) -> tuple[np.ndarray, float, float]:
        """The old concentration x̂ = (a1 c_n − a2 c_{n−1})/a0 (with ghosts) of a BDF2 step of
        ``dt``, and a0, a2: the step is backward Euler with dt/a0 from x̂."""
        prev, last = self.states[-2:]
        assert last.dt is not None
        a0, a1, a2 = bdf2_coefficients(dt, last.dt)
        c_n, c_prev = last.arrays[self.c_index], prev.arrays[self.c_index]
        return (a1 * c_n - a2 * c_prev) / a0, a0, a2

    def local_error(self, dt: float, c: np.ndarray, voltage: float, tol_c: float, tol_v: float,
                    tol_t: float = 0.0, order: int = 1) -> LocalError:
        """The local error of a converged step of ``dt`` (backward Euler, ``order`` 1, or BDF2,
        2) to the state (``c``, ``voltage``), relative to the tolerances: c relative to c_max;
        the voltage against tol_v + tol_t |ΔV/dt| (a steep curve may shift by ``tol_t``
        seconds). Collective."""
        if not self.can_predict:
            return LocalError(None, None)
        old, new = self.states[-2:]
        prev_dt = new.dt
        assert prev_dt is not None
        n = self.n_owned_c
        arrays = [s.arrays[self.c_index][:n] for s in self.states]
        voltages = [s.voltage for s in self.states]
        if order == 2:
            prev_dt2 = old.dt
            assert len(self.states) == 3 and prev_dt2 is not None
            w = bdf2_error_weight(dt, prev_dt, prev_dt2)

            def extrapolate(xs: Sequence[Any]) -> Any:
                return predict_quadratic(xs[2], xs[1], xs[0], dt, prev_dt, prev_dt2)
        else:
            w = error_weight(dt, prev_dt)
            arrays, voltages = arrays[-2:], voltages[-2:]

            def extrapolate(xs: Sequence[Any]) -> Any:
                return predict(xs[1], xs[0], dt, prev_dt)
        local = float(np.max(np.abs(c[:n] - extrapolate(arrays)))) if n else 0.0
        e_c = abs(w) * self.comm.allreduce(local, op=MPI.MAX) / (tol_c * self.c_max)
        e_v = None
        if all(v is not None for v in voltages):
            slope = abs(voltage - new.voltage) / dt  # type: ignore[operator]
            e_v = abs(w) * abs(voltage - extrapolate(voltages)) / (tol_v + tol_t * slope)
        return LocalError(e_c, e_v)

    def time_to_cutoff(self, target: float) -> float | None:
        """Seconds until the voltage reaches ``target`` on the line through the last two states."""
        if not self.can_predict:
            return None
        old, new = self.states[-2:]
        if old.voltage is None or new.voltage is None or new.dt is None:
            return None
        return time_to_event(new.voltage, old.voltage, new.dt, target)
