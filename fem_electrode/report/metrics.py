"""Metric bookkeeping: flatten nested metrics, classify each one, compare two designs.

Each flattened key (``mechanics.NVP.von_mises.p95``) gets a :class:`MetricSpec` from its
name: a label, a display unit, which direction is better (or none: informational), a
group, and whether the verdict may use it. The winner of a metric is decided only from
the two numbers and that direction, never assumed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from fem_electrode import nested

DESIGNS = ("infiltrated", "cosintered")
DESIGN_LABELS = {"infiltrated": "infiltrated", "cosintered": "co-sintered"}

#: Relative difference below which two values count as a tie.
TIE_RTOL = 0.02

HIGHER, LOWER, SMALLER_MAGNITUDE = "higher", "lower", "smaller magnitude"

#: Stresses closer than this (Pa) are a tie whatever their ratio (near-zero means, e.g. the
#: hydrostatic stress of a matrix in balance, would otherwise give meaningless ratios).
STRESS_ATOL = 5e6


@dataclass(frozen=True)
class MetricSpec:
    """How one metric is shown and judged."""

    label: str
    unit: str = ""
    scale: float = 1.0  #: display value = SI value * scale
    better: str | None = None  #: HIGHER, LOWER, SMALLER_MAGNITUDE or None (informational)
    group: str = "other"  #: electrochemistry, stress, interface, energy, fracture, run, other
    verdict: bool = True  #: False: shown, but not used for the verdict (e.g. singular maxima)
    atol: float = 0.0  #: absolute tolerance (SI) below which a difference is a tie
    note: str = ""  #: why the metric is not used for the verdict


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
        d.update({f"spec_{k}": v for k, v in asdict(self.spec).items()})
        return d


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested mapping as ``{"a.b.c": value}`` (bools, strings and lists skipped)."""
    return {name: float(value) for name, value in nested.flatten(data, prefix).items()
            if isinstance(value, int | float) and not isinstance(value, bool)}


_PHASES = {"nvp": "NVP", "nzsp": "NZSP"}
_STATS = {"mean": "mean", "p95": "95th pct.", "p99": "99th pct.", "max": "max", "min": "min",
          "p05": "5th pct.", "p01": "1st pct.", "median": "median", "p50": "median", "std": "std"}
_UNIT_SUFFIXES = (  # key suffix -> (display unit, scale to display); longest first
    ("_mah_per_g", "mAh/g", 1.0), ("_j_per_m3", "MJ/m³", 1e-6), ("_j_per_m2", "J/m²", 1.0),
    ("_a_per_m2", "A/m²", 1.0), ("_mol_per_m3", "mol/m³", 1.0), ("_ohm_m2", "Ω cm²", 1e4),
    ("_m2", "µm²", 1e12), ("_m3", "µm³", 1e18), ("_kg", "pg", 1e15),
    ("_mpa", "MPa", 1.0), ("_gpa", "GPa", 1.0), ("_pa", "MPa", 1e-6), ("_mv", "mV", 1.0),
    ("_v", "mV", 1e3), ("_j", "nJ", 1e9), ("_s", "s", 1.0), ("_a", "A", 1.0), ("_percent", "%", 1.0),
)


#: Units of informational leaves (SI -> display).
_INFO_UNITS = {"strength": ("MPa", 1e-6), "volume": ("µm³", 1e18), "area": ("µm²", 1e12)}


def _words(key: str) -> str:
    return key.lower().replace("-", "_")


_NAMES = {"interface_nvp_nzsp": "NVP|NZSP interface", "pore_wall_nvp": "NVP pore wall",
          "pore_wall_nzsp": "NZSP pore wall"}


def _pretty(key: str) -> str:
    """A readable label from a dotted key: phase first, statistics spelled out."""
    parts = []
    for p in key.split("."):
        if p in _NAMES:
            parts.append(_NAMES[p])
            continue
        low = p.lower()
        if low in _PHASES:
            parts.append(_PHASES[low])
        elif low in _STATS:
            parts.append(_STATS[low])
        else:
            for suffix, _, _ in _UNIT_SUFFIXES:
                if low.endswith(suffix) and len(low) > len(suffix):
                    p = p[: -len(suffix)]
                    break
            parts.append(p.replace("_", " "))
    return ", ".join(x for x in parts if x not in ("mechanics", "phases"))


def _unit(key: str, default: tuple[str, float]) -> tuple[str, float]:
    leaf = _words(key.split(".")[-1])
    for p in reversed(_words(key).split(".")):  # the suffix may sit on an enclosing key
        for suffix, unit, scale in _UNIT_SUFFIXES:
            if p.endswith(suffix) and not (suffix == "_s" and p.endswith("_stats")):
                return unit, scale
        if p != leaf:
            break
    return default


def classify(key: str) -> MetricSpec:
    """The :class:`MetricSpec` of a flattened metric key (rules on the words in the key)."""
    k = _words(key)
    label = _pretty(key)
    leaf = k.split(".")[-1]
    if re.match(r"^(solver|conservation|timing|wall|runtime|steps|newton|mesh|dofs)", k) or any(
            w in k for w in ("wall_time", "newton", "iterations", "n_steps", "dofs", "error")):
        return MetricSpec(label, *_unit(key, ("", 1.0)), group="run")
    if k.startswith("units.") or ".units." in k:
        return MetricSpec(label, group="other")
    if "capacity" in k:
        return MetricSpec(label, *_unit(key, ("mAh/g", 1.0)), better=HIGHER, group="electrochemistry")
    if "coulombic" in k:
        return MetricSpec(label, *_unit(key, ("", 1.0)), better=HIGHER, group="electrochemistry")
    if "polari" in k or "overpotential" in k or "resistance" in k:
        return MetricSpec(label, *_unit(key, ("mV", 1e3)), better=LOWER, group="electrochemistry")
    if "accommodation" in k:
        return MetricSpec(label, "", 1.0, better=HIGHER, group="energy")
    if "thin_film" in k or "energy_release" in k:
        if leaf.startswith("g_") or leaf == "g":
            return MetricSpec(label, *_unit(key, ("J/m²", 1.0)), better=LOWER, group="fracture")
        if leaf.endswith("ratio"):
            return MetricSpec(label, "", 1.0, better=LOWER, group="fracture")
        if leaf == "h":
            return MetricSpec(label, "µm", 1e6, group="fracture")
        if leaf.startswith("sigma"):
            return MetricSpec(label, "MPa", 1e-6, group="fracture")
        if leaf.startswith("gc"):
            return MetricSpec(label, "J/m²", 1.0, group="fracture")
        return MetricSpec(label, *_unit(key, ("", 1.0)), group="fracture")
    if "fraction" in k and any(w in k for w in ("above", "exceed", "strength", "fail")):
        duplicate = "max_principal" in k  # = the phase's fraction_above_strength
        return MetricSpec(label, "%", 100.0, better=LOWER, group="fracture", atol=1e-3,
                          verdict=not duplicate,
                          note="same as the fraction above strength" if duplicate else "")
    if "energy" in k:
        per_volume = any(w in k for w in ("per_volume", "density", "per_nvp", "per_m3"))
        unit = ("MJ/m³", 1e-6) if per_volume else ("nJ", 1e9)
        return MetricSpec(label, *_unit(key, unit), better=LOWER, group="energy")
    if leaf in _INFO_UNITS:
        return MetricSpec(label, *_INFO_UNITS[leaf], group="other")
    if "trace" in k:
        return MetricSpec(label, group="other")
    stressy = any(w in k for w in ("von_mises", "max_principal", "traction", "shear", "hydrostatic",
                                    "stress"))
    if stressy and not any(w in k for w in ("count", "area", "volume")):
        group = "interface" if ("traction" in k or "interface" in k) else "stress"
        better = SMALLER_MAGNITUDE if ("hydrostatic" in k or "shear" in k) else LOWER
        extreme = leaf in ("max", "min")
        return MetricSpec(label, *_unit(key, ("MPa", 1e-6)), better=better, group=group,
                          verdict=not extreme, atol=STRESS_ATOL,
                          note="extreme value, set by mesh-dependent re-entrant corners" if extreme else "")
    return MetricSpec(label, *_unit(key, ("", 1.0)), group="other")


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
    fi, fc = flatten(inf), flatten(co)
    rows = []
    for key in list(dict.fromkeys([*fi, *fc])):
        spec = classify(key)
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
