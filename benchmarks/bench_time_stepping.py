"""Time stepping: the Newton-count rule against the error-controlled steps, on the same case and
machine in one run, with a reference of 8× smaller steps for the accuracy.

Three runs of ``fem-electrode run`` (serial unless ``--ranks``; one after the other):

- ``newton``: the Newton-count rule (``time_stepping = "newton"``, ``dt_max`` 600 s,
  ``dt_growth`` 1.5: dt grows after <= 4 Newton iterations, shrinks after > 10; no error estimate)
  with plain Newton (``jacobian_reuse = 0``: its step rule counts Newton iterations);
- ``error``: the error-controlled backward-Euler steps with the case's tolerances (the defaults);
- ``bdf2``: the same error control with second-order BDF2 steps (``time_stepping = "bdf2"``);
- ``reference``: the error control with every tolerance divided by 64 (a first-order method:
  local error ∝ dt², so the steps are about 8× smaller).

Printed per run: steps per cycle, retried steps (Newton failures, local-error and cut-off
rejections, and those inside the plateau), Newton iterations and Jacobians (assembled and
factorized: fewer with chord steps, ``[solver] jacobian_reuse``) per step, Krylov iterations per
Newton iteration, wall time per cycle, peak memory (resident set of the run's process); then
the ratios newton / error and newton / bdf2, and the accuracy of each against the reference:
discharge capacity (relative) and the voltage curves V(q) of every galvanostatic half-cycle
(max |ΔV| at the same capacity over 2 ... 98 % of the reference half-cycle: at the steep ends a
curve that is right to a fraction of a per cent in capacity can be off by many mV).
JSON into ``OUT/bench.json``.

Usage::

    .venv/bin/python benchmarks/bench_time_stepping.py [--case examples/default.toml]
        [--kind infiltrated] [--rate 0.1] [--cycles 1] [-o runs/bench-stepping] [--reuse]
        [--runs newton error bdf2 reference] [--ranks 1]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fem_electrode.config import load_case, write_case
from fem_electrode.outputs.timeseries import read_rows

#: Tolerances of the reference run: the defaults divided by this (steps ≈ √ of it smaller).
REFERENCE_DIVISOR = 64.0
#: Capacity window (fractions of the reference half-cycle) of the voltage-curve comparison.
Q_WINDOW = (0.02, 0.98)

#: Runs a command-line command in this process and prints its peak resident set (KiB).
WRAPPER = (
    "import resource, sys\n"
    "from fem_electrode.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)\n"
    "sys.exit(rc)\n"
)


def variants(case, runs: list[str]) -> dict[str, dict]:
    """Overrides of each run."""
    pr = case.protocol
    out = {
        "newton": {"protocol": {"time_stepping": "newton", "dt_max": 600.0, "dt_growth": 1.5},
                   "solver": {"jacobian_reuse": 0.0}},  # the solver as it was with this rule: Newton
        "error": {"protocol": {"time_stepping": "error"}},
        "bdf2": {"protocol": {"time_stepping": "bdf2"}},
        "reference": {"protocol": {"time_stepping": "error",
                                   "tol_voltage": pr.tol_voltage / REFERENCE_DIVISOR,
                                   "tol_concentration": pr.tol_concentration / REFERENCE_DIVISOR,
                                   "tol_capacity": pr.tol_capacity / REFERENCE_DIVISOR,
                                   "dt_initial": pr.dt_initial / math.sqrt(REFERENCE_DIVISOR)}},
    }
    return {k: out[k] for k in runs}


def run_one(case_file: Path, folder: Path, ranks: int) -> dict:
    cmd = [sys.executable, "-c", WRAPPER, "run", str(case_file), "-o", str(folder), "--overwrite"]
    if ranks > 1:
        cmd = [str(Path(sys.executable).with_name("mpiexec")), "-n", str(ranks), *cmd]
    print("$", " ".join(cmd[:1] + cmd[-5:]), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peaks = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("PEAK_RSS_KIB")]
    if proc.returncode != 0:
        print(proc.stderr[-2000:])
    print(f"  exit {proc.returncode}, {wall / 60:.1f} min", flush=True)
    peak = max(peaks) / 1024 if peaks else None
    return {"returncode": proc.returncode, "wall_s": wall, "peak_rss_mib": peak}


def halves(rows: list[dict]) -> dict[tuple[int, str], tuple[np.ndarray, np.ndarray]]:
    """(cycle, half) -> capacity (mAh/g) and voltage of the galvanostatic rows."""
    out: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for r in rows:
        if r["segment"] in ("charge", "discharge"):
            out.setdefault((int(r["cycle"]), r["segment"]), []).append(
                (float(r["capacity_mAh_per_g"]), float(r["voltage_V"])))
    return {k: (np.array([q for q, _ in v]), np.array([u for _, u in v])) for k, v in out.items()}


def curve_error(rows: list[dict], ref_rows: list[dict]) -> float | None:
    """Max |V − V_ref| (V) at the same capacity over the window of every half-cycle."""
    mine, ref = halves(rows), halves(ref_rows)
    worst = None
    for key, (q_ref, v_ref) in ref.items():
        if key not in mine or q_ref.size < 2:
            continue
        q, v = mine[key]
        lo, hi = (f * q_ref[-1] for f in Q_WINDOW)
        keep = np.concatenate([[True], np.diff(q_ref) > 0])
        sel = (q >= lo) & (q <= hi)
        if not np.any(sel):
            continue
        diff = float(np.max(np.abs(v[sel] - np.interp(q[sel], q_ref[keep], v_ref[keep]))))
        worst = diff if worst is None else max(worst, diff)
    return worst


def summary(folder: Path, measured: dict, cycles: int) -> dict:
    m = json.loads((folder / "metrics.json").read_text())
    s = m["solver"]
    rejected = s.get("rejected_steps", {})
    retried = s["failed_solves"] + rejected.get("local_error", 0) + rejected.get("cutoff", 0)
    return {
        "status": m["status"], "steps": m["steps"], "steps_per_cycle": m["steps"] / cycles,
        "retried": retried, "newton_failed": s["failed_solves"],
        "rejected_local_error": rejected.get("local_error", 0), "rejected_cutoff": rejected.get("cutoff", 0),
        "retried_in_plateau": rejected.get("in_plateau"),
        "newton_per_step": s["newton_iterations"] / max(m["steps"], 1),
        # Jacobians assembled and factorized per step (fewer than Newton iterations with chord steps)
        "jacobians_per_step": s.get("jacobians", s["newton_iterations"]) / max(m["steps"], 1),
        "krylov_per_newton": s["mean_linear_iterations_per_newton"],
        "wall_per_cycle_s": s["wall_time_s"] / cycles,
        "peak_rss_mib": measured.get("peak_rss_mib"),
        "capacity_discharge_mAh_per_g": m.get("capacity_discharge_mAh_per_g"),
        "capacity_charge_mAh_per_g": m.get("capacity_charge_mAh_per_g"),
        "polarization_V": m.get("polarization_V"),
        "dofs": sum(s["dofs"].values()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", type=Path, default=Path("examples/default.toml"))
    p.add_argument("--kind", default="infiltrated", help="geometry.kind of the run")
    p.add_argument("--rate", type=float, default=0.1, help="C-rate")
    p.add_argument("--cycles", type=int, default=1)
    p.add_argument("--runs", nargs="+", default=["newton", "error", "bdf2", "reference"],
                   choices=["newton", "error", "bdf2", "reference"])
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("-o", "--out", type=Path, default=Path("runs/bench-stepping"))
    p.add_argument("--reuse", action="store_true", help="keep finished runs (metrics.json present)")
    args = p.parse_args()
    base = {"geometry": {"kind": args.kind},
            "protocol": {"c_rate": args.rate, "cycles": args.cycles},
            "output": {"fields": "none", "concentration_snapshots": False},
            "mechanics": {"coupling": "off"}}
    case = load_case(args.case, overrides=base)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for name, over in variants(case, args.runs).items():
        folder = args.out / name
        measured_file = args.out / f"{name}.measured.json"
        if not (args.reuse and (folder / "metrics.json").is_file() and measured_file.is_file()):
            merged = {k: {**base.get(k, {}), **over.get(k, {})} for k in {*base, *over}}
            case_file = write_case(load_case(args.case, overrides=merged), args.out / f"{name}.toml")
            measured_file.write_text(json.dumps(run_one(case_file, folder, args.ranks)))
        results[name] = summary(folder, json.loads(measured_file.read_text()), args.cycles)

    if "reference" in results:
        ref_rows = read_rows(args.out / "reference" / "timeseries.csv")
        q_ref = results["reference"]["capacity_discharge_mAh_per_g"]
        for name in results:
            if name == "reference":
                continue
            rows = read_rows(args.out / name / "timeseries.csv")
            q = results[name]["capacity_discharge_mAh_per_g"]
            results[name]["capacity_error_rel"] = abs(q / q_ref - 1.0) if q and q_ref else None
            results[name]["voltage_curve_error_V"] = curve_error(rows, ref_rows)

    keys = [("status", "{}"), ("steps_per_cycle", "{:.0f}"), ("retried", "{}"), ("newton_failed", "{}"),
            ("rejected_local_error", "{}"), ("rejected_cutoff", "{}"), ("retried_in_plateau", "{}"),
            ("newton_per_step", "{:.2f}"), ("jacobians_per_step", "{:.2f}"), ("krylov_per_newton", "{:.1f}"),
            ("wall_per_cycle_s", "{:.0f}"),
            ("peak_rss_mib", "{:.0f}"), ("capacity_discharge_mAh_per_g", "{:.3f}"),
            ("capacity_error_rel", "{:.2e}"), ("voltage_curve_error_V", "{:.2e}"), ("dofs", "{}")]
    names = list(results)
    print(f"\n{args.case} ({args.kind}), {args.rate:g} C, {args.cycles} cycle(s), {args.ranks} rank(s)")
    print(f"{'':<30}" + "".join(f"{n:>14}" for n in names))
    for k, spec in keys:
        cells = []
        for n in names:
            v = results[n].get(k)
            cells.append("-" if v is None else spec.format(v))
        print(f"{k:<30}" + "".join(f"{c:>14}" for c in cells))
    ratios = {}
    for other in ("error", "bdf2"):
        if "newton" in results and other in results:
            a, b = results["newton"], results[other]
            ratios.update({f"wall newton / {other}": a["wall_per_cycle_s"] / b["wall_per_cycle_s"],
                           f"steps newton / {other}": a["steps"] / b["steps"],
                           f"Newton iterations newton / {other}": (a["newton_per_step"] * a["steps"])
                           / (b["newton_per_step"] * b["steps"]),
                           f"Jacobians newton / {other}": (a["jacobians_per_step"] * a["steps"])
                           / (b["jacobians_per_step"] * b["steps"])})
    for k, v in ratios.items():
        print(f"{k:<34} {v:6.2f}")
    if ratios:
        results["ratios"] = ratios
    (args.out / "bench.json").write_text(json.dumps(results, indent=2))
    figure(args.out, list(results.keys() - {"ratios"}), f"{args.case} ({args.kind}), {args.rate:g} C")
    print(f"wrote {args.out / 'bench.json'}, {args.out / 'time-stepping.png'}")


def figure(out: Path, names: list[str], title: str) -> None:
    """Voltage vs time and step size vs time of every run (one figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_v, ax_dt) = plt.subplots(2, 1, figsize=(7.5, 6.0), sharex=True)
    styles = {"newton": ("C1", "Newton-count rule (dt_max 600 s)"),
              "error": ("C0", "error-controlled, backward Euler"), "bdf2": ("C2", "error-controlled, BDF2"),
              "reference": ("0.4", "reference (tolerances / 64)")}
    for name in ("reference", "newton", "error", "bdf2"):
        if name not in names:
            continue
        rows = [r for r in read_rows(out / name / "timeseries.csv") if r["segment"] != "initial"]
        t = np.array([float(r["time_s"]) for r in rows]) / 3600.0
        color, label = styles[name]
        n = len(rows)
        ref = name == "reference"
        ax_v.plot(t, [float(r["voltage_V"]) for r in rows], color=color, lw=1.0 if ref else 1.4,
                  marker="" if ref else ".", ms=3, label=f"{label}: {n} steps")
        ax_dt.semilogy(t, [float(r["dt_s"]) for r in rows], color=color, marker=".", ms=3, lw=0.8)
    ax_v.set_ylabel("cell voltage (V)")
    ax_v.legend(fontsize=8)
    ax_v.set_title(title, fontsize=10)
    ax_dt.set_ylabel("accepted step (s)")
    ax_dt.set_xlabel("time (h)")
    fig.tight_layout()
    fig.savefig(out / "time-stepping.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
