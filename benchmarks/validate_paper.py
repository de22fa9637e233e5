"""Validation against the chemical-infiltration paper: capacity, Coulombic efficiency, plateau gap
and internal resistance of an infiltrated RVE with the DEFAULT parameters (nothing fitted).

For each C-rate, one charge + discharge cycle between the case's cut-offs (2.8 ... 3.8 V) is run
serially, one after the other (``nice -n 5 fem-electrode run``; the mesh is built once and
reused: every rate uses the same case name and geometry), into ``OUT/c<rate>/``. Then:

- a table: rate, current density (A/m² and mA/cm² of projected area), charge/discharge capacity,
  Coulombic efficiency, the plateau gap (``polarization_V`` of ``metrics.json``: charge minus
  discharge voltage, each at half of its own galvanostatic capacity; for a run that stopped
  early it is recomputed from ``timeseries.csv`` with whatever the half-cycles reached, and
  flagged);
- a least-squares line gap = s·j + b over the rates and the internal resistance in the paper's
  definition: the paper fits the plateau gap against the cell current (slope 1.1408 kΩ) and
  quotes R = 570 Ω = slope / 2 (396 Ω cm²), i.e. gap = 2·I·R, so R·A = s / 2;
- a decomposition of the modelled resistance (all per projected area, linear regime at y = ½,
  α = ½, from the ``cell`` block of ``metrics.json`` and the resolved case): series (separator +
  Na|NZSP ASR), charge transfer RT/(F i₀ a L), solid diffusion in the NVP layer
  |dU/dy| h / (3 c_max D F a L) with the slope of the case's OCV at y = ½ (pseudo-steady thin
  film, h = V_NVP / A_interface), and the NVP
  electronic / NZSP ionic ohmic drops L / (3 σ φ) (uniform reaction, tortuosity 1: lower bounds);
- ``validation.json`` and two figures: ``validation-gap.png`` (gap vs current density, fit and
  the paper's 396 Ω cm² line) and ``validation-curves.png`` (voltage vs capacity per rate).

Usage (a benchmark, not a test; 8-25 min per rate on one core for the 5 µm RVE)::

    .venv/bin/python benchmarks/validate_paper.py [--case benchmarks/validate_paper.toml]
        [--rates 0.1 0.3 1] [-o runs/validate] [--reuse] [--figures docs/figures]
        [--ocv two_phase]   # the shipped two-phase NVP table instead of the case's OCV
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fem_electrode.config import load_case, write_case
from fem_electrode.physics.ocv import from_config as ocv_law

#: The paper's figures (the chemical-infiltration paper, docs/references.md).
PAPER = {
    "capacity_mAh_per_g": "> 95",
    "coulombic_efficiency": "> 0.99",
    "gap_V": 0.022,  # plateau gap at a fixed capacity of 30 µAh, cycles of "stage II"
    "slope_ohm": 1140.8,  # gap vs cell current
    "internal_resistance_ohm": 570.0,  # = slope / 2
    "internal_resistance_ohm_cm2": 396.0,
    "definition": "gap = 2 I R (R = slope of gap vs I, divided by 2)",
    "porous_layer_um": [150, 250],
    "dense_layer_um": [600, 800],
}
F, R_GAS = 96485.33212, 8.314462618


def rate_label(rate: float) -> str:
    return f"c{rate:g}"


def fem_electrode_exe() -> str:
    exe = Path(sys.executable).with_name("fem-electrode")
    return str(exe) if exe.exists() else (shutil.which("fem-electrode") or "fem-electrode")


def case_overrides(ocv: str | None) -> dict:
    """Overrides of the validation case besides the C-rate: the OCV law when one is chosen."""
    return {"electrochemistry": {"ocv": ocv}} if ocv else {}


def run_rate(case_path: Path, rate: float, out: Path, nice: int, ocv: str | None = None) -> float:
    """Run one C-rate into ``out/c<rate>``; returns the wall time (s)."""
    case = load_case(case_path, overrides={**case_overrides(ocv), "protocol": {"c_rate": rate}})
    folder = out / rate_label(rate)
    case_file = write_case(case, out / f"case-{rate_label(rate)}.toml")
    cmd = [fem_electrode_exe(), "run", str(case_file), "-o", str(folder)]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    with open(out / f"{rate_label(rate)}.out", "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    print(f"  exit {rc}, {wall / 60:.1f} min", flush=True)
    return wall


def read_timeseries(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def half_rows(rows: list[dict], half: str) -> tuple[np.ndarray, np.ndarray]:
    """Capacity (mAh/g) and voltage of the galvanostatic rows of one half-cycle (cycle 1)."""
    sel = [r for r in rows if r["segment"] == half and int(r["cycle"]) == 1]
    q = np.array([float(r["capacity_mAh_per_g"]) for r in sel])
    v = np.array([float(r["voltage_V"]) for r in sel])
    return q, v


def gap_at_half(rows: list[dict]) -> float | None:
    """Charge − discharge voltage, each at half of its own galvanostatic capacity (as metrics.json)."""
    out = []
    for half in ("charge", "discharge"):
        q, v = half_rows(rows, half)
        if q.size < 2 or q[-1] <= 0:
            return None
        keep = np.concatenate([[True], np.diff(q) > 0])
        out.append(float(np.interp(0.5 * q[-1], q[keep], v[keep])))
    return out[0] - out[1]


def collect(out: Path, rate: float, wall: float | None) -> dict:
    folder = out / rate_label(rate)
    m = json.loads((folder / "metrics.json").read_text())
    rows = read_timeseries(folder / "timeseries.csv")
    cell = m["cell"]
    j = rate * cell["current_1C_A"] / cell["projected_area_m2"]
    gap, gap_source = m.get("polarization_V"), "metrics.json"
    if gap is None or m.get("status") != "completed":
        gap, gap_source = gap_at_half(rows), "timeseries.csv (partial half-cycles)"
    solver = m.get("solver", {})
    last = rows[-1]
    return {
        "c_rate": rate,
        "status": m.get("status"),
        "reason": m.get("reason"),
        "stopped_at": {"time_s": float(last["time_s"]), "segment": last["segment"],
                       "voltage_V": float(last["voltage_V"]), "soc": float(last["soc"]),
                       "c_min_mol_per_m3": float(last["c_min_mol_per_m3"])},
        "current_density_A_per_m2": j,
        "current_density_mA_per_cm2": j * 0.1,
        "capacity_charge_mAh_per_g": m.get("capacity_charge_mAh_per_g"),
        "capacity_discharge_mAh_per_g": m.get("capacity_discharge_mAh_per_g"),
        "coulombic_efficiency": m.get("coulombic_efficiency"),
        "gap_V": gap,
        "gap_source": gap_source,
        "steps": len(rows) - 1,
        "solver": solver,
        "wall_s_measured_here": wall,
        "cell": cell,
        "conservation": m.get("conservation"),
    }


def decomposition(case_path: Path, cell: dict, ocv: str | None = None) -> dict:
    """Linear-regime resistances per projected area (Ω m²) from the case and the cell block."""
    case = load_case(case_path, overrides=case_overrides(ocv))
    mat, ec, geo = case.materials, case.electrochemistry, case.geometry
    rt_f = R_GAS * ec.temperature / F
    area = cell["projected_area_m2"]
    lz = geo.box[2] * 1e-6
    a_l = cell["interface_area_m2"] / area  # interface area per projected area (a·L)
    h = cell["volume_nvp_m3"] / cell["interface_area_m2"]  # mean NVP layer thickness
    phi_nvp = cell["volume_nvp_m3"] / (area * lz)
    y = 0.5
    dudy = abs(float(ocv_law(ec).slope(y)))  # |dU/dy| at y = 1/2 of the case's OCV (V)
    i0 = ec.i0_ref  # at y = 1/2; alpha_a = alpha_c = 1/2: eta = (RT/F) i / i0 for small i
    terms = {
        "series_separator": ec.separator_thickness / mat.sigma_e_nzsp,
        "series_asr_na_nzsp": ec.asr_na_nzsp,
        "charge_transfer": rt_f / (i0 * (ec.alpha_a + ec.alpha_c)) / a_l,
        "solid_diffusion": dudy * h / (3.0 * mat.c_max * mat.D_nvp * F) / a_l,
        "nvp_electronic": lz / (3.0 * mat.sigma_s_nvp * phi_nvp),
        "nzsp_ionic": lz / (3.0 * mat.sigma_e_nzsp * (1.0 - geo.porosity)),
    }
    # Porous-electrode resistance for linear kinetics (Newman & Tobias 1962) with the RVE's
    # microstructure (a, h, phi, tortuosity 1) at the RVE thickness and the paper's porous layer.
    sig, kap = mat.sigma_s_nvp * phi_nvp, mat.sigma_e_nzsp * (1.0 - geo.porosity)
    r_int = (terms["charge_transfer"] + terms["solid_diffusion"]) * a_l  # per interface area
    a_v = a_l / lz
    series = terms["series_separator"] + terms["series_asr_na_nzsp"]

    def porous(length: float) -> float:
        nu = length * math.sqrt((1 / sig + 1 / kap) * a_v / r_int)
        shape = (2 + (sig / kap + kap / sig) * math.cosh(nu)) / (nu * math.sinh(nu))
        return length / (sig + kap) * (1 + shape)

    # The geometric layer thickness solved by the mesher (mesh provenance), for comparison:
    # the diffusion term scales with h (at fixed a L).
    prov = Path(str(cell.get("mesh") or "")).with_suffix(".json")
    h_geo = None
    if prov.is_file():
        h_geo = (json.loads(prov.read_text()).get("resolved", {}).get("layer_thickness") or 0) * 1e-6 or None
    return {
        "solid_diffusion_with_geometric_layer_ohm_m2":
            (terms["solid_diffusion"] * h_geo / h) if h_geo else None,
        "geometric_layer_thickness_m": h_geo,
        "porous_electrode_ohm_m2": {f"{um:g}um": {"electrode": porous(um * 1e-6),
                                                 "with_series": porous(um * 1e-6) + series}
                                    for um in (geo.box[2], 50.0, 150.0, 200.0, 250.0)},
        "inputs": {"a_L": a_l, "layer_thickness_m": h, "phi_nvp": phi_nvp, "Lz_m": lz,
                   "dU_dy_V": dudy, "i0_A_per_m2": i0, "RT_F_V": rt_f},
        "terms_ohm_m2": terms,
        "sum_ohm_m2": sum(terms.values()),
        "series_resistance_metrics_ohm_m2": cell["series_resistance_ohm_m2"],
    }


def fit(results: list[dict]) -> dict | None:
    pts = [(r["current_density_A_per_m2"], r["gap_V"]) for r in results if r["gap_V"] is not None]
    if len(pts) < 2:
        return None
    j, g = np.array(pts).T
    slope, intercept = np.polyfit(j, g, 1)
    resid = g - (slope * j + intercept)
    r2 = 1 - float(np.sum(resid**2)) / float(np.sum((g - g.mean()) ** 2)) if len(pts) > 2 else 1.0
    return {"n": len(pts), "slope_ohm_m2": float(slope), "intercept_V": float(intercept), "r2": r2,
            "internal_resistance_ohm_m2": float(slope) / 2,
            "internal_resistance_ohm_cm2": float(slope) / 2 * 1e4,
            "through_origin_ohm_cm2": float(np.sum(j * g) / np.sum(j * j)) / 2 * 1e4}


def figures(out: Path, results: list[dict], fitted: dict | None, case_name: str,
            suffix: str = "") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    j = np.array([r["current_density_mA_per_cm2"] for r in results])
    g = np.array([r["gap_V"] if r["gap_V"] is not None else np.nan for r in results]) * 1e3
    ax.plot(j * 1e3, g, "o", color="C0", label="model (plateau gap at half capacity)")
    for r, jj, gg in zip(results, j, g, strict=True):
        ax.annotate(f"{r['c_rate']:g} C", (jj * 1e3, gg), textcoords="offset points", xytext=(5, -10),
                    fontsize=8)
    jj = np.linspace(0, j.max() * 1.05, 50)
    if fitted:
        ax.plot(jj * 1e3, (fitted["slope_ohm_m2"] * jj * 10 + fitted["intercept_V"]) * 1e3, "-", color="C0",
                label=f"fit: R = slope/2 = {fitted['internal_resistance_ohm_cm2']:.0f} Ω cm²")
    ax.plot(jj * 1e3, 2 * PAPER["internal_resistance_ohm_cm2"] * jj * 1e-3 * 1e3, "--", color="C3",
            label="paper: gap = 2 j · 396 Ω cm²")
    ax.set_xlabel("current density (µA/cm² of projected area)")
    ax.set_ylabel("charge − discharge plateau gap (mV)")
    ax.set_title(f"{case_name}: gap vs current density", fontsize=10)
    ax.set_xlim(0, None)
    ax.set_ylim(0, None)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    p = out / f"validation-gap{suffix}.png"
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    paths.append(p)

    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for k, r in enumerate(results):
        rows = read_timeseries(out / rate_label(r["c_rate"]) / "timeseries.csv")
        for half, ls in (("charge", "-"), ("discharge", "--")):
            q, v = half_rows(rows, half)
            if q.size:
                ax.plot(q, v, ls, color=f"C{k}", label=f"{r['c_rate']:g} C {half}")
    ax.axhline(3.37, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("capacity of the half-cycle (mAh/g NVP)")
    ax.set_ylabel("cell voltage vs Na/Na⁺ (V)")
    ax.set_title(f"{case_name}: voltage vs capacity (paper: > 95 mAh/g)", fontsize=10)
    ax.set_ylim(2.75, 3.85)
    ax.legend(fontsize=7, ncol=2, loc="lower center")
    ax.grid(alpha=0.3)
    p = out / f"validation-curves{suffix}.png"
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    paths.append(p)
    return paths


def git_state() -> str:
    """The commit the runs were made at, with "+dirty" when the working tree had changes."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], capture_output=True, text=True, cwd=Path(__file__).parent).stdout
    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no").strip() else "")


def fmt(x: float | None, spec: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", type=Path, default=Path(__file__).with_name("validate_paper.toml"))
    p.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.3, 1.0], help="C-rates")
    p.add_argument("-o", "--out", type=Path, default=Path("runs/validate"), help="output folder")
    p.add_argument("--reuse", action="store_true",
                   help="reuse run folders that already have metrics.json (run only the missing rates)")
    p.add_argument("--nice", type=int, default=5, help="niceness of the runs (0: no nice)")
    p.add_argument("--ocv", choices=("default", "two_phase"), default=None,
                   help="OCV law of the runs (electrochemistry.ocv; default: the case's)")
    p.add_argument("--figures", type=Path, default=None,
                   help="also copy the figures into this folder (e.g. docs/figures)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    walls: dict[float, float] = {}
    for rate in args.rates:
        done = (args.out / rate_label(rate) / "metrics.json").is_file()
        if args.reuse and done:
            print(f"reusing {args.out / rate_label(rate)}")
            continue
        walls[rate] = run_rate(args.case, rate, args.out, args.nice, args.ocv)

    results = [collect(args.out, r, walls.get(r)) for r in sorted(args.rates)
               if (args.out / rate_label(r) / "metrics.json").is_file()]
    if not results:
        sys.exit("no finished runs")
    fitted = fit(results)
    deco = decomposition(args.case, results[0]["cell"], args.ocv)
    case_name = load_case(args.case).case.name + (f" (ocv = {args.ocv})" if args.ocv else "")

    print(f"\n{case_name}: {len(results)} rates (paper: > 95 mAh/g, CE > 99 %, gap ≈ 22 mV, 396 Ω cm²)")
    print(f"{'rate':>5} {'j A/m2':>9} {'j mA/cm2':>9} {'Q_ch':>7} {'Q_dis':>7} {'CE':>7} {'gap mV':>7}"
          f" {'status':>9} {'wall min':>8}")
    for r in results:
        wall = r["solver"].get("wall_time_s") or r["wall_s_measured_here"]
        q_ch, q_dis = r["capacity_charge_mAh_per_g"], r["capacity_discharge_mAh_per_g"]
        print(f"{r['c_rate']:>5g} {r['current_density_A_per_m2']:>9.4f}"
              f" {r['current_density_mA_per_cm2']:>9.5f} {fmt(q_ch, '7.2f')} {fmt(q_dis, '7.2f')}"
              f" {fmt(r['coulombic_efficiency'], '7.4f')} {fmt(r['gap_V'] and r['gap_V'] * 1e3, '7.2f')}"
              f" {r['status']:>9} {fmt(wall and wall / 60, '8.1f')}")
        if r["status"] != "completed":
            print(f"      {r['status']}: {r['reason']}")
            print(f"      last row: {r['stopped_at']}; gap from {r['gap_source']}")
    if fitted:
        print(f"\nfit gap = s j + b over {fitted['n']} rates: s = {fitted['slope_ohm_m2'] * 1e4:.1f} Ω cm²,"
              f" b = {fitted['intercept_V'] * 1e3:.3f} mV, r² = {fitted['r2']:.5f}")
        print(f"internal resistance (paper's definition gap = 2 j R): R = s/2 ="
              f" {fitted['internal_resistance_ohm_cm2']:.1f} Ω cm² (paper 396 Ω cm²);"
              f" through the origin {fitted['through_origin_ohm_cm2']:.1f} Ω cm²")
    print("\nlinear-regime decomposition (Ω cm² of projected area; lower bounds for the ohmic terms):")
    for k, v in deco["terms_ohm_m2"].items():
        print(f"  {k:<20} {v * 1e4:9.2f}")
    print(f"  {'sum':<20} {deco['sum_ohm_m2'] * 1e4:9.2f}   (inputs: "
          + ", ".join(f"{k} {v:.4g}" for k, v in deco["inputs"].items()) + ")")
    if deco["solid_diffusion_with_geometric_layer_ohm_m2"]:
        h_um = deco["geometric_layer_thickness_m"] * 1e6
        print(f"  (solid_diffusion with the mesher's layer thickness {h_um:.3f} µm:"
              f" {deco['solid_diffusion_with_geometric_layer_ohm_m2'] * 1e4:.2f})")
    print("porous-electrode estimate (Newman-Tobias, linear kinetics, same microstructure), Ω cm²:")
    for k, v in deco["porous_electrode_ohm_m2"].items():
        print(f"  L = {k:<8} electrode {v['electrode'] * 1e4:8.1f}   + series {v['with_series'] * 1e4:8.1f}")

    paths = figures(args.out, results, fitted, case_name, f"-{args.ocv}" if args.ocv else "")
    data = {"case": str(args.case), "case_name": case_name, "ocv": args.ocv or "case",
            "commit": git_state(), "paper": PAPER, "rates": results,
            "fit": fitted, "decomposition": deco}
    (args.out / "validation.json").write_text(json.dumps(data, indent=2, default=str))
    print(f"\nwrote {args.out / 'validation.json'}, " + ", ".join(str(q) for q in paths))
    if args.figures:
        args.figures.mkdir(parents=True, exist_ok=True)
        for q in paths:
            shutil.copy(q, args.figures / q.name)
            print(f"copied {q.name} to {args.figures}")


if __name__ == "__main__":
    main()
