"""The design map: a sweep of `fem-electrode scale` cases over porosity × layer thickness (and
seeds), read back as energy density, internal resistance and mechanical risk per design point,
with the feasible region and the Pareto front.

Each case folder's ``metrics.json`` holds the ``electrode`` block of :mod:`fem_electrode.run.
electrode_scale` (the effective properties, one prediction per electrode thickness × C-rate,
the resistance fit per thickness) and the RVE's ``mechanics`` block (full desodiation). The
cases are grouped by the swept keys other than ``geometry.seed``; every quantity of a group is
given as mean ± 95 % interval over its seeds (:func:`fem_electrode.report.seeds.spread`).

A point is *feasible* when (i) every seed built and ran, (ii) the discharge capacity at the
highest C-rate keeps at least ``min_rate_retention`` of the lowest rate's (the electrode can be
cycled at that rate), and (iii) the mechanical risk stays below its limit: the interface contact
lost at full desodiation (1 − active interface fraction) of a cohesive run (default limit 0.2), or
the layer's thin-film delamination ratio G/G_c of a bonded one (limit 1). The Pareto front is
taken over the feasible points in (energy density at the highest rate ↑, internal resistance ↓,
mechanical risk ↓) on the seed means. The optimum is the feasible point with the highest energy
density at the highest rate; a feasible point whose energy interval overlaps the optimum's is
reported as not distinguishable from it at the seeds run.
Units: Wh/L and Wh/kg of the composite electrode layer, Ω cm² of projected area.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fem_electrode.campaign.sweep import format_value
from fem_electrode.campaign.sweep_folder import read_info, states
from fem_electrode.config import Case, load_case
from fem_electrode.report.seeds import Spread, fmt_interval, spread
from fem_electrode.run.folder import MetricSpec, RunFolder
from fem_electrode.util import atomic

#: Case states that mean "not finished yet" (not a failure of the design point).
PENDING = ("created", "queued", "running")
#: The swept key that counts repetitions (not a design variable).
SEED_KEY = "geometry.seed"
#: Design variables of the map, in the order the figure uses them (x, y).
AXES = ("geometry.porosity", "geometry.layer_thickness")
#: The two kinds of mechanical risk, and the default limit of each (feasible below it).
RISK_CONTACT = "interface contact lost at full desodiation (cohesive)"
RISK_FILM = "thin-film delamination G/G_c at full desodiation (bonded)"
MAX_RISK = {RISK_CONTACT: 0.2, RISK_FILM: 1.0}
#: Default of the rate limit: discharge capacity at the highest rate / at the lowest rate.
MIN_RATE_RETENTION = 0.8
#: The NVP fraction shown in vol%.
NVP_PERCENT = MetricSpec("fraction_nvp", "NVP fraction", "-", "vol%", 100.0)
#: Ω m² → Ω cm².
OHM_M2_TO_OHM_CM2 = 1e4


@dataclass
class Point:
    """One design point (a group of seeds) and its figures, each a :class:`Spread` over the seeds."""

    values: dict[str, Any]
    seeds: int
    failed: int  #: seeds that ended without a result (failed, interrupted)
    thickness_um: float
    energy_Wh_per_L: dict[float, Spread] = field(default_factory=dict)  #: by C-rate
    energy_Wh_per_kg: dict[float, Spread] = field(default_factory=dict)
    capacity_mAh_per_g: dict[float, Spread] = field(default_factory=dict)
    resistance_ohm_cm2: Spread | None = None
    risk: Spread | None = None
    risk_kind: str = ""
    pending: int = 0  #: seeds not finished yet (created, queued, running)
    nvp_fraction: Spread | None = None
    feasible: bool = False
    why_not: list[str] = field(default_factory=list)
    pareto: bool = False

    def label(self) -> str:
        return ", ".join(f"{k.split('.')[-1]} {format_value(v)}" for k, v in self.values.items())


def _prediction(block: dict[str, Any], thickness_um: float) -> dict[float, dict[str, Any]]:
    """The predictions of one case at ``thickness_um``, by C-rate."""
    return {float(p["c_rate"]): p for p in block.get("predictions", [])
            if math.isclose(float(p["thickness_um"]), thickness_um, rel_tol=1e-9)
            and p.get("basis", "c_rate") == "c_rate"}


def _risk(metrics: dict[str, Any]) -> tuple[str, float] | None:
    """The mechanical-risk figure of one case and its kind: the interface contact lost at full
    desodiation (1 − active interface fraction) of a cohesive run, else the layer's thin-film
    delamination ratio G/G_c (bonded)."""
    damage = metrics.get("interface_damage")
    if damage and damage.get("active_interface_fraction") is not None:
        return RISK_CONTACT, 1.0 - float(damage["active_interface_fraction"])
    film = (metrics.get("mechanics") or {}).get("thin_film") or {}
    ratio = film.get("delamination_ratio")
    return None if ratio is None else (RISK_FILM, float(ratio))


#: Keys a design map may change without running the cases again (``--set``): they change neither
#: the microstructure, its cell problems' tortuosities nor the mechanics, so the effective
#: properties in each case's metrics (conductivities rescaled with the bulk values) and its
#: mechanical risk stay valid, and only the homogenized model runs again (seconds per case).
RECOMPUTABLE: dict[str, tuple[str, ...] | None] = {
    "materials": ("sigma_s_nvp", "sigma_e_nzsp", "D_nvp", "density_nzsp"),
    "electrochemistry": None,  # every key
    "protocol": None,
    "electrode": ("thickness", "c_rates", "current_densities", "diffusion_geometry", "nodes_thickness",
                  "nodes_particle"),
}


def check_overrides(overrides: dict[str, dict[str, Any]]) -> None:
    """Raise ValueError naming every key that cannot be changed without running the cases again."""
    bad = []
    for sec, keys in overrides.items():
        allowed_keys = RECOMPUTABLE.get(sec, ())
        bad += [f"{sec}.{k}" for k in keys if allowed_keys is not None and k not in allowed_keys]
    if bad:
        allowed = "; ".join(f"[{sec}] " + (", ".join(keys) if keys else "every key")
                            for sec, keys in RECOMPUTABLE.items())
        raise ValueError(f"--set {', '.join(bad)}: changes the microstructure, its cell problems or the "
                         f"mechanics, so the cases must run again; allowed here: {allowed}")


def repredict(metrics: dict[str, Any], case: Case, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``metrics`` of a `scale` case with its predictions and resistances made again for ``case``
    with ``overrides`` (:data:`RECOMPUTABLE` keys), from its stored effective properties."""
    from fem_electrode.physics.effective_medium import EffectiveProperties
    from fem_electrode.run.electrode_scale import model_properties, predictions

    new = case.replace(**overrides)
    eff = metrics["electrode"]["effective"]
    names = {f.name for f in dataclasses.fields(EffectiveProperties)}
    used = model_properties(case, EffectiveProperties.from_dict({k: v for k, v in eff.items() if k in names}))
    m, n = case.materials, new.materials
    used = dataclasses.replace(used, kappa_ion=used.kappa_ion * n.sigma_e_nzsp / m.sigma_e_nzsp,
                               sigma_electronic=used.sigma_electronic * n.sigma_s_nvp / m.sigma_s_nvp)
    preds, resistances, _, failed = predictions(new, used)
    out = copy.deepcopy(metrics)
    out["electrode"].update(predictions=preds, resistance=resistances, repredicted_with=overrides,
                            repredict_failed=failed)
    return out


def read_points(sweep_dir: str | os.PathLike[str], thickness_um: float | None = None,
                overrides: dict[str, dict[str, Any]] | None = None) -> tuple[list[Point], float]:
    """Group the sweep's cases into design points (seeds pooled); ``thickness_um``: which electrode
    thickness of the predictions to use (default: the largest the cases predicted); ``overrides``:
    predict again with these :data:`RECOMPUTABLE` keys changed (:func:`repredict`)."""
    if overrides:
        check_overrides(overrides)
    rows = states(sweep_dir)
    swept = [k for k in (read_info(sweep_dir) or {}).get("swept", []) if k != SEED_KEY]
    groups: dict[tuple, list[tuple[str, dict[str, Any] | None]]] = {}
    values: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = tuple(format_value(row.values.get(k)) for k in swept)
        values[key] = {k: row.values.get(k) for k in swept}
        metrics = None
        if row.state == "done":
            try:
                metrics = json.loads(RunFolder(row.dir).metrics.read_text())
            except (OSError, ValueError):
                metrics = None
            if metrics is not None and "electrode" not in metrics:
                raise ValueError(f"{row.dir}: metrics.json has no 'electrode' block; the design map reads "
                                 "`fem-electrode scale` cases (sweep [run] command)")
            if metrics is not None and overrides:
                metrics = repredict(metrics, load_case(RunFolder(row.dir).case), overrides)
        groups.setdefault(key, []).append((row.state, metrics))
    if thickness_um is None:
        found = [float(p["thickness_um"]) for runs in groups.values() for _, m in runs if m
                 for p in m["electrode"].get("predictions", [])]
        if not found:
            raise ValueError(f"{sweep_dir}: no finished case with predictions")
        thickness_um = max(found)
    points = []
    for key, runs in groups.items():
        ok = [m for _, m in runs if m is not None]
        pending = sum(state in PENDING for state, m in runs if m is None)
        point = Point(values[key], seeds=len(ok), failed=len(runs) - len(ok) - pending,
                      thickness_um=thickness_um, pending=pending)
        preds = [_prediction(m["electrode"], thickness_um) for m in ok]
        rates = sorted(set.intersection(*(set(p) for p in preds))) if preds else []
        for rate in rates:
            point.energy_Wh_per_L[rate] = spread([p[rate]["energy_discharge_Wh_per_L"] for p in preds])
            point.energy_Wh_per_kg[rate] = spread([p[rate]["energy_discharge_Wh_per_kg"] for p in preds])
            point.capacity_mAh_per_g[rate] = spread([p[rate]["discharge_capacity_mAh_per_g"] for p in preds])
        res = [r["R_ohm_m2"] for m in ok for r in m["electrode"].get("resistance", [])
               if math.isclose(float(r["thickness_um"]), thickness_um, rel_tol=1e-9)
               and r["R_ohm_m2"] is not None]
        if res and len(res) == len(ok):
            point.resistance_ohm_cm2 = spread(np.asarray(res) * OHM_M2_TO_OHM_CM2)
        risks = [_risk(m) for m in ok]
        kinds = {r[0] for r in risks if r is not None}
        if ok and all(r is not None for r in risks) and len(kinds) == 1:
            point.risk = spread([r[1] for r in risks if r is not None])
            point.risk_kind = kinds.pop()
        fractions = [m["electrode"]["effective"]["fraction_nvp"] for m in ok]
        if fractions:
            point.nvp_fraction = spread(fractions)
        points.append(point)
    return points, thickness_um


def judge(points: Sequence[Point], min_rate_retention: float = MIN_RATE_RETENTION,
          max_risk: float | None = None) -> None:
    """Mark each point feasible or not (with the reasons), and the Pareto front among the feasible;
    ``max_risk`` None: the default limit of the points' kind of risk (:data:`MAX_RISK`)."""
    for p in points:
        limit = max_risk if max_risk is not None else MAX_RISK.get(p.risk_kind, math.inf)
        p.why_not = []
        total = p.seeds + p.failed + p.pending
        if p.pending:
            p.why_not.append(f"{p.pending} of {total} seed(s) not finished yet")
        if p.failed:
            p.why_not.append(f"{p.failed} of {total} seed(s) did not build or run")
        rates = sorted(p.capacity_mAh_per_g)
        if len(rates) >= 2:
            keep = p.capacity_mAh_per_g[rates[-1]].mean / p.capacity_mAh_per_g[rates[0]].mean
            if keep < min_rate_retention:
                p.why_not.append(f"{rates[-1]:g} C keeps {100 * keep:.0f} % of the {rates[0]:g} C capacity "
                                 f"(< {100 * min_rate_retention:.0f} %)")
        if p.risk is None:
            p.why_not.append("no mechanical risk figure")
        elif p.risk.mean >= limit:
            p.why_not.append(f"mechanical risk {p.risk.mean:.3g} >= {limit:g} ({p.risk_kind})")
        if p.resistance_ohm_cm2 is None:
            p.why_not.append("no resistance")
        p.feasible = not p.why_not
    feasible = [p for p in points if p.feasible]
    for p in points:
        p.pareto = p.feasible and not any(_dominates(q, p) for q in feasible if q is not p)


def objectives(p: Point) -> tuple[float, float, float]:
    """(energy density at the highest rate, −resistance, −risk): larger is better in each."""
    rate = max(p.energy_Wh_per_L)
    assert p.resistance_ohm_cm2 is not None and p.risk is not None
    return p.energy_Wh_per_L[rate].mean, -p.resistance_ohm_cm2.mean, -p.risk.mean


def _dominates(q: Point, p: Point) -> bool:
    a, b = objectives(q), objectives(p)
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def optimum(points: Sequence[Point]) -> tuple[Point | None, list[Point]]:
    """The feasible point with the highest energy density at the highest C-rate, and the feasible
    points that cannot be told from it at the seeds run (their energy intervals overlap)."""
    feasible = [p for p in points if p.feasible]
    if not feasible:
        return None, []
    best = max(feasible, key=lambda p: objectives(p)[0])
    rate = max(best.energy_Wh_per_L)
    b = best.energy_Wh_per_L[rate]
    close = [p for p in feasible if p is not best and p.energy_Wh_per_L[rate].high >= b.low]
    return best, close


def _fmt(s: Spread | None, spec: MetricSpec | None = None) -> str:
    """'mean ± half-width' (the report's format), "–" where there is no value."""
    return "–" if s is None else fmt_interval(s, spec)


def table(points: Sequence[Point]) -> str:
    """Markdown table of the points."""
    rates = sorted({r for p in points for r in p.energy_Wh_per_L})
    head = (["point", "seeds", "NVP vol%"] + [f"Wh/L @ {r:g} C" for r in rates]
            + [f"Wh/kg @ {r:g} C" for r in rates] + ["R (Ω cm²)", "risk", "feasible", "Pareto"])
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in sorted(points, key=lambda p: tuple(format_value(v) for v in p.values.values())):
        cells = ([p.label(), str(p.seeds), _fmt(p.nvp_fraction, NVP_PERCENT)]
                 + [_fmt(p.energy_Wh_per_L.get(r)) for r in rates]
                 + [_fmt(p.energy_Wh_per_kg.get(r)) for r in rates]
                 + [_fmt(p.resistance_ohm_cm2), _fmt(p.risk),
                    "yes" if p.feasible else "no: " + "; ".join(p.why_not), "yes" if p.pareto else ""])
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def figure(points: Sequence[Point], path: Path, thickness_um: float) -> Path:
    """Four panels: energy density over the (porosity, layer thickness) plane at the lowest and the
    highest C-rate, resistance and risk over the plane, and energy vs resistance with the Pareto front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = sorted({r for p in points for r in p.energy_Wh_per_L})
    xs = [float(p.values.get(AXES[0], math.nan)) for p in points]
    ys = [float(p.values.get(AXES[1], math.nan)) for p in points]
    fig, axes = plt.subplots(2, 2, figsize=(10.0, 8.0), layout="constrained")

    def plane(ax: Any, vals: list[float | None], title: str, cmap: str) -> None:
        v = np.array([math.nan if x is None else x for x in vals], dtype=float)
        sc = ax.scatter(xs, ys, c=v, s=260, cmap=cmap, edgecolors="k")
        for x, y, p, val in zip(xs, ys, points, v, strict=True):
            text = (f"{val:.3g}" if math.isfinite(val) else "pending" if p.pending and not p.seeds
                    else "failed" if not p.seeds else "–")
            ax.annotate(text, (x, y), fontsize=7,
                        ha="center", va="center", color="w" if p.feasible else "0.2")
            if not p.feasible:
                ax.scatter([x], [y], s=420, marker="x", color="tab:red", linewidths=1.0)
        fig.colorbar(sc, ax=ax)
        ax.set_xlabel("porosity (-)")
        ax.set_ylabel("NVP layer thickness (µm)")
        ax.set_title(title, fontsize=9)

    hi = rates[-1] if rates else None
    if hi is not None:
        plane(axes[0, 0], [p.energy_Wh_per_L[hi].mean if hi in p.energy_Wh_per_L else None for p in points],
              f"energy density at {hi:g} C, {thickness_um:g} µm layer (Wh/L; x: infeasible)", "viridis")
    plane(axes[0, 1], [None if p.resistance_ohm_cm2 is None else p.resistance_ohm_cm2.mean for p in points],
          f"internal resistance at {thickness_um:g} µm (Ω cm²)", "magma_r")
    plane(axes[1, 0], [None if p.risk is None else p.risk.mean for p in points],
          "mechanical risk: " + (points[0].risk_kind if points else ""), "coolwarm")
    ax = axes[1, 1]
    for p in points:
        if hi is None or hi not in p.energy_Wh_per_L or p.resistance_ohm_cm2 is None:
            continue
        e, r = p.energy_Wh_per_L[hi], p.resistance_ohm_cm2
        color = "tab:green" if p.pareto else ("tab:blue" if p.feasible else "0.6")
        ax.errorbar([r.mean], [e.mean], xerr=[r.half_width or 0.0], yerr=[e.half_width or 0.0], fmt="o",
                    color=color, capsize=3)
        ax.annotate(p.label().replace("porosity ", "ε ").replace("layer_thickness ", "t "), (r.mean, e.mean),
                    fontsize=6, xytext=(3, 3), textcoords="offset points")
    front = sorted((p for p in points if p.pareto), key=lambda p: p.resistance_ohm_cm2.mean
                   if p.resistance_ohm_cm2 else 0.0)
    if front and hi is not None:
        ax.plot([p.resistance_ohm_cm2.mean for p in front if p.resistance_ohm_cm2],
                [p.energy_Wh_per_L[hi].mean for p in front], "-", color="tab:green", label="Pareto front")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"internal resistance at {thickness_um:g} µm (Ω cm²)")
    ax.set_ylabel(f"energy density at {hi:g} C (Wh/L)" if hi is not None else "energy density")
    ax.set_title("feasible (blue), Pareto (green), infeasible (grey); bars: 95 % over seeds", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(sweep_dir: str | os.PathLike[str], thickness_um: float | None = None,
          min_rate_retention: float = MIN_RATE_RETENTION, max_risk: float | None = None,
          overrides: dict[str, dict[str, Any]] | None = None, name: str = "design-map") -> dict[str, Path]:
    """Read the sweep, judge the points, write ``<name>.json``, ``<name>.md`` and ``<name>.png`` into
    the sweep folder; returns their paths. ``overrides``: predict again with these keys changed."""
    sweep_dir = Path(sweep_dir)
    points, thickness = read_points(sweep_dir, thickness_um, overrides)
    judge(points, min_rate_retention, max_risk)
    best, close = optimum(points)
    paths = {"png": figure(points, sweep_dir / f"{name}.png", thickness)}
    rates = sorted({r for p in points for r in p.energy_Wh_per_L})
    if best is None:
        verdict = "No point of the map is feasible under these limits."
    else:
        hi = max(best.energy_Wh_per_L)
        verdict = (f"Optimum (highest energy density at {hi:g} C among the feasible points): {best.label()}, "
                   f"{_fmt(best.energy_Wh_per_L[hi])} Wh/L, {_fmt(best.energy_Wh_per_kg[hi])} Wh/kg, "
                   f"R = {_fmt(best.resistance_ohm_cm2)} Ω cm², risk {_fmt(best.risk)}. ")
        if best.seeds < 2:
            verdict += "One seed per point: no interval; how sure it is cannot be said."
        elif close:
            verdict += ("Not distinguishable at the seeds run from: " + "; ".join(p.label() for p in close)
                        + " (their energy intervals overlap the optimum's).")
        else:
            verdict += (f"Its energy interval separates from every other feasible point's at {best.seeds} "
                        "seeds.")
    kinds = sorted({p.risk_kind for p in points if p.risk_kind})
    limits = "; ".join(f"{k} < {max_risk if max_risk is not None else MAX_RISK[k]:g}" for k in kinds)
    what_if = ("" if not overrides else " — predicted again with " + ", ".join(
        f"{sec}.{k} = {v!r}" for sec, kv in overrides.items() for k, v in kv.items()))
    md = [f"# Design map: {sweep_dir.name}{what_if}", "",
          f"Electrode layer {thickness:g} µm; C-rates {', '.join(f'{r:g}' for r in rates)}; feasible: "
          f"every seed ran, the highest rate keeps ≥ {100 * min_rate_retention:.0f} % of the lowest rate's "
          f"capacity, mechanical risk: {limits or 'none computed'}. Values: mean ± 95 % interval over the "
          "seeds.", "",
          verdict, "", table(points), "", f"![design map]({name}.png)", ""]
    paths["md"] = atomic.write_text(sweep_dir / f"{name}.md", "\n".join(md))
    data = {"thickness_um": thickness, "min_rate_retention": min_rate_retention,
            "max_risk": {k: max_risk if max_risk is not None else MAX_RISK[k] for k in kinds},
            "verdict": verdict, "optimum": None if best is None else best.values,
            "overrides": overrides or {},
            "points": [_point_dict(p) for p in points]}
    paths["json"] = atomic.write_json(sweep_dir / f"{name}.json", data)
    return paths


def _point_dict(p: Point) -> dict[str, Any]:
    def s(x: Spread | None) -> dict[str, Any] | None:
        return None if x is None else {"mean": x.mean, "half_width_95": x.half_width, "n": x.n}

    return {"values": p.values, "seeds": p.seeds, "failed": p.failed, "pending": p.pending,
            "feasible": p.feasible,
            "why_not": p.why_not, "pareto": p.pareto, "nvp_fraction": s(p.nvp_fraction),
            "energy_Wh_per_L": {f"{r:g}": s(v) for r, v in p.energy_Wh_per_L.items()},
            "energy_Wh_per_kg": {f"{r:g}": s(v) for r, v in p.energy_Wh_per_kg.items()},
            "capacity_mAh_per_g": {f"{r:g}": s(v) for r, v in p.capacity_mAh_per_g.items()},
            "resistance_ohm_cm2": s(p.resistance_ohm_cm2), "risk": s(p.risk), "risk_kind": p.risk_kind}
