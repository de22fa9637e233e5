"""Statistics over microstructure seeds: mean and 95 % confidence interval of every metric per
design, the discretisation error from a refinement pair, and a winner only where the two
intervals (widened by that error) separate.

With N seeds per design a metric's mean carries the interval mean ± t(0.975, N − 1) s/√N
(Student's t, s the sample standard deviation over the seeds). The verdict of a metric with a
declared "better" direction: the design whose interval lies entirely on the better side of the
other's; overlapping intervals are "not distinguishable at N seeds"; a "tie" where the two
intervals together lie within the tie band of a single comparison (``comparison.TIE_RTOL``, the
metric's ``atol``: every value of one is a tie with every value of the other, e.g. equal values
with no spread) or where they separate but the means are closer than that band.

Discretisation error: with a refinement pair (the first seed meshed again with every element
size divided by ``compare --refine``), a metric's error is estimated as the change between the
two meshes, |m_fine − m|, per design; it widens that design's interval (the interval is then
mean ± (t s/√N + |Δ|)). A metric that changes by more than :data:`NOT_CONVERGED_RTOL` between
the meshes in either design is reported as not converged and kept out of the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from fem_electrode.report import comparison
from fem_electrode.report.comparison import (
    DESIGNS,
    HIGHER,
    SMALLER_MAGNITUDE,
    TIE_RTOL,
    MetricSpec,
    Row,
    numeric_leaves,
    spec_of,
)

#: Confidence level of the intervals.
CONFIDENCE = 0.95
#: Verdict where the intervals overlap.
NOT_DISTINGUISHABLE = "not distinguishable"
#: Verdict of a metric that moves too much between the two meshes of a refinement pair.
NOT_CONVERGED = "not converged"
#: Relative change between the meshes of a refinement pair above which a metric is "not converged".
NOT_CONVERGED_RTOL = 0.05


@dataclass(frozen=True)
class Spread:
    """One metric of one design over its seeds."""

    n: int
    mean: float
    std: float  #: sample standard deviation (ddof 1; 0 for one seed)
    half_width: float | None  #: of the 95 % interval of the mean (None for one seed)

    @property
    def low(self) -> float:
        return self.mean - (self.half_width or 0.0)

    @property
    def high(self) -> float:
        return self.mean + (self.half_width or 0.0)


def fmt_interval(sp: Spread, spec: MetricSpec | None = None) -> str:
    """'mean ± half-width' in the display unit of ``spec`` (the mean alone for one seed)."""
    if sp.half_width is None:
        return comparison.fmt(sp.mean, spec)
    return f"{comparison.fmt(sp.mean, spec)} ± {comparison.fmt(sp.half_width, spec)}"


def spread(values: Sequence[float] | np.ndarray) -> Spread:
    """Mean, sample standard deviation and the half-width of the 95 % interval of the mean."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        raise ValueError("no values")
    if n == 1:
        return Spread(1, float(x[0]), 0.0, None)
    s = float(np.std(x, ddof=1))
    t = float(stats.t.ppf(0.5 + CONFIDENCE / 2.0, n - 1))
    return Spread(n, float(np.mean(x)), s, t * s / math.sqrt(n))


@dataclass(frozen=True)
class SeedRow:
    """One metric of both designs over their seeds."""

    key: str
    spec: MetricSpec
    values: dict[str, list[float]]  #: per design, one value per seed (SI)
    spreads: dict[str, Spread]  #: per design
    winner: str | None  #: a design, NOT_DISTINGUISHABLE, NOT_CONVERGED, "tie" or None
    #: per design |m_fine − m| of the refinement pair (SI), when there is one
    discretisation: dict[str, float] | None = None
    designs: tuple[str, str] = DESIGNS  #: the two designs (first, second)

    @property
    def relative_change(self) -> float | None:
        """The larger relative change between the meshes of the refinement pair (None: no pair)."""
        if self.discretisation is None:
            return None
        return max(_relative(self.discretisation[d], self.values[d][0], self.spec.atol) for d in self.designs)

    def as_row(self) -> MeanRow:
        """This metric as a :class:`~fem_electrode.report.comparison.Row` of the seed means, with
        the interval verdict as its winner (what the conclusion argues from)."""
        a, b = (self.spreads[d].mean for d in self.designs)
        rel = comparison.judge(self.spec, a, b)[1] if self.winner in self.designs else None
        return MeanRow(self.key, self.spec, a, b, a / b if b != 0.0 else None, self.winner, rel,
                       self.designs, spreads=dict(self.spreads), n=min(s.n for s in self.spreads.values()))

    def to_json(self) -> dict[str, Any]:
        disc = self.discretisation or {}
        return {"key": self.key, "label": self.spec.label, "si_unit": self.spec.si_unit,
                "better": self.spec.better, "verdict_used": self.spec.verdict, "winner": self.winner,
                "relative_change_on_refinement": self.relative_change,
                **{d: {**asdict(s), "values": self.values[d], "discretisation_error": disc.get(d)}
                   for d, s in self.spreads.items()}}


@dataclass(frozen=True)
class MeanRow(Row):
    """A :class:`~fem_electrode.report.comparison.Row` from the seed statistics: the means of both
    designs as the values, and as the winner the interval verdict of :func:`judge` (a design,
    "tie", NOT_DISTINGUISHABLE, NOT_CONVERGED or None)."""

    spreads: dict[str, Spread] = field(default_factory=dict)  #: per design
    n: int = 0  #: seeds per design (the smaller count)


def _relative(change: float, value: float, atol: float) -> float:
    scale = max(abs(value), atol)
    return change / scale if scale > 0.0 else (0.0 if change == 0.0 else math.inf)


def judge(spec: MetricSpec, inf: Sequence[float], co: Sequence[float],
          discretisation: Mapping[str, float] | None = None,
          designs: tuple[str, str] = DESIGNS) -> str | None:
    """The design whose interval (widened by its ``discretisation`` error) lies entirely on the
    better side of the other's, else NOT_DISTINGUISHABLE; "tie" where the intervals separate by
    less than the tie band of a single comparison, or overlap but fit in that band together (equal
    values with no spread); NOT_CONVERGED where the refinement pair moved the metric by more than
    NOT_CONVERGED_RTOL; None without a direction or with fewer than two seeds per design. ``inf``:
    the first of ``designs`` (the names the winner and ``discretisation`` use), ``co`` the second."""
    if spec.better is None or not spec.verdict or len(inf) < 2 or len(co) < 2:
        return None
    one, two = designs
    widen = {d: 0.0 for d in designs}
    if discretisation is not None:
        first = {one: inf[0], two: co[0]}
        if any(_relative(discretisation[d], first[d], spec.atol) > NOT_CONVERGED_RTOL for d in designs):
            return NOT_CONVERGED
        widen = {d: discretisation[d] for d in designs}
    a, b = np.asarray(inf, float), np.asarray(co, float)
    if spec.better == SMALLER_MAGNITUDE:
        a, b = np.abs(a), np.abs(b)
    if spec.better == HIGHER:
        a, b = -a, -b  # lower is better from here on
    sa, sb = spread(a), spread(b)
    a_lo, a_hi = sa.low - widen[one], sa.high + widen[one]
    b_lo, b_hi = sb.low - widen[two], sb.high + widen[two]
    if not (a_hi < b_lo or b_hi < a_lo):
        # overlapping: a tie only where both intervals fit in the tie band together (equal values
        # with no spread, intervals narrower than the band), else the seeds cannot tell
        lo, hi = min(a_lo, b_lo), max(a_hi, b_hi)
        if hi - lo <= spec.atol or hi - lo <= TIE_RTOL * max(abs(lo), abs(hi)):
            return "tie"
        return NOT_DISTINGUISHABLE
    if comparison.judge(spec, float(np.mean(inf)), float(np.mean(co)))[0] == "tie":
        return "tie"  # separated, but closer than the tie band of a single comparison
    return one if a_hi < b_lo else two


def seed_rows(metrics: Mapping[str, Sequence[Mapping[str, Any]]],
              refined: Mapping[str, Mapping[str, Any]] | None = None,
              designs: tuple[str, str] = DESIGNS) -> list[SeedRow]:
    """One row per metric present in every seed of both ``designs`` (``metrics[design]``: the
    metrics.json of each seed, the first on the mesh that ``refined[design]`` refines)."""
    leaves = {d: [numeric_leaves(m) for m in metrics[d]] for d in designs}
    fine = {d: numeric_leaves(refined[d]) for d in designs} if refined is not None else None
    keys = [k for k in dict.fromkeys(k for d in designs for f in leaves[d] for k in f)
            if all(k in f for d in designs for f in leaves[d])]
    rows = []
    for key in keys:
        values = {d: [f[key] for f in leaves[d]] for d in designs}
        if not all(math.isfinite(v) for d in designs for v in values[d]):
            continue
        spec = spec_of(key)
        disc = None
        if fine is not None and all(key in fine[d] and math.isfinite(fine[d][key]) for d in designs):
            disc = {d: abs(fine[d][key] - values[d][0]) for d in designs}
        rows.append(SeedRow(key, spec, values, {d: spread(values[d]) for d in designs},
                            judge(spec, values[designs[0]], values[designs[1]], disc, designs), disc,
                            designs))
    return rows
