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
(the error of a first-order step scales as dt²). The predictor is also Newton's first iterate.

History starts afresh at every protocol segment (the current switches: x' jumps). The
voltage also jumps at the switch, so its error is used from the third step of a segment on,
the concentration's (continuous) from the second.

Event location: in a galvanostatic segment the cut-off is a root of V(t) − V_cut. With the
voltage slope of the last step, a step that would cross it is shortened to land on it; the
local-error control keeps the curvature term V'' dt²/2 of that landing near ``tol_voltage``,
so landings overshoot by about that (a larger overshoot is still retried by the secant rule).
"""

from __future__ import annotations

import math
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

    def factor(self, err: float) -> float:
        """The step factor for a relative error ``err`` (first order: error ∝ dt²)."""
        if err <= 0.0:
            return self.growth
        return min(max(SAFETY / math.sqrt(err), MIN_FACTOR), self.growth)

    def predictive_factor(self, dt: float, err: float) -> float | None:
        """Gustafsson's predictive factor (dt/dt_prev) √(err_prev/err) × SAFETY/√err: it
        anticipates an error that grows from step to step (Hairer & Wanner, Solving ODEs II,
        eq. IV.8.21), where the plain factor would have the next step rejected."""
        if self.last_dt is None or self.last_err is None or err <= 0.0 or self.last_err <= 0.0:
            return None
        return (dt / self.last_dt) * math.sqrt(self.last_err / err) * SAFETY / math.sqrt(err)

    def judge(self, dt_taken: float, error: LocalError, cut_short: bool = False) -> bool:
        """After a converged step of ``dt_taken``: True to accept it; sets the next step.
        ``cut_short``: the step was shortened by a segment end or a cut-off landing (the
        controller's own step is then kept when the error allows). A step at dt_min is accepted
        whatever its error (nothing shorter may be tried)."""
        err = error.value
        if err > 1.0 and dt_taken > self.dt_min * (1.0 + 1e-9):
            self.dt = max(dt_taken * self.factor(err), self.dt_min)
            return False
        base = max(self.dt, dt_taken) if cut_short else dt_taken
        grow = self.growth
        if error.known:
            grow = self.factor(err)
            predictive = None if cut_short else self.predictive_factor(dt_taken, err)
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
    """The last two accepted states of the running segment: the predictor of the next step and
    the local error of a converged one.

    ``arrays`` are the problem's unknowns in its field order (as
    :attr:`ElectrochemistryProblem.unknowns`: φ_e, c, φ_s), ``c_index`` the position of c, ``n_owned_c``
    its owned dofs; ``c_max`` scales the concentration error.
    """

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
        self.states = [*self.states[-1:], Accepted([a.copy() for a in arrays], phi_ref, voltage, dt)]

    @property
    def can_predict(self) -> bool:
        return len(self.states) == 2

    @property
    def can_start_newton(self) -> bool:
        """Whether the predictor is a good first Newton iterate: not from a segment's start state
        (its potentials belong to the instant of the switch, the first step's transient would be
        extrapolated)."""
        return self.can_predict and self.states[0].dt is not None

    def predicted(self, dt: float) -> tuple[list[np.ndarray], float]:
        """The linear predictor of every unknown and of φ_ref at t + dt. Where it would take c
        out of (0, c_max) (an emptied or filled surface, where U and i₀ are flat) c keeps its
        last value."""
        old, new = self.states
        prev_dt = new.dt
        assert prev_dt is not None
        arrays = [predict(b, a, dt, prev_dt) for a, b in zip(old.arrays, new.arrays, strict=True)]
        c, last = arrays[self.c_index], new.arrays[self.c_index]
        outside = (c <= 0.0) | (c >= self.c_max)
        c[outside] = last[outside]
        return arrays, predict(new.phi_ref, old.phi_ref, dt, prev_dt)

    def local_error(self, dt: float, c: np.ndarray, voltage: float, tol_c: float, tol_v: float,
                    tol_t: float = 0.0) -> LocalError:
        """The local error of a converged step of ``dt`` to the state (``c``, ``voltage``),
        relative to the tolerances: c relative to c_max; the voltage against
        tol_v + tol_t |ΔV/dt| (a steep curve may shift by ``tol_t`` seconds). Collective."""
        if not self.can_predict:
            return LocalError(None, None)
        old, new = self.states
        prev_dt = new.dt
        assert prev_dt is not None
        w = error_weight(dt, prev_dt)
        n = self.n_owned_c
        ca, cb = old.arrays[self.c_index][:n], new.arrays[self.c_index][:n]
        local = float(np.max(np.abs(c[:n] - predict(cb, ca, dt, prev_dt)))) if n else 0.0
        e_c = w * self.comm.allreduce(local, op=MPI.MAX) / (tol_c * self.c_max)
        e_v = None
        if old.voltage is not None and new.voltage is not None:
            slope = abs(voltage - new.voltage) / dt
            e_v = w * abs(voltage - predict(new.voltage, old.voltage, dt, prev_dt)) / (tol_v + tol_t * slope)
        return LocalError(e_c, e_v)

    def time_to_cutoff(self, target: float) -> float | None:
        """Seconds until the voltage reaches ``target`` on the line through the last two states."""
        if not self.can_predict:
            return None
        old, new = self.states
        if old.voltage is None or new.voltage is None or new.dt is None:
            return None
        return time_to_event(new.voltage, old.voltage, new.dt, target)
