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

__all__ = ["DESIGNS", "DESIGN_LABELS", "HIGHER", "IMAGE", "LOWER", "SMALLER_MAGNITUDE", "TIE_RTOL",
           "MetricSpec", "Row", "compare", "design_label", "fmt", "fmt_ratio", "judge", "numeric_leaves",
           "spec_of"]

log = get_logger("report")

#: The pair of designs compared by default; a comparison may name another pair (``compare`` of an
#: image case: :data:`IMAGE` and a generated kind), always as ``(first, second)``.
DESIGNS = ("infiltrated", "cosintered")
#: The design of an image case (``geometry.kind = "image"``) in a comparison.
IMAGE = "image"
DESIGN_LABELS = {"infiltrated": "infiltrated", "cosintered": "co-sintered", IMAGE: "image"}


def design_label(design: str) -> str:
    """A design's short name in the report's text and tables."""
    return DESIGN_LABELS.get(design, design)

#: Relative difference below which two values count as a tie.
TIE_RTOL = 0.02


@dataclass(frozen=True)
class Row:
    """One metric of both designs (the fields ``infiltrated`` and ``cosintered`` hold the values of
    the first and the second of :attr:`designs`, which are those two by default)."""

    key: str
    spec: MetricSpec
    infiltrated: float | None  #: value of designs[0]
    cosintered: float | None  #: value of designs[1]
    ratio: float | None  #: designs[0] / designs[1]
    winner: str | None  #: one of designs, "tie" or None (informational / missing)
    rel_diff: float | None  #: (better - worse) / |worse| in the better direction, >= 0
    designs: tuple[str, str] = DESIGNS

    def to_json(self) -> dict[str, Any]:
        a, b = self.designs
        d = {"key": self.key, a: self.infiltrated, b: self.cosintered,
             f"ratio_{a}_over_{b}": self.ratio, "winner": self.winner,
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


def judge(spec: MetricSpec, inf: float | None, co: float | None,
          designs: tuple[str, str] = DESIGNS) -> tuple[str | None, float | None]:
    """``(winner, relative advantage)`` of the values of ``designs`` (first, second) under ``spec``
    (None if not judged)."""
    if spec.better is None or inf is None or co is None or not (math.isfinite(inf) and math.isfinite(co)):
        return None, None
    a, b = (abs(inf), abs(co)) if spec.better == SMALLER_MAGNITUDE else (inf, co)
    if spec.better == HIGHER:
        a, b = -a, -b  # "lower is better" from here on
    if abs(inf - co) <= spec.atol or abs(a - b) <= TIE_RTOL * max(abs(a), abs(b)):
        return "tie", 0.0
    winner, best, worst = (designs[0], a, b) if a < b else (designs[1], b, a)
    rel = abs(worst - best) / abs(worst) if worst != 0 else math.inf
    return winner, rel


def compare(inf: Mapping[str, Any], co: Mapping[str, Any], designs: tuple[str, str] = DESIGNS) -> list[Row]:
    """One :class:`Row` per metric present in either design's (nested) metrics (``inf``: the
    first of ``designs``, ``co``: the second)."""
    fi, fc = numeric_leaves(inf), numeric_leaves(co)
    rows = []
    for key in list(dict.fromkeys([*fi, *fc])):
        spec = spec_of(key)
        a, b = fi.get(key), fc.get(key)
        ratio = a / b if (a is not None and b not in (None, 0.0)) else None
        winner, rel = judge(spec, a, b, designs)
        rows.append(Row(key, spec, a, b, ratio, winner, rel, designs))
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
