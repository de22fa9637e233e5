"""Cost of the cohesive interface: a cycle with damage against the same cycle without (issue 15:
"a cycle with damage costs ≤ 2× a cycle without, on the default pair").

The pair is ``examples/damage-fade.toml`` (infiltrated and co-sintered, 4 µm RVE, 0.6 C,
``damage_update_dy = 0.05``). Per design, ``fem-electrode run`` in a subprocess (serial unless
``--ranks``), one after the other, with the same protocol:

- ``cohesive``: the case as it is (``mechanics.interface = "cohesive"``: the mechanics is solved
  after an accepted step once y moved by ``damage_update_dy`` and at every segment end, with the
  secant iteration on the damage);
- ``bonded``: ``mechanics.interface = "bonded"``, everything else equal (one-way mechanics, solved
  when the fields are written: every ``output.output_interval`` = 1 h of simulated time);
- ``legacy`` (``--legacy``): the cohesive run with the secant iteration as it was before the
  cost work (``cohesive_mechanics.LEGACY``: refactorization after 25 CG iterations, no hold of
  facets whose contact cycles, the interface terms assembled in every iteration), for before/after
  figures from one invocation on one machine.

Printed per run: the run's own wall time (``metrics.json`` solver wall time: meshing excluded),
the time spent in mechanics solves (measured in the subprocess by wrapping the solve methods:
``MechanicsProblem.solve``, ``CohesiveMechanicsProblem.solve`` and the whole damage update with
its contact and interface state), the number of mechanics solves, damage updates, secant
iterations, LU factorizations and CG iterations (cohesive), the discharge capacity of the last
cycle and the active interface; then cohesive / bonded per design (wall and mechanics). JSON into
``OUT/bench.json``.

Usage::

    nice -n 15 .venv/bin/python benchmarks/bench_damage_cost.py [--cycles 3] [-o runs/bench-damage-cost]
        [--kinds infiltrated cosintered] [--legacy] [--reuse] [--ranks 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from fem_electrode.config import load_case, write_case

#: Runs ``fem-electrode`` in this process, timing the mechanics; prints one JSON line at the end.
#: ``FEM_BENCH_LEGACY=1`` restores the secant iteration as it was before the cost work.
WRAPPER = """
import json, os, sys, time
from fem_electrode.problems import cohesive_mechanics as cm, mechanics as mm
from fem_electrode.run import simulation as sim
if os.environ.get("FEM_BENCH_LEGACY") == "1":
    cm.LEGACY = True
acc = {"mechanics_solve_s": 0.0, "mechanics_solves": 0, "damage_update_s": 0.0}
def timed(f, key, count=None):
    def g(*a, **k):
        t0 = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            acc[key] += time.perf_counter() - t0
            if count:
                acc[count] += 1
    return g
mm.MechanicsProblem.solve = timed(mm.MechanicsProblem.solve, "mechanics_solve_s", "mechanics_solves")
cm.CohesiveMechanicsProblem.solve = timed(cm.CohesiveMechanicsProblem.solve, "mechanics_solve_s",
                                          "mechanics_solves")
sim.Simulation.update_damage = timed(sim.Simulation.update_damage, "damage_update_s")
from fem_electrode.cli import main
rc = main(sys.argv[1:])
print("BENCH_MECHANICS " + json.dumps(acc), flush=True)
sys.exit(rc)
"""


def run_one(case_file: Path, folder: Path, ranks: int, legacy: bool) -> dict:
    import os

    cmd = [sys.executable, "-c", WRAPPER, "run", str(case_file), "-o", str(folder), "--overwrite"]
    if ranks > 1:
        cmd = [str(Path(sys.executable).with_name("mpiexec")), "-n", str(ranks), *cmd]
    print("$", " ".join(cmd[-5:]), "(legacy)" if legacy else "", flush=True)
    env = {**os.environ, "FEM_BENCH_LEGACY": "1" if legacy else "0"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-3000:])
    acc = [json.loads(line.split(" ", 1)[1]) for line in proc.stdout.splitlines()
           if line.startswith("BENCH_MECHANICS ")]
    print(f"  exit {proc.returncode}, {wall:.0f} s", flush=True)
    # rank 0's figures (the ranks solve the mechanics together)
    return {"returncode": proc.returncode, "process_wall_s": wall, **(acc[0] if acc else {})}


def summary(folder: Path, measured: dict) -> dict:
    m = json.loads((folder / "metrics.json").read_text())
    d = m.get("interface_damage") or {}
    cycles = m.get("cycles") or []
    mech = measured.get("mechanics_solve_s")
    upd = measured.get("damage_update_s")
    return {
        "status": m["status"], "steps": m["steps"], "wall_s": m["solver"]["wall_time_s"],
        "process_wall_s": measured.get("process_wall_s"),
        "mechanics_s": max(mech or 0.0, upd or 0.0) if (mech is not None or upd is not None) else None,
        "mechanics_solves": measured.get("mechanics_solves"),
        "damage_updates": d.get("updates"), "secant_iterations": d.get("secant_iterations_total"),
        "unconverged_updates": d.get("unconverged_updates"), "factorizations": d.get("factorizations"),
        "cg_iterations": d.get("cg_iterations"),
        "capacity_discharge_mAh_per_g": cycles[-1].get("capacity_discharge_mAh_per_g") if cycles else None,
        "active_interface_fraction": d.get("active_interface_fraction"),
        "dissipated_energy_per_area_J_m2": d.get("dissipated_energy_per_area_J_m2"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", type=Path, default=Path("examples/damage-fade.toml"))
    p.add_argument("--kinds", nargs="+", default=["infiltrated", "cosintered"])
    p.add_argument("--cycles", type=int, default=3, help="cycles (docs/degradation.md measured 3)")
    p.add_argument("--legacy", action="store_true",
                   help="also run the cohesive case with the secant iteration of before the cost work")
    p.add_argument("--ranks", type=int, default=1)
    p.add_argument("-o", "--out", type=Path, default=Path("runs/bench-damage-cost"))
    p.add_argument("--reuse", action="store_true", help="keep finished runs (metrics.json present)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    variants = {"cohesive": ("cohesive", False), "bonded": ("bonded", False)}
    if args.legacy:
        variants = {"legacy": ("cohesive", True), **variants}
    results: dict[str, dict] = {}
    for kind in args.kinds:
        for name, (interface, legacy) in variants.items():
            tag = f"{kind}-{name}"
            folder = args.out / tag
            measured_file = args.out / f"{tag}.measured.json"
            if not (args.reuse and (folder / "metrics.json").is_file() and measured_file.is_file()):
                # one mesh per design, built by the first run into the benchmark's folder
                over = {"case": {"name": f"damage-fade-{kind}"},
                        "mesh": {"directory": str(args.out / "meshes")}, "geometry": {"kind": kind},
                        "protocol": {"cycles": args.cycles},
                        "output": {"fields": "none"}, "mechanics": {"interface": interface}}
                case_file = write_case(load_case(args.case, overrides=over), args.out / f"{tag}.toml")
                measured_file.write_text(json.dumps(run_one(case_file, folder, args.ranks, legacy)))
            results[tag] = summary(folder, json.loads(measured_file.read_text()))

    keys = [("status", "{}"), ("steps", "{}"), ("wall_s", "{:.1f}"), ("process_wall_s", "{:.1f}"),
            ("mechanics_s", "{:.1f}"), ("mechanics_solves", "{}"), ("damage_updates", "{}"),
            ("secant_iterations", "{}"), ("unconverged_updates", "{}"), ("factorizations", "{}"),
            ("cg_iterations", "{}"), ("capacity_discharge_mAh_per_g", "{:.4f}"),
            ("active_interface_fraction", "{:.5f}"), ("dissipated_energy_per_area_J_m2", "{:.5f}")]
    names = list(results)
    print(f"\n{args.case}, {args.cycles} cycle(s), {args.ranks} rank(s); wall_s: the run's solver wall time "
          "(meshing excluded)")
    print(f"{'':<30}" + "".join(f"{n:>24}" for n in names))
    for k, spec in keys:
        cells = ["-" if results[n].get(k) is None else spec.format(results[n][k]) for n in names]
        print(f"{k:<30}" + "".join(f"{c:>24}" for c in cells))
    ratios: dict[str, float] = {}
    for kind in args.kinds:
        b = results[f"{kind}-bonded"]
        for name in variants:
            if name == "bonded":
                continue
            c = results[f"{kind}-{name}"]
            ratios[f"{kind}: wall {name} / bonded"] = c["wall_s"] / b["wall_s"]
            if c.get("mechanics_s") is not None and b.get("mechanics_s"):
                ratios[f"{kind}: mechanics {name} / bonded"] = c["mechanics_s"] / b["mechanics_s"]
                ratios[f"{kind}: wall without mechanics {name} / bonded"] = (
                    (c["wall_s"] - c["mechanics_s"]) / (b["wall_s"] - b["mechanics_s"]))
    for k, v in ratios.items():
        print(f"{k:<52} {v:6.2f}")
    (args.out / "bench.json").write_text(json.dumps({"runs": results, "ratios": ratios,
                                                      "cycles": args.cycles}, indent=2))
    print(f"wrote {args.out / 'bench.json'}")


if __name__ == "__main__":
    main()
