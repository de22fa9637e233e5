"""Does the ordering of the two designs' interface damage survive the uncertain parameters?

For the two motifs of the designs (an NVP sphere embedded in NZSP: co-sintered; an NVP
coating on the wall of a cavity: infiltrated), load the cohesive interface from y = 1 down in
steps of ``--dy`` (mechanics alone, uniform filling) and print, per parameter variant, the
filling y at which the interface first damages (onset) and the active interface (1 − D) at
y = 0.8 and 0. Variants: the defaults, interface strength and toughness ×/÷ 2, the thermal
residual strain on. Lengths in µm.

    python scripts/damage_onset_sensitivity.py [--dy 0.01] [--out runs/damage-sensitivity]

Serial; a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fem_electrode.config import validate
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.run import setup
from fem_electrode.run.meshes import load_domain

#: The canonical motifs (µm): box, inclusion radius, coating.
SHAPES = {
    "embedded sphere (co-sintered)": {"kind": "sphere_inclusion", "box": [4.0, 4.0, 4.0],
                                      "inclusion_radius": 1.2},
    "coated cavity (infiltrated)": {"kind": "coated_cavity", "box": [4.0, 4.0, 4.0],
                                    "inclusion_radius": 1.2, "coating_thickness": 0.3},
}
#: Element size of the motif meshes (µm).
SIZE_MAX = 0.6
#: The parameter variants: label -> (materials overrides as factors of the defaults, mechanics overrides).
VARIANTS = {
    "defaults": ({}, {}),
    "strength x 2": ({"strength_interface": 2.0, "strength_interface_shear": 2.0}, {}),
    "strength / 2": ({"strength_interface": 0.5, "strength_interface_shear": 0.5}, {}),
    "toughness x 2": ({"toughness_interface": 2.0 ** 0.5}, {}),  # K_IC x sqrt 2: G_c x 2
    "toughness / 2": ({"toughness_interface": 0.5 ** 0.5}, {}),
    "thermal residual on": ({}, {"residual_stress": "thermal"}),
}
#: Fillings at which the active interface is reported.
REPORT_Y = (0.8, 0.0)


def case_for(shape: dict, factors: dict, mech: dict, mesh_dir: Path):
    defaults = validate({}).materials
    materials = {k: getattr(defaults, k) * f for k, f in factors.items()}
    return validate({"case": {"name": shape["kind"]}, "geometry": dict(shape),
                     "mesh": {"size_max": SIZE_MAX, "directory": str(mesh_dir)},
                     "materials": materials,
                     "mechanics": {"interface": "cohesive", "prescribed_y": 0.0,
                                   "damage_tolerance": 1e-6, "damage_max_iterations": 200, **mech}})


def onset(case, domain, dy: float) -> dict:
    mech = setup.mechanics_problem(case, domain)
    out: dict = {"onset_y": None}
    n = round(1.0 / dy)
    try:
        for k in range(0, n + 1):  # k = 0: the residual strain alone, at y = 1
            y = 1.0 - k * dy
            mech.solve_y(y)
            state = mech.interface_state()
            if out["onset_y"] is None and state.max_damage > 0.0:
                out["onset_y"] = y
            for target in REPORT_Y:
                if abs(y - target) < 0.5 * dy:
                    out[f"active_at_{target:g}"] = state.active_area / state.area
    finally:
        mech.destroy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dy", type=float, default=0.01, help="load step in y (default 0.01)")
    parser.add_argument("--out", default="runs/damage-sensitivity", help="folder for meshes and results.json")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    t0 = time.perf_counter()
    for shape_label, shape in SHAPES.items():
        for label, (factors, mech) in VARIANTS.items():
            case = case_for(shape, factors, mech, out / "meshes")
            domain, _ = load_domain(case, MPI.COMM_WORLD)
            r = {"shape": shape_label, "variant": label, **onset(case, domain, args.dy)}
            results.append(r)
            active = "  ".join(f"active(y={t:g}) = {r.get(f'active_at_{t:g}', float('nan')):.4f}"
                               for t in REPORT_Y)
            print(f"{shape_label:32s} {label:22s} onset y = {r['onset_y']}  {active}", flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"{time.perf_counter() - t0:.0f} s; {out / 'results.json'}")


if __name__ == "__main__":
    main()
