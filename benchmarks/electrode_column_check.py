"""Check of the homogenized through-thickness model against a resolved column.

A resolved column (e.g. 5 x 5 x 50 µm of the infiltrated microstructure, `fem-electrode run`)
and the homogenized model of the same thickness, with effective properties computed (a) on the
column's own mesh and (b) on a separate RVE of the same microstructure parameters, one cycle at
the same C-rate. Prints capacities, plateau gap and the voltage difference over the common
capacity range, writes a JSON and a figure.

    .venv/bin/python benchmarks/electrode_column_check.py --run runs/column-50um-1C \\
        --rve benchmarks/electrode_column_rve.toml -o runs/column-check-1C [--figure docs/figures/x.png]

Serial (the effective properties of the column are one DOLFINx solve per phase and direction).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

from fem_electrode.config import load_case
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.problems.effective import effective_properties
from fem_electrode.run.electrode_scale import model_properties, prediction
from fem_electrode.run.meshes import load_domain


def resolved_curves(run: Path) -> dict[str, dict[str, np.ndarray]]:
    """Per half-cycle kind: capacity (mAh/g) and voltage of the resolved run's time series."""
    rows = list(csv.DictReader((run / "timeseries.csv").open()))
    out: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        if r["segment"] in ("charge", "discharge"):
            d = out.setdefault(r["segment"], {"capacity": [], "V": [], "soc": []})
            d["capacity"].append(float(r["capacity_mAh_per_g"]))
            d["V"].append(float(r["voltage_V"]))
            d["soc"].append(float(r["soc"]))
    return {k: {n: np.asarray(v) for n, v in d.items()} for k, d in out.items()}


def compare_curves(res, ref: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    out = {}
    for kind in ("charge", "discharge"):
        k = next(i for i, s in enumerate(res.segments) if s.kind == kind and s.control == "current")
        cur = res.curve(k)
        q_h, v_h = cur["capacity"], cur["V"]
        q_r, v_r = ref[kind]["capacity"], ref[kind]["V"]
        q_max = min(q_h.max(), q_r.max())
        grid = np.linspace(0.05 * q_max, 0.95 * q_max, 50)
        dv = np.interp(grid, q_h, v_h) - np.interp(grid, q_r, v_r)
        out[kind] = {"capacity_homogenized": float(q_h.max()), "capacity_resolved": float(q_r.max()),
                     "dV_max_mV": float(1e3 * np.max(np.abs(dv))), "dV_mean_mV": float(1e3 * np.mean(dv)),
                     "common_capacity": float(q_max)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="resolved column run folder")
    ap.add_argument("--rve", required=True, help="case file of the RVE for the predictive path")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--figure", default=None)
    args = ap.parse_args(argv)
    run, out = Path(args.run), Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    case = load_case(run / "case.toml")
    comm = MPI.COMM_WORLD
    ref = resolved_curves(run)
    results, curves = {}, {}
    for label, src in (("column", case), ("rve", load_case(args.rve))):
        t0 = time.perf_counter()
        domain, msh = load_domain(src, comm)
        props = effective_properties(domain, src.materials, periodic=src.geometry.periodic,
                                     young_modulus=False, source={"mesh": str(msh)})
        t_props = time.perf_counter() - t0
        for conductivity in ("lateral", "z_one_sided"):
            c = case.replace(electrode={"conductivity": conductivity})
            try:
                used = model_properties(c, props)
            except ValueError as exc:
                print(f"{label}/{conductivity}: {exc}", flush=True)
                results[f"{label}/{conductivity}"] = {"status": "not conducting", "message": str(exc)}
                continue
            summary, res = prediction(c, used, case.geometry.box[2], case.protocol.c_rate)
            key = f"{label}/{conductivity}"
            gap = summary["gap_at_half_filling_V"]
            if res.status != "completed" or len(res.half_cycles) < 2:
                print(f"{key}: the homogenized run did not complete: {res.message}", flush=True)
                results[key] = {"status": res.status, "message": res.message}
                continue
            results[key] = {"kappa_ion": used.kappa_ion, "sigma_electronic": used.sigma_electronic,
                            "interface_area_density": used.interface_area_density,
                            "diffusion_length": used.diffusion_length,
                            "collector_nvp_fraction": used.collector_nvp_fraction,
                            "effective_properties_s": t_props, "model_s": res.wall_time, "gap_mid_V": gap,
                            "ends": res.segment_end, **compare_curves(res, ref)}
            curves[key] = res
            print(f"{key:24s} kappa {used.kappa_ion:.4g} S/m sigma {used.sigma_electronic:.4g} S/m "
                  f"a {used.interface_area_density * 1e-6:.4g} 1/um l {used.diffusion_length * 1e6:.4g} um | "
                  + " | ".join(f"{k}: {v['capacity_homogenized']:.2f} vs {v['capacity_resolved']:.2f} mAh/g, "
                               f"|dV| max {v['dV_max_mV']:.1f} mV mean {v['dV_mean_mV']:+.1f} mV"
                               for k, v in results[key].items() if isinstance(v, dict)), flush=True)
    (out / "column-check.json").write_text(json.dumps(results, indent=1, default=str))
    if args.figure:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        for kind in ("charge", "discharge"):
            ax.plot(ref[kind]["capacity"], ref[kind]["V"], "k-", lw=2.2,
                    label="resolved column" if kind == "charge" else None)
        styles = {"column/lateral": "C0-", "column/z_one_sided": "C0--", "rve/lateral": "C1-",
                  "rve/z_one_sided": "C1--"}
        for key, res in curves.items():
            for k, s in enumerate(res.segments):
                if s.control == "current" and s.value != 0.0:
                    cur = res.curve(k)
                    ax.plot(cur["capacity"], cur["V"], styles[key], lw=1.2,
                            label=f"homogenized, {key}" if s.kind == "charge" else None)
        ax.set_xlabel("capacity (mAh/g NVP)")
        ax.set_ylabel("cell voltage (V)")
        ax.set_title(f"{case.geometry.box[2]:g} µm column at {case.protocol.c_rate:g} C: resolved vs "
                     "homogenized", fontsize=9)
        ax.legend(fontsize=7)
        fig.savefig(args.figure, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
