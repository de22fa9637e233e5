"""Matplotlib figures of the comparison (PNG bytes; Agg backend, no display needed).

Colours are fixed per design (:data:`COLORS`) in every figure; each axis states its unit.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from fem_electrode.report import curves  # noqa: E402
from fem_electrode.report.comparison import IMAGE, Row, design_label, fmt  # noqa: E402
from fem_electrode.report.rundata import (  # noqa: E402
    STRESS_QUANTITIES,
    TRACTION_QUANTITIES,
    RunData,
    Samples,
)
from fem_electrode.report.seeds import SeedRow  # noqa: E402

COLORS = {"infiltrated": "#1b7fb5", "cosintered": "#d95f02", IMAGE: "#2a9d3c"}
#: The colours' names, for the captions.
COLOR_NAMES = {"infiltrated": "blue", "cosintered": "orange", IMAGE: "green"}
QUANTITY_LABELS = {"von_mises": "von Mises stress", "hydrostatic": "hydrostatic stress",
                   "max_principal": "max principal stress",
                   "normal_traction": "normal traction (> 0 opening)", "shear_traction": "shear traction"}
DPI = 110


def png(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes (and close it)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def voltage_capacity(pairs: Sequence[tuple[str, dict[str, RunData]]]) -> bytes:
    """Cell voltage against capacity, one panel per protocol, both designs in each."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(6.2 * len(pairs), 4.3), squeeze=False)
    for ax, (label, runs) in zip(axes[0], pairs, strict=True):
        xlabel = "capacity"
        for design, run in runs.items():
            xlabel = curves.capacity_unit(run.timeseries)
            for h in curves.half_cycles(run.timeseries):
                ls = "-" if h.kind == "charge" else "--"
                name = f"{design_label(design)}, {h.kind}" + (f" {h.index}" if h.index > 1 else "")
                ax.plot(h.capacity, h.voltage, ls, color=COLORS[design], lw=1.6,
                        alpha=1.0 if h.index == 1 else 0.55, label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("cell voltage vs Na/Na⁺ (V)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8, loc="best")
        else:
            ax.text(0.5, 0.5, "no voltage / current columns in timeseries.csv", ha="center",
                    transform=ax.transAxes)
    fig.tight_layout()
    return png(fig)


#: Lowest capacity retention the retention panel always shows (the paper's 90 % criterion and below).
RETENTION_FLOOR = 0.8


def damage_per_cycle(pairs: Sequence[tuple[str, dict[str, RunData]]]) -> bytes:
    """Capacity retention and active interface fraction against cycle number, both designs, one
    column per protocol (cohesive interface runs: ``metrics.json`` ``cycles``)."""
    fig, axes = plt.subplots(2, len(pairs), figsize=(5.6 * len(pairs), 6.4), squeeze=False, sharex="col")
    panels = (("capacity_retention", "capacity retention (Q_dis / Q_dis cycle 1)"),
              ("active_interface_fraction", "active NVP|NZSP interface ∫ f dA / A"))
    floors = {"capacity_retention": RETENTION_FLOOR, "active_interface_fraction": 0.0}
    for col, (label, runs) in enumerate(pairs):
        for row, (key, ylabel) in enumerate(panels):
            ax = axes[row][col]
            for design, run in runs.items():
                cycles = run.metrics.get("cycles") or []
                pts = [(c["cycle"], c[key]) for c in cycles if c.get(key) is not None]
                if pts:
                    n, v = zip(*pts, strict=True)
                    ax.plot(n, v, "o-", color=COLORS[design], label=design_label(design))
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            # a fixed scale from a floor to just above 1: a 0.2 % change must not fill the panel
            values = [y for line in ax.lines for y in line.get_ydata()]
            ax.set_ylim(min([floors[key], *values]) - 0.02, max([1.0, *values]) + 0.02)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if row == 0:
                ax.set_title(label)
            else:
                ax.set_xlabel("cycle")
            if ax.lines:
                ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return png(fig)


def bar_panels(rows: Sequence[Row], title: str, ncols: int = 4) -> bytes:
    """One small two-bar panel per metric (its own unit), value printed on each bar."""
    rows = [r for r in rows if r.infiltrated is not None or r.cosintered is not None]
    n = max(len(rows), 1)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 2.9 * nrows), squeeze=False)
    for ax, row in zip(axes.flat, rows, strict=False):
        vals = [row.infiltrated, row.cosintered]
        shown = [0.0 if v is None else v * row.spec.scale for v in vals]
        bars = ax.bar([design_label(d) for d in row.designs], shown, color=[COLORS[d] for d in row.designs])
        for bar, v in zip(bars, vals, strict=True):
            ax.annotate(fmt(v, row.spec), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom" if bar.get_height() >= 0 else "top", fontsize=8)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(_wrap(row.spec.label, 30), fontsize=9)
        ax.set_ylabel(row.spec.unit or "–", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.margins(y=0.18)
        if row.winner in row.designs:
            ax.text(0.02, 0.97, f"better: {design_label(row.winner)}", transform=ax.transAxes,
                    fontsize=7, va="top", color=COLORS[row.winner])
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    if not rows:
        axes.flat[0].text(0.5, 0.5, "no metrics", ha="center", transform=axes.flat[0].transAxes)
    fig.suptitle(title)
    fig.tight_layout()
    return png(fig)


def seed_panels(rows: Sequence[SeedRow], title: str, ncols: int = 4) -> bytes:
    """One panel per metric: every seed's value (dots) and the mean with its 95 % interval
    (error bar) per design; the verdict in the corner."""
    n = max(len(rows), 1)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 2.9 * nrows), squeeze=False)
    for ax, row in zip(axes.flat, rows, strict=False):
        for k, d in enumerate(row.designs):
            sp = row.spreads[d]
            err = (sp.half_width or 0.0) * row.spec.scale
            ax.errorbar([k], [sp.mean * row.spec.scale], yerr=[err], fmt="o", color=COLORS[d], capsize=6,
                        ms=7)
            seeds = row.values[d]
            ax.plot(k + 0.18 + 0.0 * np.asarray(seeds), np.asarray(seeds) * row.spec.scale, ".",
                    color=COLORS[d], alpha=0.6)
        ax.set_xticks(range(len(row.designs)), [design_label(d) for d in row.designs])
        ax.set_xlim(-0.6, len(row.designs) - 0.4)
        ax.set_title(_wrap(row.spec.label, 30), fontsize=9)
        ax.set_ylabel(row.spec.unit or "–", fontsize=8)
        ax.tick_params(labelsize=8)
        verdict = design_label(row.winner or "")
        if verdict:
            ax.text(0.02, 0.97, f"better: {verdict}" if row.winner in row.designs else verdict,
                    transform=ax.transAxes, fontsize=7, va="top",
                    color=COLORS.get(row.winner or "", "0.3"))
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return png(fig)


def _wrap(text: str, width: int) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return "\n".join([*lines, cur])


def _cdf(ax: plt.Axes, s: Samples, color: str, label: str, scale: float = 1e-6) -> None:
    order = np.argsort(s.values)
    v, w = s.values[order] * scale, s.weights[order]
    ax.plot(v, np.cumsum(w) / w.sum(), color=color, lw=1.6, label=label)


def stress_cdfs(runs: dict[str, RunData], phases: Sequence[str], strengths: dict[str, float],
                references: dict[str, dict[str, tuple[float, str]]]) -> bytes:
    """Volume-weighted CDFs of each stress measure per phase, both designs.

    ``strengths``: phase -> fracture strength (Pa), drawn on the max-principal panels;
    ``references``: quantity -> {name: (value Pa, text)} closed-form levels drawn on NVP panels.
    """
    fig, axes = plt.subplots(len(phases), len(STRESS_QUANTITIES),
                             figsize=(4.2 * len(STRESS_QUANTITIES), 3.3 * len(phases)), squeeze=False)
    for i, phase in enumerate(phases):
        for j, qty in enumerate(STRESS_QUANTITIES):
            ax = axes[i, j]
            for design, run in runs.items():
                s = run.stress.get(phase, {}).get(qty)
                if s is not None and s.values.size:
                    _cdf(ax, s, COLORS[design], design_label(design))
            if qty == "max_principal" and phase in strengths:
                ax.axvline(strengths[phase] * 1e-6, color="crimson", ls=":", lw=1.4,
                           label=f"strength {strengths[phase] * 1e-6:.0f} MPa")
            if phase == "NVP":
                for k, (value, text) in enumerate(references.get(qty, {}).values()):
                    ax.axvline(value * 1e-6, color="0.35", ls=("--", "-.")[k % 2], lw=1.0, label=text)
            ax.set_title(f"{phase}: {QUANTITY_LABELS[qty]}", fontsize=10)
            ax.set_xlabel("stress (MPa)")
            ax.set_ylabel("volume fraction ≤ value")
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return png(fig)


def traction_cdfs(runs: dict[str, RunData], strength: float | None) -> bytes:
    """Area-weighted CDFs of the interface normal and shear tractions, both designs."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, qty in zip(axes, TRACTION_QUANTITIES, strict=True):
        for design, run in runs.items():
            s = run.stress.get("interface", {}).get(qty)
            if s is not None and s.values.size:
                _cdf(ax, s, COLORS[design], design_label(design))
        if strength is not None:
            ax.axvline(strength * 1e-6, color="crimson", ls=":", lw=1.4,
                       label=f"interface strength {strength * 1e-6:.0f} MPa")
        ax.set_title(f"NVP|NZSP interface: {QUANTITY_LABELS[qty]}", fontsize=10)
        ax.set_xlabel("traction (MPa)")
        ax.set_ylabel("interface area fraction ≤ value")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return png(fig)


def percentile_ladders(rows: Sequence[Row], title: str) -> bytes:
    """Fallback without per-cell samples: mean / p95 / p99 / max of each stress, both designs."""
    groups: dict[str, list[Row]] = {}
    for r in rows:
        head, _, stat = r.key.rpartition(".")
        if stat in ("mean", "p95", "p99", "max"):
            groups.setdefault(head, []).append(r)
    n = max(len(groups), 1)
    ncols = min(3, n)
    fig, axes = plt.subplots(math.ceil(n / ncols), ncols, figsize=(4.2 * ncols, 3.0 * math.ceil(n / ncols)),
                             squeeze=False)
    order = {"mean": 0, "p95": 1, "p99": 2, "max": 3}
    for ax, rs in zip(axes.flat, groups.values(), strict=False):
        rs = sorted(rs, key=lambda r: order[r.key.rpartition(".")[2]])
        stats = [r.key.rpartition(".")[2] for r in rs]
        for k, design in enumerate(rs[0].designs):
            vals = [((r.infiltrated, r.cosintered)[k] or np.nan) * r.spec.scale for r in rs]
            ax.plot(np.arange(len(rs)) + (k - 0.5) * 0.12, vals, "o-", color=COLORS[design],
                    label=design_label(design))
        ax.set_xticks(range(len(rs)), stats)
        ax.set_title(_wrap(rs[0].spec.label.rsplit(",", 1)[0], 36), fontsize=9)
        ax.set_ylabel(rs[0].spec.unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return png(fig)
