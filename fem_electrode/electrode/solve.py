"""Time stepping of the through-thickness model: galvanostatic half-cycles to the cut-offs,
optional CV holds and rests, error-controlled variable-step BDF2, located events.

Each protocol segment starts by settling the potentials for its current with the fillings frozen
(no time passes; V jumps there, and that point starts the segment's curve). Steps are implicit,
variable-step BDF of order ≤ 2 (backward Euler for the first two steps of a segment), solved by
Newton on the full coupled system with the analytic sparse Jacobian (SuperLU; the unknowns are
stored cell by cell, so the matrix is banded) and a backtracking line search.

Local error: Milne's device. A polynomial predictor of degree p through the last p + 1 accepted
states of the segment (also Newton's first iterate) and the BDF-p corrector differ by
(e_c − e_p) x^(p+1), with e_c and e_p their error constants for the actual step sizes (computed
from the times, :func:`error_weight`), so the corrector's local error is
|e_c / (e_c − e_p)| · |x_c − x_p| (2/11 of the difference for equal BDF2 steps, 1/3 for equal
backward-Euler steps). It is measured on the fillings (largest over all solid cells, against
``tol_concentration``) and on the cell voltage (against tol_voltage + |dV/dt| tol_capacity × 1 h /
C-rate, the case's keys, as in the RVE run); err ≤ 1 accepts (a step of dt_min always), and the
next step is dt · clip(SAFETY err^(−1/(p+1)), MIN_FACTOR, dt_growth) (Gustafsson's predictive
factor when smaller; no growth right after a rejection), within [dt_min, dt_max].

Events, located by the Illinois (modified regula falsi) iteration on the step size, each try
one Newton solve from the last accepted state: the cut-off voltage, and depletion: a reacting
surface of NVP whose filling reaches ``depletion_y`` (1e-6, charge) or 1 − ``depletion_y``
(discharge): "y ≈ 0 or 1", where U and i₀ are about to be clipped (the table laws at 0 and 1).
Every reacting surface satisfies V ≥ U(y_s) on charge (V ≤ U(y_s) on discharge), so depletion
comes first only where U(depletion_y) lies below the charge cut-off (U(1 − depletion_y) above
the discharge one): the smooth default OCV gives 3.75 V and 2.99 V there (3.8 V is reached at
y_s ≈ 1.4e-7, 2.8 V at 1 − y_s ≈ 6e-10), the shipped two-phase table 3.90 V and 2.60 V (the
cut-offs come first). The step landing on the event ends the segment, within ``event_tol``
(V, or the filling); the result says which event it was. A step that fails below dt_min while
a surface is within ``protocol.depletion_end`` of empty (full) also ends the half-cycle, as
"depleted (steps failed)", as in the RVE run; otherwise the run stops as failed.

Newton iterates keep every y_s inside (0, 1) (fraction to the boundary): outside, U and i₀ are
clipped flat and the iteration loses what drives it back.

Charge: the charge passed Q obeys the same BDF recursion as the Na, Σ α_m Q_{n+1−m} = dt I_{n+1}
(= I dt per step when I is constant), so that F (Na₀ − Na) = Q is the discrete conservation law;
it is checked at every step (``conservation`` in the result: largest relative defect).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse.linalg as spla

from fem_electrode.config.sections.protocol import ProtocolConfig
from fem_electrode.electrode.model import ElectrodeModel, StepContext, bdf_coefficients
from fem_electrode.physics.constants import FARADAY, SECONDS_PER_HOUR, mah_per_g

#: Step factor applied to the optimal step (headroom so that the next step is rarely rejected).
SAFETY = 0.9
#: Smallest factor by which one error judgement shrinks the step.
MIN_FACTOR = 0.2
#: Newton: converged when every residual row is below this fraction of the current scale, on
#: top of its round-off floor ROUNDOFF × Σ_k |J_rk u_k| (u with the physical φ_s): a row whose
#: terms are large (fast solid diffusion over a small current, y − y_n over a short step, the
#: η = φ_s − φ_e − U(y) of ≈ 3.4 V times the kinetic conductance) cannot be evaluated closer to 0.
NEWTON_RTOL = 1e-11
ROUNDOFF = 1e-14
NEWTON_MAX_IT = 15
#: Line search: halvings of the Newton step before the step is taken anyway.
LINE_SEARCH_HALVINGS = 8
#: A Newton step may move a reacting-surface filling y_s at most this fraction of its distance to
#: 0 (or 1) ("fraction to the boundary"): the OCV and i₀ are clipped outside (0, 1), where a
#: Newton iterate would lose the information that drives it back.
BOUNDARY_FRACTION = 0.99
#: Events (cut-off in V, depletion in filling) are located to within this.
EVENT_TOL = 1e-9
EVENT_MAX_IT = 40
#: A half-cycle ends as depleted when a reacting surface reaches this filling (charge) or
#: 1 − it (discharge): "y ≈ 0 or 1", where the OCV and i₀ laws are about to be clipped; what the
#: half-cycle would add after it is what diffusion brings to that surface in the last millivolts.
DEPLETION_Y = 1e-6
#: Largest duration of a galvanostatic segment, in nominal half-cycles (1 h / C-rate).
GALVANOSTATIC_LIMIT = 1.5
#: Largest order of the BDF steps.
MAX_ORDER = 2
#: Accepted steps of one run before it stops as failed.
MAX_STEPS = 200_000
#: The current scale of the residual is at least this fraction of the 1 C current.
MIN_SCALE_C_RATE = 1e-6


@dataclass(frozen=True)
class StepSettings:
    """Step-size control and tolerances (s, V, fillings)."""

    tol_voltage: float = 5e-4
    tol_capacity: float = 1e-3
    tol_concentration: float = 5e-3
    dt_initial: float = 10.0
    dt_min: float = 1e-3
    dt_max: float = 3600.0
    dt_growth: float = 2.0
    dt_shrink: float = 0.5
    depletion_end: float = 0.02
    order: int = MAX_ORDER
    depletion_y: float = DEPLETION_Y
    event_tol: float = EVENT_TOL
    newton_rtol: float = NEWTON_RTOL
    newton_max_it: int = NEWTON_MAX_IT
    max_steps: int = MAX_STEPS

    def __post_init__(self) -> None:
        if self.order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {self.order}")

    @classmethod
    def from_protocol(cls, protocol: ProtocolConfig, **overrides: float) -> StepSettings:
        """The case's ``[protocol]`` tolerances and step limits (``overrides`` replace any field)."""
        names = ("tol_voltage", "tol_capacity", "tol_concentration", "dt_initial", "dt_min", "dt_max",
                 "dt_growth", "dt_shrink", "depletion_end")
        values = {n: getattr(protocol, n) for n in names}
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Segment:
    """One protocol segment: ``control`` "current" (``value`` = I in A/m², > 0 charge) or "voltage"
    (``value`` = V_hold in V), for at most ``duration`` s; a galvanostatic one ends at ``cutoff`` (V)."""

    label: str
    kind: str  #: "charge", "discharge" or "rest"
    control: str
    value: float
    duration: float
    cutoff: float | None = None
    half_cycle: int | None = None  #: index of the half-cycle it belongs to (holds included)


def protocol_segments(protocol: ProtocolConfig, current_1c: float) -> list[Segment]:
    """Segments of ``[protocol]``: per cycle a galvanostatic charge (discharge) to its cut-off at
    c_rate × ``current_1c`` (A/m²), a CV hold at the cut-off (``hold_minutes`` > 0) and a rest
    (``rest_minutes`` > 0), then the other half-cycle likewise; ``start`` picks the first."""
    current = protocol.c_rate * current_1c
    limit = GALVANOSTATIC_LIMIT * SECONDS_PER_HOUR / protocol.c_rate
    order = ("charge", "discharge") if protocol.start == "charge" else ("discharge", "charge")
    out: list[Segment] = []
    half = 0
    for cycle in range(1, protocol.cycles + 1):
        for kind in order:
            sign = 1.0 if kind == "charge" else -1.0
            cutoff = protocol.cutoff_high if kind == "charge" else protocol.cutoff_low
            out.append(Segment(f"{kind} {cycle}", kind, "current", sign * current, limit, cutoff, half))
            if protocol.hold_minutes > 0.0:
                out.append(Segment(f"hold after {kind} {cycle}", kind, "voltage", cutoff,
                                   60.0 * protocol.hold_minutes, None, half))
            if protocol.rest_minutes > 0.0:
                out.append(Segment(f"rest after {kind} {cycle}", "rest", "current", 0.0,
                                   60.0 * protocol.rest_minutes))
            half += 1
    return out


@dataclass
class HalfCycle:
    """Summary of one charge or discharge (its galvanostatic segment and its hold)."""

    index: int
    kind: str
    capacity: float  #: mAh/g of NVP (galvanostatic + hold)
    capacity_galvanostatic: float  #: mAh/g of NVP
    mean_voltage: float  #: energy / charge, V
    energy_wh_per_m2: float  #: Wh per m² of projected area
    energy_wh_per_kg_nvp: float  #: Wh per kg of NVP
    end_reason: str  #: "cutoff", "depleted", "depleted (steps failed)", "time", "failed"
    current: float  #: galvanostatic current density, A/m² (> 0 charge)
    t_start: float  #: s
    t_end: float  #: s
    voltage_end: float  #: V at the end of the galvanostatic segment


@dataclass
class ElectrodeResult:
    """Curves (one entry per accepted state; each segment starts with its settled state) and
    summaries of a run."""

    t: np.ndarray  #: s
    V: np.ndarray  #: cell voltage, V
    current: np.ndarray  #: A/m² of projected area, > 0 charge
    capacity: np.ndarray  #: charge passed since the start of the half-cycle, mAh/g of NVP (≥ 0)
    charge: np.ndarray  #: net charge passed since t = 0, C/m² (> 0: charged)
    y_mean: np.ndarray  #: mean filling of the NVP
    y_surface_min: np.ndarray  #: smallest reacting-surface filling
    y_surface_max: np.ndarray
    segment: np.ndarray  #: segment index of each point
    segments: list[Segment]
    segment_end: list[str]  #: why each segment ended
    half_cycles: list[HalfCycle]
    status: str  #: "completed" or "failed"
    message: str
    steps: int  #: accepted steps (events included)
    rejected: int  #: steps rejected by the error control
    newton_failures: int
    newton_iterations: int
    event_solves: int  #: Newton solves spent locating events
    conservation_step: float  #: largest |F ΔNa + q| / |q| of a step
    conservation_total: float  #: |F (Na₀ − Na) − Q| / Σ|q| at the end
    wall_time: float  #: s
    final_state: np.ndarray = field(repr=False)

    def curve(self, segment: int) -> dict[str, np.ndarray]:
        """The points of one segment."""
        sel = self.segment == segment
        return {"t": self.t[sel], "V": self.V[sel], "capacity": self.capacity[sel],
                "y_mean": self.y_mean[sel], "current": self.current[sel]}


@dataclass
class _Point:
    """An accepted state of the current segment (u with physical φ_s in the ψ block)."""

    t: float
    u: np.ndarray
    V: float
    Q: float  #: charge passed since t = 0, C/m²


@dataclass
class _Try:
    """A converged step."""

    u: np.ndarray  #: ψ relative to the stepper's φ_ref
    V: float
    Q: float
    iterations: int


def error_weight(times: list[float], order: int) -> float:
    """|e_c / (e_c − e_p)|: local error of the BDF-``order`` corrector at ``times[0]`` per unit
    |corrector − predictor|, the predictor the polynomial through ``times[1:order + 2]``."""
    t = np.asarray(times[: order + 2], float)
    alpha = bdf_coefficients(t[: order + 1])
    dt = t[0] - t[1]
    fact = math.factorial(order + 1)
    # x = (t − t₀)^(p+1)/(p+1)!: x(t₀) = x'(t₀) = 0, x^(p+1) = 1
    defect = sum(alpha[m] * (t[m] - t[0]) ** (order + 1) / fact for m in range(1, order + 1)) / dt
    e_c = -defect * dt / alpha[0]
    e_p = -float(np.prod(t[0] - t[1:])) / fact
    return abs(e_c / (e_c - e_p))


def _extrapolate(points: list[_Point], t: float, degree: int) -> tuple[np.ndarray, float]:
    """Lagrange extrapolation of (u, V) through the last ``degree`` + 1 points to ``t``."""
    pts = points[-(degree + 1):]
    u = np.zeros_like(pts[-1].u)
    v = 0.0
    for j, pj in enumerate(pts):
        w = 1.0
        for k, pk in enumerate(pts):
            if k != j:
                w *= (t - pk.t) / (pj.t - pk.t)
        u += w * pj.u
        v += w * pj.V
    return u, v


class Stepper:
    """Runs protocol segments on one :class:`ElectrodeModel`."""

    def __init__(self, model: ElectrodeModel, settings: StepSettings, *, current_scale: float):
        self.model = model
        self.s = settings
        self.scale = max(abs(current_scale), MIN_SCALE_C_RATE * model.params.current_1c)
        self.u = model.initial_state()
        self.phi_ref = float(model.params.ocv.value(model.params.initial_y))
        self.t = 0.0
        self.Q = 0.0
        self.sodium0 = model.sodium(self.u)
        self.stats = {"steps": 0, "rejected": 0, "newton_failures": 0, "newton_iterations": 0,
                      "event_solves": 0}
        self.conservation_step = 0.0
        self.abs_q = 0.0
        self.records: list[tuple[float, ...]] = []

    # -- Newton -------------------------------------------------------------------------------

    def newton(self, u0: np.ndarray, ctx: StepContext) -> tuple[np.ndarray, bool, int]:
        """Newton with the analytic Jacobian (sparse LU), steps kept inside the fillings' range and
        a backtracking line search on ‖R‖₂ (taken anyway after LINE_SEARCH_HALVINGS halvings).
        Converged when |R| ≤ newton_rtol + round-off floor in every row (R in units of the
        current scale)."""
        model, u = self.model, u0.copy()
        for it in range(self.s.newton_max_it + 1):
            res, jac = model.evaluate(u, ctx)
            floor = ROUNDOFF * (abs(jac) @ np.abs(self._physical(u)))
            excess = float(np.max(np.abs(res) - floor))
            if not np.isfinite(excess):
                return u, False, it
            if excess <= self.s.newton_rtol:
                return u, True, it
            if it == self.s.newton_max_it:
                break
            try:
                du = spla.splu(jac).solve(-res)
            except RuntimeError:  # singular
                return u, False, it
            if not np.all(np.isfinite(du)):
                return u, False, it
            lam = self._boundary_step(u, du)
            merit = float(res @ res)
            for _ in range(LINE_SEARCH_HALVINGS):
                trial = u + lam * du
                res_t = model.residual(trial, ctx)
                merit_t = float(res_t @ res_t)
                if np.isfinite(merit_t) and merit_t < merit:
                    break
                lam *= 0.5
            else:
                trial = u + lam * du
            u = trial
        return u, False, self.s.newton_max_it

    def _boundary_step(self, u: np.ndarray, du: np.ndarray) -> float:
        """Largest λ ≤ 1 that keeps every y_s in (0, 1), by BOUNDARY_FRACTION of the distance."""
        model = self.model
        ys = model.surface_filling(u)
        dys = model.surface_filling(du)
        inside = (ys > 0.0) & (ys < 1.0)
        room = np.where(dys < 0.0, ys, 1.0 - ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            limits = np.where(inside & (dys != 0.0), BOUNDARY_FRACTION * room / np.abs(dys), np.inf)
        return float(min(1.0, np.min(limits, initial=np.inf)))

    def _ctx(self, seg: Segment, **kw: object) -> StepContext:
        return StepContext(phi_ref=self.phi_ref, control=seg.control, target=seg.value, scale=self.scale,
                           **kw)  # type: ignore[arg-type]

    def _physical(self, u: np.ndarray) -> np.ndarray:
        out = u.copy()
        out[self.model.psi] += self.phi_ref
        return out

    def _relative(self, u: np.ndarray) -> np.ndarray:
        out = u.copy()
        out[self.model.psi] -= self.phi_ref
        return out

    def settle(self, seg: Segment) -> bool:
        """Potentials and current for ``seg``'s control with the fillings frozen."""
        ctx = self._ctx(seg, dt=None, frozen=self.u[self.model.y].copy())
        u, ok, its = self.newton(self.u, ctx)
        self.stats["newton_iterations"] += its
        if ok:
            self.u = u
            self._recentre()
        return ok

    def _recentre(self) -> None:
        """φ_ref ← φ_s at the collector-side cell, so that ψ stays small."""
        shift = float(self.u[self.model.psi][-1])
        self.phi_ref += shift
        self.u[self.model.psi] -= shift

    def try_step(self, seg: Segment, points: list[_Point], dt: float, order: int) -> _Try | None:
        """One implicit step of ``dt`` from the last accepted point (BDF-``order``)."""
        model = self.model
        times = [points[-1].t + dt] + [p.t for p in points[-order:][::-1]]
        alpha = bdf_coefficients(times)
        hist = sum(alpha[m] * points[-m].u[model.y] for m in range(1, order + 1))
        ctx = self._ctx(seg, dt=dt, alpha0=float(alpha[0]), history=np.asarray(hist))
        degree = min(len(points) - 1, order)
        guess = self._relative(_extrapolate(points, times[0], degree)[0])
        ys = model.surface_filling(guess)
        if not (np.all(ys > 0.0) and np.all(ys < 1.0)):
            guess = self._relative(points[-1].u)  # the extrapolation left (0, 1): start from y_n
        u, ok, its = self.newton(guess, ctx)
        self.stats["newton_iterations"] += its
        if not ok:
            self.stats["newton_failures"] += 1
            return None
        current = float(u[model.I])
        q_hist = sum(alpha[m] * points[-m].Q for m in range(1, order + 1))
        Q = (dt * current - q_hist) / alpha[0]
        return _Try(u, model.voltage(u, self.phi_ref), float(Q), its)

    def _local_error(self, seg: Segment, points: list[_Point], trial: _Try, dt: float, order: int
                     ) -> float | None:
        """err relative to the tolerances (None: not enough history)."""
        if len(points) < order + 1:
            return None
        model = self.model
        t_new = points[-1].t + dt
        times = [t_new] + [p.t for p in points[-(order + 1):][::-1]]
        weight = error_weight(times, order)
        pred_u, pred_v = _extrapolate(points, t_new, order)
        e_y = weight * float(np.max(np.abs(trial.u[model.y] - pred_u[model.y])))
        err = e_y / self.s.tol_concentration
        if seg.control == "current" and seg.value != 0.0:
            e_v = weight * abs(trial.V - pred_v)
            slope = abs(trial.V - points[-1].V) / dt
            c_rate = abs(seg.value) / model.params.current_1c
            tol_v = self.s.tol_voltage + slope * self.s.tol_capacity * SECONDS_PER_HOUR / c_rate
            err = max(err, e_v / tol_v)
        return err

    def _event_values(self, seg: Segment, u: np.ndarray, voltage: float) -> dict[str, float]:
        """Signed distance to each event of ``seg`` (> 0 before it, ≤ 0 reached): "cutoff" in V,
        "depleted" in filling."""
        if seg.control != "current" or seg.value == 0.0:
            return {}
        ys = self.model.surface_filling(u)
        charge = seg.value > 0.0
        out = {"depleted": (float(np.min(ys)) - self.s.depletion_y if charge
                            else 1.0 - self.s.depletion_y - float(np.max(ys)))}
        if seg.cutoff is not None:
            out["cutoff"] = seg.cutoff - voltage if charge else voltage - seg.cutoff
        return out

    def _near_depletion(self, seg: Segment) -> bool:
        ys = self.model.surface_filling(self.u)
        frac = self.s.depletion_end
        if seg.control != "current" or seg.value == 0.0 or frac <= 0.0:
            return False
        return bool(np.min(ys) <= frac) if seg.value > 0.0 else bool(np.max(ys) >= 1.0 - frac)

    def _locate(self, seg: Segment, points: list[_Point], dt: float, order: int, trial: _Try,
                g0: dict[str, float], g1: dict[str, float]) -> tuple[float, _Try, str] | None:
        """The step in (0, dt] that lands on the first event reached: the crossed event whose
        linear estimate comes first is located alone (Illinois); if another one was reached before
        the landing point, that one is located in the shorter interval."""
        hi, g_hi, tr_hi = dt, g1, trial
        while True:
            crossed = [e for e, v in g_hi.items() if v <= 0.0]
            name = min(crossed, key=lambda e: g0[e] / (g0[e] - g_hi[e]))
            found = self._illinois(seg, points, order, name, g0[name], hi, g_hi[name], tr_hi)
            if found is None:
                return None
            x, tr, values = found
            earlier = {e: v for e, v in values.items() if e != name and v < -self.s.event_tol}
            if not earlier:
                return x, tr, name
            hi, g_hi, tr_hi = x, values, tr

    def _illinois(self, seg: Segment, points: list[_Point], order: int, name: str, g_lo: float,
                  hi: float, g_hi: float, tr_hi: _Try) -> tuple[float, _Try, dict[str, float]] | None:
        """Root in (0, hi) of event ``name`` as a function of the step size (modified regula falsi;
        each evaluation one Newton solve from the last accepted point)."""
        lo, side = 0.0, 0
        best = (hi, tr_hi, self._event_values(seg, tr_hi.u, tr_hi.V))
        for _ in range(EVENT_MAX_IT):
            x = hi - g_hi * (hi - lo) / (g_hi - g_lo)
            tr = self.try_step(seg, points, x, order)
            self.stats["event_solves"] += 1
            if tr is None:
                return None
            values = self._event_values(seg, tr.u, tr.V)
            g = values[name]
            if abs(g) <= self.s.event_tol:
                return x, tr, values
            if g > 0.0:
                lo, g_lo = x, g
                if side == +1:
                    g_hi *= 0.5
                side = +1
            else:
                hi, g_hi, best = x, g, (x, tr, values)
                if side == -1:
                    g_lo *= 0.5
                side = -1
        return best

    # -- segments -----------------------------------------------------------------------------

    def accept(self, seg_index: int, t: float, trial: _Try, points: list[_Point]) -> None:
        model = self.model
        na_old = model.sodium(self.u)
        q_step = trial.Q - self.Q
        self.u = trial.u
        na_new = model.sodium(self.u)
        scale = max(abs(q_step), 1e-300)
        if q_step != 0.0:
            self.conservation_step = max(self.conservation_step,
                                         abs(FARADAY * (na_new - na_old) + q_step) / scale)
        self.abs_q += abs(q_step)
        self.Q = trial.Q
        self.t = t
        self._recentre()
        points.append(_Point(t, self._physical(self.u), trial.V, trial.Q))
        if len(points) > MAX_ORDER + 1:
            del points[0]
        self.stats["steps"] += 1
        self.record(seg_index, trial.V)

    def record(self, seg_index: int, voltage: float) -> None:
        model, u = self.model, self.u
        ys = model.surface_filling(u)
        self.records.append((self.t, voltage, float(u[model.I]), self.Q, model.mean_filling(u),
                             float(np.min(ys)), float(np.max(ys)), float(seg_index)))

    def run_segment(self, seg_index: int, seg: Segment) -> str:
        """Advance through ``seg``; returns why it ended."""
        s = self.s
        if not self.settle(seg):
            return "failed"
        v0 = self.model.voltage(self.u, self.phi_ref)
        self.record(seg_index, v0)
        points = [_Point(self.t, self._physical(self.u), v0, self.Q)]
        g_prev = self._event_values(seg, self.u, v0)
        reached = [e for e, v in g_prev.items() if v <= 0.0]
        if reached:
            return reached[0]
        t_end = self.t + seg.duration
        dt = min(s.dt_initial, s.dt_max)
        last: tuple[float, float] | None = None  # (dt, err) of the last accepted step
        rejected = False  # the step now tried follows a rejection: it may not grow
        while True:
            remaining = t_end - self.t
            if remaining <= s.dt_min * 1e-3:
                return "time"
            if self.stats["steps"] >= s.max_steps:
                return "failed"
            dt = min(dt, remaining)
            order = 1 if len(points) < 3 else s.order
            trial = self.try_step(seg, points, dt, order)
            if trial is None:
                dt *= s.dt_shrink
                if dt < s.dt_min:
                    return "depleted (steps failed)" if self._near_depletion(seg) else "failed"
                continue
            err = self._local_error(seg, points, trial, dt, order)
            if err is not None and err > 1.0 and dt > s.dt_min:
                self.stats["rejected"] += 1
                rejected = True
                dt = max(dt * max(MIN_FACTOR, SAFETY * err ** (-1.0 / (order + 1))), s.dt_min)
                continue  # a step of dt_min is accepted whatever its error
            g = self._event_values(seg, trial.u, trial.V)
            if any(v <= 0.0 for v in g.values()):
                found = self._locate(seg, points, dt, order, trial, g_prev, g)
                if found is None:
                    return "failed"
                dt_ev, tr_ev, reason = found
                self.accept(seg_index, self.t + dt_ev, tr_ev, points)
                return reason
            self.accept(seg_index, self.t + dt, trial, points)
            g_prev = g
            factor = s.dt_growth
            if err is not None and err > 0.0:
                k = 1.0 / (order + 1)
                factor = SAFETY * err ** -k
                if last is not None:  # Gustafsson's predictive factor (fewer rejections)
                    factor = min(factor, SAFETY * err ** -k * (dt / last[0]) * (last[1] / err) ** k)
                factor = min(max(factor, MIN_FACTOR), 1.0 if rejected else s.dt_growth)
                last = (dt, err)
            rejected = False
            dt = min(max(dt * factor, s.dt_min), s.dt_max)


def simulate(model: ElectrodeModel, segments: list[Segment], settings: StepSettings | None = None,
             *, current_scale: float | None = None) -> ElectrodeResult:
    """Run ``segments`` from the uniform initial filling; the residual's current scale defaults to
    the largest galvanostatic current of the segments (A/m²)."""
    settings = settings or StepSettings()
    if current_scale is None:
        current_scale = max((abs(sg.value) for sg in segments if sg.control == "current"), default=0.0)
    start = time.perf_counter()
    st = Stepper(model, settings, current_scale=current_scale)
    ends: list[str] = []
    status, message = "completed", ""
    skip_hold = False
    for k, seg in enumerate(segments):
        if seg.control == "voltage" and skip_hold:
            ends.append("skipped (no cut-off reached)")
            continue
        reason = st.run_segment(k, seg)
        ends.append(reason)
        if seg.control == "current" and seg.value != 0.0:
            skip_hold = reason != "cutoff"
        if reason == "failed":
            status = "failed"
            message = f"{seg.label}: no convergence at t = {st.t:.6g} s (dt below dt_min)"
            break
    rec = np.array(st.records, float).reshape(-1, 8)
    t, V, cur, charge, y_mean, ys_min, ys_max, seg_idx = rec.T
    seg_idx = seg_idx.astype(int)
    capacity, halves = _half_cycles(model, segments, ends, t, V, cur, charge, seg_idx)
    total = abs(FARADAY * (st.sodium0 - model.sodium(st.u)) - st.Q) / max(st.abs_q, 1e-300)
    return ElectrodeResult(
        t=t, V=V, current=cur, capacity=capacity, charge=charge, y_mean=y_mean, y_surface_min=ys_min,
        y_surface_max=ys_max, segment=seg_idx, segments=list(segments), segment_end=ends,
        half_cycles=halves, status=status, message=message, steps=st.stats["steps"],
        rejected=st.stats["rejected"], newton_failures=st.stats["newton_failures"],
        newton_iterations=st.stats["newton_iterations"], event_solves=st.stats["event_solves"],
        conservation_step=st.conservation_step, conservation_total=total if st.abs_q > 0 else 0.0,
        wall_time=time.perf_counter() - start, final_state=st._physical(st.u),
    )


def _half_cycles(model: ElectrodeModel, segments: list[Segment], ends: list[str], t: np.ndarray,
                 V: np.ndarray, cur: np.ndarray, charge: np.ndarray, seg_idx: np.ndarray
                 ) -> tuple[np.ndarray, list[HalfCycle]]:
    """Capacity curve (mAh/g since the half-cycle's start) and the per-half-cycle summaries."""
    mass = model.params.mass_nvp
    capacity = np.zeros_like(t)
    halves: list[HalfCycle] = []
    indices = sorted({sg.half_cycle for sg in segments if sg.half_cycle is not None})
    for h in indices:
        members = [k for k, sg in enumerate(segments) if sg.half_cycle == h and k < len(ends)]
        sel = np.isin(seg_idx, members)
        if not np.any(sel):
            continue
        idx = np.flatnonzero(sel)
        q0 = charge[idx[0]]
        capacity[idx] = mah_per_g(np.abs(charge[idx] - q0), mass)
        galv = members[0]
        g_idx = np.flatnonzero(seg_idx == galv)
        energy = 0.0
        for sub in members:  # trapezoid of V dQ inside each segment (the jumps at switches carry no charge)
            k_idx = np.flatnonzero(seg_idx == sub)
            dq = np.abs(np.diff(charge[k_idx]))
            energy += float(np.sum(0.5 * (V[k_idx][1:] + V[k_idx][:-1]) * dq))
        q_total = abs(charge[idx[-1]] - q0)
        q_galv = abs(charge[g_idx[-1]] - charge[g_idx[0]])
        seg = segments[galv]
        halves.append(HalfCycle(
            index=h, kind=seg.kind, capacity=mah_per_g(q_total, mass),
            capacity_galvanostatic=mah_per_g(q_galv, mass),
            mean_voltage=energy / q_total if q_total > 0 else math.nan,
            energy_wh_per_m2=energy / SECONDS_PER_HOUR,
            energy_wh_per_kg_nvp=energy / SECONDS_PER_HOUR / mass,
            end_reason=ends[galv], current=seg.value, t_start=float(t[idx[0]]), t_end=float(t[idx[-1]]),
            voltage_end=float(V[g_idx[-1]]),
        ))
    return capacity, halves


def run_protocol(model: ElectrodeModel, protocol: ProtocolConfig, settings: StepSettings | None = None,
                 ) -> ElectrodeResult:
    """Cycle ``model`` as ``[protocol]`` says (C-rate from the electrode's NVP, cut-offs, holds,
    rests), with its step settings unless ``settings`` is given."""
    settings = settings or StepSettings.from_protocol(protocol)
    segments = protocol_segments(protocol, model.params.current_1c)
    return simulate(model, segments, settings)


def replace_protocol(protocol: ProtocolConfig, **changes: object) -> ProtocolConfig:
    """A copy of ``protocol`` with ``changes`` (e.g. ``c_rate=1.0``), unchecked."""
    return dataclasses.replace(protocol, **changes)  # type: ignore[arg-type]

