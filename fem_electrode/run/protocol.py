"""Cycling protocol: segments (charge, discharge, CV hold, rest), cut-offs and adaptive dt.

Pure Python (no DOLFINx): the simulation loop asks the protocol what to apply and how long
a step to try, and tells it how each try went.

Per cycle, starting with ``start`` (charge or discharge):
galvanostatic half-cycle until the cut-off → optional CV hold at the cut-off voltage for
``hold_minutes`` → optional open-circuit rest for ``rest_minutes`` → the opposite half-cycle,
hold and rest. A galvanostatic segment that never reaches its cut-off ends after
:data:`MAX_CAPACITY_FACTOR` times the nominal duration 1 h / C-rate (with a warning).

Time steps with ``time_stepping = "newton"`` (:class:`StepController`, the Newton-count rule;
the default error control is :mod:`fem_electrode.run.stepping`): grow by ``dt_growth`` after an
easy Newton solve (≤ ``EASY_ITERATIONS``), shrink by ``dt_shrink`` after a hard one
(> ``HARD_ITERATIONS``) or a failed one, which is retried and never accepted; when the
step would fall below ``dt_min`` the run stops with the reason. A step that overshoots a
cut-off by more than ``cutoff_tolerance`` is rejected and retried with a secant estimate of
the step that lands on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fem_electrode.physics.constants import SECONDS_PER_HOUR

#: A galvanostatic segment stops after this multiple of 1 h / C-rate even without cut-off.
MAX_CAPACITY_FACTOR = 1.5
#: Newton iterations at or below which a step counts as easy (dt grows).
EASY_ITERATIONS = 4
#: Newton iterations above which the next step shrinks.
HARD_ITERATIONS = 10
#: Bounds of the secant fraction when landing on a cut-off.
SECANT_MIN, SECANT_MAX = 0.05, 0.95
#: Rejected overshoots of one cut-off before the crossing step is accepted as it is.
MAX_CUTOFF_RETRIES = 12
#: Steps that land on a cut-off may be this fraction of dt_min (the voltage is steepest there;
#: dt_min bounds retries after failures, not accuracy).
CUTOFF_DT_FRACTION = 1e-3
#: Time tolerance (s, relative to the segment length) for reaching the end of a timed segment.
TIME_EPS = 1e-9
SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True)
class Segment:
    """One protocol segment.

    ``kind``: charge, discharge (galvanostatic to ``cutoff``), hold (potentiostatic at
    ``voltage`` for ``duration``), rest (zero current for ``duration``).
    ``half_cycle`` (charge/discharge) is the half-cycle whose capacity the segment adds to.
    """

    kind: str
    cycle: int
    half_cycle: str | None
    current_sign: int = 0
    cutoff: float | None = None
    voltage: float | None = None
    duration: float = 0.0  #: s; for galvanostatic segments the safety limit

    @property
    def potentiostatic(self) -> bool:
        return self.kind == "hold"

    @property
    def galvanostatic_to_cutoff(self) -> bool:
        return self.kind in ("charge", "discharge")

    def crossed(self, voltage: float) -> bool:
        """True when ``voltage`` (V) is at or beyond this segment's cut-off."""
        if not self.galvanostatic_to_cutoff:
            return False
        return voltage >= self.cutoff_voltage if self.current_sign > 0 else voltage <= self.cutoff_voltage

    @property
    def cutoff_voltage(self) -> float:
        """The cut-off (V) of a galvanostatic segment."""
        if self.cutoff is None:
            raise ValueError(f"segment {self.label} has no cut-off")
        return self.cutoff

    @property
    def label(self) -> str:
        return f"{self.kind} {self.cycle}"


def build_segments(protocol: Any) -> list[Segment]:
    """The segments of a ``[protocol]`` section, in order."""
    p = protocol
    nominal = SECONDS_PER_HOUR / p.c_rate
    hold = p.hold_minutes * SECONDS_PER_MINUTE
    rest = p.rest_minutes * SECONDS_PER_MINUTE
    order = ("charge", "discharge") if p.start == "charge" else ("discharge", "charge")
    out: list[Segment] = []
    for cycle in range(1, p.cycles + 1):
        for half in order:
            sign = 1 if half == "charge" else -1
            cutoff = p.cutoff_high if sign > 0 else p.cutoff_low
            out.append(Segment(half, cycle, half, sign, cutoff=cutoff,
                               duration=MAX_CAPACITY_FACTOR * nominal))
            if hold > 0.0:
                out.append(Segment("hold", cycle, half, voltage=cutoff, duration=hold))
            if rest > 0.0:
                out.append(Segment("rest", cycle, None, duration=rest))
    return out


@dataclass
class StepController:
    """Adaptive time step (s): grows on easy convergence, shrinks on failure or hard steps."""

    dt: float
    dt_min: float
    dt_max: float
    growth: float  #: dt factor after an easy step
    shrink: float  #: dt factor after a failed step

    def __post_init__(self) -> None:
        if not 0.0 < self.dt_min <= self.dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got {self.dt_min} / {self.dt_max} s")
        if not (self.growth >= 1.0 and 0.0 < self.shrink < 1.0):
            raise ValueError(f"need growth >= 1 and 0 < shrink < 1, got {self.growth} / {self.shrink}")
        self.dt = min(max(self.dt, self.dt_min), self.dt_max)

    def propose(self, remaining: float | None = None) -> float:
        """The step to try; never past ``remaining`` (s to the end of a timed segment) and
        never leaving a sliver shorter than dt_min before it."""
        return within(self.dt, remaining, self.dt_min)

    def succeeded(self, dt_taken: float, iterations: int) -> None:
        """Adapt after an accepted step of length ``dt_taken`` that took ``iterations``."""
        base = max(self.dt, dt_taken)  # a step cut short by a segment end does not shrink dt
        if iterations <= EASY_ITERATIONS:
            self.dt = min(base * self.growth, self.dt_max)
        elif iterations > HARD_ITERATIONS:
            self.dt = max(dt_taken * self.shrink, self.dt_min)
        else:
            self.dt = min(base, self.dt_max)

    def failed(self, dt_tried: float) -> bool:
        """Shrink after a failed try of ``dt_tried``; False when that would go below dt_min."""
        new = dt_tried * self.shrink
        if new < self.dt_min * (1.0 - TIME_EPS):
            return False
        self.dt = new
        return True

    def land_on_cutoff(self, dt_tried: float, fraction: float) -> bool:
        """Retry with ``fraction`` of ``dt_tried`` to land on a cut-off; False below
        ``CUTOFF_DT_FRACTION`` × dt_min."""
        new = dt_tried * min(max(fraction, SECANT_MIN), SECANT_MAX)
        if new < CUTOFF_DT_FRACTION * self.dt_min:
            return False
        self.dt = new
        return True

    def restart(self, dt: float) -> None:
        """A new protocol segment (the current switched): start again from ``dt``."""
        self.dt = min(max(dt, self.dt_min), self.dt_max)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def within(dt: float, remaining: float | None, dt_min: float) -> float:
    """``dt``, or the rest of a timed segment when that is shorter or would leave a sliver
    shorter than ``dt_min``."""
    if remaining is not None and (remaining <= dt or remaining - dt < dt_min):
        return remaining
    return dt


def secant_fraction(v_old: float, v_new: float, target: float) -> float:
    """Fraction of the last step at which a straight line from v_old to v_new hits ``target``."""
    if v_new == v_old:
        return SECANT_MAX
    return (target - v_old) / (v_new - v_old)


@dataclass
class ProtocolState:
    """Where the run is in the protocol (what a checkpoint must restore)."""

    segment: int = 0  #: index into the segment list
    time: float = 0.0  #: s since the start of the run
    segment_start: float = 0.0  #: s
    cutoff_retries: int = 0
    steps: int = 0  #: accepted steps

    def remaining(self, seg: Segment) -> float:
        """Seconds left in the segment (holds, rests, galvanostatic safety limit)."""
        return max(seg.duration - (self.time - self.segment_start), 0.0)

    def segment_time_done(self, seg: Segment) -> bool:
        rem = self.remaining(seg)
        return rem <= TIME_EPS * max(seg.duration, 1.0)

    def advance_segment(self) -> None:
        self.segment += 1
        self.segment_start = self.time
        self.cutoff_retries = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
