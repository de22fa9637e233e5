"""Compare the metrics of two designs: each metric judged by its declared "better" direction.

Every key of ``metrics.json`` is declared once in :mod:`fem_electrode.run.folder`
(:data:`~fem_electrode.run.folder.METRICS_SCHEMA`): label, unit, which direction is better
(or none: informational) and whether the verdict may use it. The winner of a metric is
decided only from the two numbers and that direction, never assumed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from fem_electrode.run.folder import HIGHER, LOWER, SMALLER_MAGNITUDE, MetricSpec, UndeclaredMetric, metric
from fem_electrode.util import nested
from fem_electrode.util.log import get_logger

__all__ = ["DESIGNS", "DESIGN_LABELS", "HIGHER", "LOWER", "SMALLER_MAGNITUDE", "TIE_RTOL", "MetricSpec",
           "Row", "compare", "fmt", "fmt_ratio", "judge", "numeric_leaves", "spec_of"]

log = get_logger("report")

DESIGNS = ("infiltrated", "cosintered")
DESIGN_LABELS = {"infiltrated": "infiltrated", "cosintered": "co-sintered"}

#: Relative difference below which two values count as a tie.
TIE_RTOL = 0.02


@dataclass(frozen=True)
class Row:
    """One metric of both designs."""

    key: str
    spec: MetricSpec
    infiltrated: float | None
    cosintered: float | None
    ratio: float | None  #: infiltrated / cosintered
    winner: str | None  #: "infiltrated", "cosintered", "tie" or None (informational / missing)
    rel_diff: float | None  #: (better - worse) / |worse| in the better direction, >= 0

    def to_json(self) -> dict[str, Any]:
        d = {"key": self.key, "infiltrated": self.infiltrated, "cosintered": self.cosintered,
             "ratio_infiltrated_over_cosintered": self.ratio, "winner": self.winner,
             "relative_advantage": self.rel_diff}
        d.update({f"spec_{k}": v for k, v in asdict(self.spec).items() if k != "key"})
        return d


def numeric_leaves(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested mapping as ``{"a.b.c": value}`` (bools, strings and lists skipped)."""
    return {name: float(value) for name, value in nested.flatten(data, prefix).items()
            if isinstance(value, int | float) and not isinstance(value, bool)}


def spec_of(key: str) -> MetricSpec:
    """The declared spec of a metrics.json key; an undeclared key (a run folder written by
    another version) is shown as informational, with a warning."""
    try:
        return metric(key)
    except UndeclaredMetric as exc:
        log.warning("%s: shown without unit or verdict", exc)
        return MetricSpec(key, key, note="not declared in the metrics schema")


def judge(spec: MetricSpec, inf: float | None, co: float | None) -> tuple[str | None, float | None]:
    """``(winner, relative advantage)`` of two values under ``spec`` (None if not judged)."""
    if spec.better is None or inf is None or co is None or not (math.isfinite(inf) and math.isfinite(co)):
        return None, None
    a, b = (abs(inf), abs(co)) if spec.better == SMALLER_MAGNITUDE else (inf, co)
    if spec.better == HIGHER:
        a, b = -a, -b  # "lower is better" from here on
    if abs(inf - co) <= spec.atol or abs(a - b) <= TIE_RTOL * max(abs(a), abs(b)):
        return "tie", 0.0
    winner, best, worst = ("infiltrated", a, b) if a < b else ("cosintered", b, a)
    rel = abs(worst - best) / abs(worst) if worst != 0 else math.inf
    return winner, rel


def compare(inf: Mapping[str, Any], co: Mapping[str, Any]) -> list[Row]:
    """One :class:`Row` per metric present in either design's (nested) metrics."""
    fi, fc = numeric_leaves(inf), numeric_leaves(co)
    rows = []
    for key in list(dict.fromkeys([*fi, *fc])):
        spec = spec_of(key)
        a, b = fi.get(key), fc.get(key)
        ratio = a / b if (a is not None and b not in (None, 0.0)) else None
        winner, rel = judge(spec, a, b)
        rows.append(Row(key, spec, a, b, ratio, winner, rel))
    return rows


def fmt(value: float | None, spec: MetricSpec | None = None) -> str:
    """A number for a table, in the display unit of ``spec``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    v = value * (spec.scale if spec else 1.0)
    if v == 0:
        return "0"
    if float(v).is_integer() and abs(v) < 1e12:
        return str(int(v))
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.3e}"
    return f"{v:.4g}"


def fmt_ratio(ratio: float | None) -> str:
    return "—" if ratio is None or not math.isfinite(ratio) else f"{ratio:.3g}"
