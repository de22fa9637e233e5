"""Gather a sweep: ``results.csv`` (one row per case: swept values + metrics) and plots.

Metrics come from each case's ``metrics.json``, nested tables flattened with dots
(``mechanics.phases.NVP.von_mises.p95``); lists are left out (time series live in the run's
time series). Each numeric metric is plotted against each numeric swept parameter, one line
per combination of the other swept values, as ``plots/<metric>--vs--<parameter>.png``, in the
display unit of the metrics schema (:mod:`fem_electrode.run.folder`); ``columns.csv`` lists
every metric column with its unit (as stored in ``results.csv``: SI) and meaning.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fem_electrode.campaign.sweep import format_value
from fem_electrode.campaign.sweep_folder import CaseState, read_info, states
from fem_electrode.run.folder import METRICS_SCHEMA, RunFolder, is_text_key
from fem_electrode.util import atomic
from fem_electrode.util.nested import flatten

MAX_LEGEND = 12


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


@dataclass
class Results:
    """The collected table: swept keys, metric names and one row per case."""

    swept: list[str]
    metrics: list[str]
    rows: list[dict[str, Any]]
    csv_path: Path
    plots: list[Path]


def _read_metrics(row: CaseState) -> tuple[dict[str, Any], str]:
    path = RunFolder(row.dir).metrics
    if row.state != "done":
        return {}, ""
    try:
        return flatten(json.loads(path.read_text())), ""
    except FileNotFoundError:
        return {}, f"no {path.name}"
    except (OSError, json.JSONDecodeError) as exc:
        return {}, f"unreadable {path.name}: {exc}"


def collect(sweep_dir: str | os.PathLike[str], metrics: Sequence[str] = (), plots: bool = True) -> Results:
    """Write ``results.csv`` (and plots) in ``sweep_dir``; ``metrics`` are glob patterns to keep."""
    sweep_dir = Path(sweep_dir)
    cases = states(sweep_dir)
    swept = list((read_info(sweep_dir) or {}).get("swept", []))
    rows, names = [], {}
    for case in cases:
        found, note = _read_metrics(case)
        if metrics:
            found = {k: v for k, v in found.items() if any(fnmatch.fnmatch(k, m) for m in metrics)}
        names.update(dict.fromkeys(found))
        rows.append({"case": case.id, "state": case.state, "note": note or (
            case.reason if case.state != "done" else ""), **{k: case.values.get(k) for k in swept},
            **found})
    metric_names = list(names)
    header = ["case", "state", *swept, *metric_names, "note"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(h) is None else format_value(row[h]) if h in swept else row[h]
                         for h in header])
    csv_path = atomic.write_text(sweep_dir / "results.csv", buf.getvalue())
    atomic.write_text(sweep_dir / "columns.csv", _columns_csv(metric_names))
    made = plot(sweep_dir / "plots", swept, metric_names, rows) if plots else []
    return Results(swept, metric_names, rows, csv_path, made)


def _columns_csv(names: Sequence[str]) -> str:
    """Metric name, stored (SI) unit and meaning of every metric column, from the schema."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["column", "unit", "meaning"])
    for name in names:
        spec = METRICS_SCHEMA.get(name)
        if spec is not None:
            writer.writerow([name, spec.si_unit, spec.meaning])
        elif not is_text_key(name):
            writer.writerow([name, "", "not declared in the metrics schema"])
    return buf.getvalue()


def _axis(metric: str) -> tuple[str, float]:
    """Axis label and display scale of a metric (schema label and unit)."""
    spec = METRICS_SCHEMA.get(metric)
    if spec is None:
        return metric, 1.0
    return (f"{spec.label} ({spec.unit})" if spec.unit else spec.label), spec.scale


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def plot(folder: Path, swept: list[str], metrics: list[str], rows: list[dict[str, Any]]) -> list[Path]:
    """One PNG per (varying numeric metric, numeric swept parameter with >1 value), done cases."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["state"] == "done"]
    varied = [p for p in swept if len({format_value(r.get(p)) for r in done}) > 1]
    params = [p for p in varied if len({_number(r.get(p)) for r in done} - {None}) > 1]
    made = []
    for metric in metrics:
        if len({_number(r.get(metric)) for r in done} - {None}) < 2:  # constant or not numeric
            continue
        for param in params:
            others = [p for p in varied if p != param]
            groups: dict[tuple, list[tuple[float, float]]] = {}
            for r in done:
                x, y = _number(r.get(param)), _number(r.get(metric))
                if x is not None and y is not None:
                    groups.setdefault(tuple(format_value(r.get(o)) for o in others), []).append((x, y))
            ylabel, scale = _axis(metric)
            fig, ax = plt.subplots(figsize=(5.0, 3.6), layout="constrained")
            for label, pts in groups.items():
                pts.sort()
                text = ", ".join(f"{o.split('.')[-1]}={v}" for o, v in zip(others, label, strict=True))
                ax.plot([p[0] for p in pts], [scale * p[1] for p in pts], "o-", label=text or None)
            ax.set_xlabel(param)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{ylabel.split(' (')[0]} vs {param.split('.')[-1]}", fontsize=10)
            ax.grid(alpha=0.3)
            if 1 < len(groups) <= MAX_LEGEND:
                ax.legend(fontsize=7)
            target = folder / f"{_slug(metric)}--vs--{_slug(param)}.png"
            with atomic.atomic_path(target) as tmp:
                fig.savefig(tmp, dpi=110)
            plt.close(fig)
            made.append(target)
    return made
