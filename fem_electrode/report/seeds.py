"""Statistics over microstructure seeds: mean and 95 % confidence interval of every metric per
design, and a winner only where the two intervals separate.

With N seeds per design a metric's mean carries the interval mean ± t(0.975, N − 1) s/√N
(Student's t, s the sample standard deviation over the seeds). The verdict of a metric with a
declared "better" direction: the design whose interval lies entirely on the better side of the
other's; overlapping intervals are "not distinguishable at N seeds"; separated means closer than
the tie band of a single comparison (``comparison.TIE_RTOL``, the metric's ``atol``) a "tie".
The interval describes the spread between microstructures only (not the discretisation error
of one of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from fem_electrode.report import comparison
from fem_electrode.report.comparison import (
    DESIGNS,
    HIGHER,
    SMALLER_MAGNITUDE,
    MetricSpec,
    numeric_leaves,
    spec_of,
)

#: Confidence level of the intervals.
CONFIDENCE = 0.95
#: Verdict where the intervals overlap.
NOT_DISTINGUISHABLE = "not distinguishable"


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
    winner: str | None  #: a design, NOT_DISTINGUISHABLE, or None (informational / too few seeds)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.spec.label, "si_unit": self.spec.si_unit,
                "better": self.spec.better, "verdict_used": self.spec.verdict, "winner": self.winner,
                **{d: {**asdict(s), "values": self.values[d]} for d, s in self.spreads.items()}}


def judge(spec: MetricSpec, inf: Sequence[float], co: Sequence[float]) -> str | None:
    """The design whose interval lies entirely on the better side of the other's, else
    NOT_DISTINGUISHABLE; None without a direction or with fewer than two seeds per design."""
    if spec.better is None or not spec.verdict or len(inf) < 2 or len(co) < 2:
        return None
    a, b = np.asarray(inf, float), np.asarray(co, float)
    if spec.better == SMALLER_MAGNITUDE:
        a, b = np.abs(a), np.abs(b)
    if spec.better == HIGHER:
        a, b = -a, -b  # lower is better from here on
    sa, sb = spread(a), spread(b)
    if not (sa.high < sb.low or sb.high < sa.low):
        return NOT_DISTINGUISHABLE
    if comparison.judge(spec, float(np.mean(inf)), float(np.mean(co)))[0] == "tie":
        return "tie"  # separated, but closer than the tie band of a single comparison
    return "infiltrated" if sa.high < sb.low else "cosintered"


def seed_rows(metrics: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[SeedRow]:
    """One row per metric present in every seed of both designs (``metrics[design]``: the
    metrics.json of each seed)."""
    leaves = {d: [numeric_leaves(m) for m in metrics[d]] for d in DESIGNS}
    keys = [k for k in dict.fromkeys(k for d in DESIGNS for f in leaves[d] for k in f)
            if all(k in f for d in DESIGNS for f in leaves[d])]
    rows = []
    for key in keys:
        values = {d: [f[key] for f in leaves[d]] for d in DESIGNS}
        if not all(math.isfinite(v) for d in DESIGNS for v in values[d]):
            continue
        spec = spec_of(key)
        rows.append(SeedRow(key, spec, values, {d: spread(values[d]) for d in DESIGNS},
                            judge(spec, values["infiltrated"], values["cosintered"])))
    return rows
