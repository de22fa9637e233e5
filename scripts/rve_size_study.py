"""RVE-size study: effective properties against the RVE edge length, per design, over seeds.

For every design (geometry.kind infiltrated / cosintered), edge length L (box [L, L, L] µm,
periodic lateral faces) and seed, the mesh of the base case (examples/rve-size.toml) is built
or reused (:func:`fem_electrode.run.meshes.load_domain`, cached in ``[mesh] directory``) and its
effective properties computed (:func:`fem_electrode.problems.effective.effective_properties`,
periodic lateral faces in the conduction problems). Writes, under ``--out``:

- ``results.json``: one record per (design, L, seed) (kept between calls: ``--resume`` skips the
  records already there) and the summary per design, metric and L;
- ``summary.csv``: design, metric, L, n, mean, std, 95 % half-width (Student t over the seeds);
- ``table.md``: the same as a Markdown table (one row per design and size);
- the figure (``--figure``): each metric against L, mean ± 95 % interval, one line per design;

and prints per metric and design the converged size: the smallest L from which the mean changes
to the next size by less than the seed standard deviation at that size (for every following
pair of sizes), or "not reached".

    .venv/bin/python scripts/rve_size_study.py [--sizes 5 7 10 14] [--seeds 5] [--out runs/rve-size]
        [--figure docs/figures/rve-size.png] [--case examples/rve-size.toml] [--resume] [--refinement R]

Runs on one rank or under mpiexec (meshes are built on rank 0, the cell problems run on all).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from fem_electrode.config import load_case
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.problems.effective import effective_properties
from fem_electrode.run.meshes import load_domain

DESIGNS = ("infiltrated", "cosintered")
#: metric -> (label with unit, function of (record) -> value). Records hold SI values.
METRICS: dict[str, tuple[str, Any]] = {
    "tau_ion": ("ionic tortuosity τ = f σ / κ_eff (-)", lambda r: r["tau_ion"]),
    "tau_el_source": ("electronic tortuosity, one-sided (-)", lambda r: r["tau_el_source"]),
    "interface_area_density": ("interface area density (1/µm)", lambda r: r["interface_area_density"] * 1e-6),
    "diffusion_length": ("diffusion length V_NVP / A (µm)", lambda r: r["diffusion_length"] * 1e6),
    "fraction_nzsp": ("NZSP fraction (-)", lambda r: r["fraction_nzsp"]),
    "fraction_nvp": ("NVP fraction (-)", lambda r: r["fraction_nvp"]),
    "porosity": ("porosity (-)", lambda r: r["porosity"]),
    "collector_nvp_fraction": ("NVP share of the collector face (-)", lambda r: r["collector_nvp_fraction"]),
    "young_modulus_z": ("E_z, free lateral faces (GPa)", lambda r: r["young_modulus_z"] * 1e-9),
}
CONFIDENCE = 0.95


def run_one(base, kind: str, length: float, seed: int, comm: MPI.Comm) -> dict[str, Any]:
    """Mesh (built or reused) and effective properties of one RVE; a flat JSON-ready record."""
    refinement = base.mesh.refinement
    suffix = "" if refinement == 1.0 else f"-r{refinement:g}"
    case = base.replace(case={"name": f"{base.case.name}-{kind}-L{length:g}-s{seed}{suffix}"},
                        geometry={"kind": kind, "box": [length] * 3, "seed": seed})
    t0 = time.perf_counter()
    domain, msh = load_domain(case, comm)
    t1 = time.perf_counter()
    props = effective_properties(domain, case.materials, periodic=case.geometry.periodic,
                                 source={"mesh": str(msh), "kind": kind, "seed": seed, "edge_um": length})
    t2 = time.perf_counter()
    mat = case.materials
    cells = props.source["cell_problems"]
    provenance = json.loads(msh.with_suffix(".json").read_text()) if comm.rank == 0 else None
    provenance = comm.bcast(provenance, root=0)
    elements = provenance["measured"]["elements"]
    sigma_src = cells["sigma_electronic_uniform_source"]["value"]
    kappa_src = cells["kappa_ion_uniform_source"]["value"]
    return {
        "design": kind, "edge_um": length, "seed": seed, "refinement": refinement, "mesh": str(msh),
        "tetrahedra": elements["tetrahedra"], "nodes": elements["nodes"],
        "mesh_build_s": provenance.get("wall_time_s"), "load_s": t1 - t0, "properties_s": t2 - t1,
        **{k: v for k, v in props.to_dict().items() if k != "source"},
        "tau_ion": props.tortuosity_ion(mat.sigma_e_nzsp) if props.kappa_ion > 0 else math.inf,
        "kappa_ion_source": kappa_src,
        "tau_ion_source": props.fraction_nzsp * mat.sigma_e_nzsp / kappa_src if kappa_src > 0 else math.inf,
        "sigma_electronic_source": sigma_src,
        "tau_el_source": props.fraction_nvp * mat.sigma_s_nvp / sigma_src if sigma_src > 0 else math.inf,
        "floating_nvp_dofs": cells["sigma_electronic_uniform_source"].get("floating_dofs"),
        "cell_problems": cells,
    }


def spread(values: list[float]) -> dict[str, float]:
    """n, mean, sample standard deviation and the half-width of the 95 % interval of the mean."""
    x = np.asarray(values, dtype=float)
    n = int(x.size)
    std = float(np.std(x, ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * std / math.sqrt(n) if n > 1 else math.nan
    return {"n": n, "mean": float(np.mean(x)), "std": std, "half_width": half}


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """design -> metric -> edge length (str) -> spread over the seeds."""
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for design in DESIGNS:
        rows = [r for r in records if r["design"] == design]
        if not rows:
            continue
        sizes = sorted({r["edge_um"] for r in rows})
        out[design] = {m: {f"{L:g}": spread([fn(r) for r in rows if r["edge_um"] == L]) for L in sizes}
                       for m, (_, fn) in METRICS.items()}
    return out


def converged_size(by_size: dict[str, dict[str, float]]) -> float | None:
    """Smallest L from which every change of the mean to the next size is below the seed
    standard deviation at the smaller size of the pair (None: not reached)."""
    sizes = sorted(by_size, key=float)
    ok = [abs(by_size[b]["mean"] - by_size[a]["mean"]) < by_size[a]["std"]
          for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    for i in range(len(ok)):
        if all(ok[i:]):
            return float(sizes[i])
    return None


def write_csv(summary: dict, path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["design", "metric", "edge_um", "n", "mean", "std", "half_width_95"])
        for design, metrics in summary.items():
            for metric, by_size in metrics.items():
                for L, s in sorted(by_size.items(), key=lambda kv: float(kv[0])):
                    w.writerow([design, metric, L, s["n"], f"{s['mean']:.6g}", f"{s['std']:.4g}",
                                f"{s['half_width']:.4g}"])


def write_markdown(summary: dict, records: list[dict[str, Any]], path: Path) -> None:
    """One row per design and size: mean ± 95 % half-width of every metric, and the mesh size."""
    head = ["design", "L (µm)", "seeds", "tetrahedra (mean)"] + [m for m in METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for design, metrics in summary.items():
        for L in sorted(metrics["tau_ion"], key=float):
            tets = [r["tetrahedra"] for r in records if r["design"] == design and f"{r['edge_um']:g}" == L]
            cells = []
            for m in METRICS:
                s = metrics[m][L]
                digits = 4 if abs(s["mean"]) < 10 else 3
                half = "" if math.isnan(s["half_width"]) else f" ± {s['half_width']:.{digits}g}"
                cells.append(f"{s['mean']:.{digits}g}{half}")
            row = [design, L, str(len(tets)), f"{np.mean(tets):.0f}", *cells]
            lines.append("| " + " | ".join(row) + " |")
    path.write_text("\n".join(lines) + "\n")


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(METRICS)
    cols = 3
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.7 * rows), sharex=True)
    for ax, metric in zip(axes.ravel(), names, strict=False):
        for design, style, shift in zip(summary, ("o-", "s--"), (-0.015, 0.015), strict=False):
            by_size = summary[design][metric]
            L = np.array(sorted(float(k) for k in by_size))
            s = [by_size[f"{x:g}"] for x in L]
            mean = np.array([v["mean"] for v in s])
            half = np.array([0.0 if math.isnan(v["half_width"]) else v["half_width"] for v in s])
            ax.errorbar(L * (1 + shift), mean, yerr=half, fmt=style, capsize=3, ms=4, label=design)
            ax.set_xticks(L)
        ax.set_title(METRICS[metric][0], fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("RVE edge length L (µm)", fontsize=9)
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle("Effective properties vs RVE size: mean ± 95 % interval over seeds", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", default="examples/rve-size.toml")
    ap.add_argument("--sizes", type=float, nargs="+", default=[5.0, 7.0, 10.0, 14.0], help="edge lengths, µm")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 1..N per design and size")
    ap.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    ap.add_argument("--out", default="runs/rve-size")
    ap.add_argument("--figure", default=None, help="PNG path (default: OUT/rve-size.png)")
    ap.add_argument("--resume", action="store_true", help="keep the records already in OUT/results.json")
    ap.add_argument("--refinement", type=float, default=None,
                    help="mesh.refinement of every mesh (discretisation check; default: the case's)")
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    out = Path(args.out)
    results = out / "results.json"
    base = load_case(args.case)
    if args.refinement is not None:
        base = base.replace(mesh={"refinement": args.refinement})
    records: list[dict[str, Any]] = []
    if args.resume and results.is_file():
        records = json.loads(results.read_text())["records"]
    done = {(r["design"], r["edge_um"], r["seed"]) for r in records}
    t_start = time.perf_counter()
    for length in args.sizes:  # small sizes of every design first: a partial study is still useful
        for seed in range(1, args.seeds + 1):
            for kind in args.designs:
                if (kind, length, seed) in done:
                    continue
                rec = run_one(base, kind, length, seed, comm)
                records.append(rec)
                if comm.rank == 0:
                    print(f"{kind:11s} L = {length:4g} µm seed {seed}: {rec['tetrahedra']:7d} tets, "
                          f"tau_ion {rec['tau_ion']:.4f}, tau_el(1-sided) {rec['tau_el_source']:.3f}, "
                          f"a {rec['interface_area_density'] * 1e-6:.4f}/µm, "
                          f"E_z {rec['young_modulus_z'] * 1e-9:.2f} GPa, "
                          f"mesh {rec['mesh_build_s'] or 0:.0f} s, properties {rec['properties_s']:.1f} s",
                          flush=True)
                    out.mkdir(parents=True, exist_ok=True)
                    results.write_text(json.dumps({"records": records}, indent=1))
    wall = time.perf_counter() - t_start
    if comm.rank != 0:
        return
    # the summary covers the sizes and seeds asked for (results.json may hold more)
    chosen = [r for r in records if r["edge_um"] in args.sizes and r["seed"] <= args.seeds
              and r["design"] in args.designs]
    summary = summarise(chosen)
    converged = {d: {m: converged_size(summary[d][m]) for m in METRICS} for d in summary}
    results.write_text(json.dumps({"case": args.case, "sizes_um": args.sizes, "seeds": args.seeds,
                                   "wall_time_s_this_call": wall, "summary": summary,
                                   "converged_size_um": converged, "records": records}, indent=1))
    write_csv(summary, out / "summary.csv")
    write_markdown(summary, chosen, out / "table.md")
    plot(summary, Path(args.figure) if args.figure else out / "rve-size.png")
    print(f"\nwall time of this call: {wall:.0f} s; results in {out}")
    print("\nconverged size (mean changes to the next size less than the seed std):")
    for metric in METRICS:
        row = ", ".join(f"{d}: " + ("not reached" if (c := converged[d][metric]) is None else f"{c:g} µm")
                        for d in converged)
        print(f"  {metric:24s} {row}")


if __name__ == "__main__":
    main()
