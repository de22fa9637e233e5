"""Synthetic inputs for the report tests (not simulation results).

``toy_msh`` builds a tiny two-phase gmsh model with the registry's physical names: a
"coated pores" microstructure (NVP shells on the walls of pores) or a "grains" one (solid
NVP spheres and small voids). ``toy_run`` writes a run folder with made-up metrics and a
made-up voltage curve, so the report machinery can be tested without a solver.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fem_electrode import tags

L = 4.0  # µm


def toy_msh(path: Path, design: str, size: float = 0.3) -> Path:
    """Write a small tagged ``.msh`` (µm) for ``design`` ("infiltrated" or "cosintered")."""
    import gmsh

    gmsh.initialize(["-noenv"])
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        occ = gmsh.model.occ
        box = occ.addBox(0, 0, 0, L, L, L)
        centres = [(1.2, 1.3, 1.1), (2.8, 2.6, 2.5), (1.4, 2.9, 3.0), (3.5, 0.9, 3.6)]
        if design == "infiltrated":
            nvp_tools = [occ.addSphere(*c, 0.8) for c in centres]
            voids = [occ.addSphere(*c, 0.55) for c in centres]
        else:
            nvp_tools = [occ.addSphere(*c, 0.7) for c in centres]
            voids = [occ.addSphere(3.2, 0.9, 1.0, 0.35), occ.addSphere(0.5, 3.5, 0.6, 0.3)]
        tools = [(3, t) for t in nvp_tools + voids]
        _, children = occ.fragment([(3, box)], tools)
        occ.synchronize()
        void_ids = {t for dimtags in children[1 + len(nvp_tools):] for _, t in dimtags}
        inside = {t for dimtags in children[1:] for _, t in dimtags}
        inbox = {t for _, t in children[0]}
        nvp_ids = sorted((inside - void_ids) & inbox)
        nzsp = sorted(inbox - inside)
        outside = {t for _, t in gmsh.model.getEntities(3)} - inbox
        occ.remove([(3, t) for t in sorted(void_ids | outside)], recursive=True)
        occ.synchronize()
        gmsh.model.addPhysicalGroup(3, nzsp, tags.cell_tag("NZSP"), name="NZSP")
        gmsh.model.addPhysicalGroup(3, nvp_ids, tags.cell_tag("NVP"), name="NVP")
        gmsh.option.setNumber("Mesh.MeshSizeMax", size)
        gmsh.model.mesh.generate(3)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return path


def toy_timeseries(path: Path, capacity: float, gap: float) -> None:
    """The run's timeseries.csv layout: an initial row, a charge with a CV hold, a discharge.

    Columns as ``fem_electrode.outputs.timeseries.COLUMNS`` (segment is text; the capacity
    restarts at 0 in each half-cycle; current > 0 on charge).
    """
    n = 40
    q = np.linspace(capacity / n, capacity, n)
    rows = [(0.0, "initial", 0.0, 3.3, 0.0, 0.0)]
    t = 0.0
    for k in range(n):  # galvanostatic charge, then a short hold at the cut-off
        t += 360.0
        soc = q[k] / capacity
        rows.append((t, "charge", 1e-9, 3.37 + 0.5 * gap + 0.1 * (soc - 0.5), soc, q[k]))
    for k in range(3):
        t += 60.0
        last = rows[-1]
        rows.append((t, "charge_hold", 1e-10 / (k + 1), last[3], last[4], last[5] + 0.1 * (k + 1)))
    for k in range(n):
        t += 360.0
        rows.append((t, "discharge", -1e-9, 3.37 - 0.5 * gap - 0.1 * (q[k] / capacity - 0.5),
                     1.0 - q[k] / capacity, q[k]))
    with open(path, "w") as f:
        f.write("time_s,cycle,segment,current_A,voltage_V,soc,capacity_mAh_per_g,charge_rel_error\n")
        for i, (time, seg, cur, volt, soc, cap) in enumerate(rows):
            f.write(f"{time},1,{seg},{cur},{volt},{soc},{cap},{'' if i == 0 else 1e-12}\n")


def toy_metrics(capacity: float, gap: float, nvp_vm_p95: float, accommodation: float) -> dict:
    """metrics.json of a run, in the layout of the metrics schema (fem_electrode.run.folder)."""
    return {
        "capacity_discharge_mAh_per_g": capacity,
        "capacity_charge_mAh_per_g": capacity * 1.01,
        "coulombic_efficiency": 0.99,
        "polarization_V": gap,
        "conservation": {"charge": 1e-9, "sodium": 1e-9},
        "solver": {"newton_iterations": 120, "wall_time_s": 30.0},
        "mechanics": {
            "phases": {
                "NVP": {"von_mises": {"mean": 0.7 * nvp_vm_p95, "p95": nvp_vm_p95, "p99": 1.1 * nvp_vm_p95,
                                      "max": 3 * nvp_vm_p95},
                        "hydrostatic": {"mean": 0.5 * nvp_vm_p95, "p95": 0.8 * nvp_vm_p95},
                        "max_principal": {"mean": 0.6 * nvp_vm_p95, "p95": 0.9 * nvp_vm_p95},
                        "fraction_above_strength": 0.8},
                "NZSP": {"von_mises": {"mean": 2e8, "p95": 6e8}, "max_principal": {"p95": 3e8},
                         "fraction_above_strength": 0.2},
            },
            "strain_accommodation_index": accommodation,
            "elastic_energy": {"total": 1e-12, "per_nvp_volume": 4e7},
        },
    }


def merged(base: dict, extra: dict) -> dict:
    """``base`` with the leaves of ``extra`` put in (nested mappings merged, the rest replaced)."""
    out = dict(base)
    for key, value in extra.items():
        nest = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if nest else value
    return out


def toy_damage(retention: list[float], debonded: float, active: float) -> dict:
    """The metrics.json entries of a run with a cohesive interface: per cycle the capacity retention
    (cycle 1 first) and the interface state, growing linearly to ``debonded`` and ``active`` at the end."""
    n = len(retention)
    cycles = [{"cycle": k + 1, "capacity_retention": r, "debonded_fraction": debonded * (k + 1) / n,
               "active_interface_fraction": 1.0 - (1.0 - active) * (k + 1) / n}
              for k, r in enumerate(retention)]
    return {"cycles": cycles,
            "interface_damage": {"debonded_fraction": debonded, "active_interface_fraction": active,
                                 "unconverged_updates": 0}}


def toy_thin_film(channeling_ratio: float, delamination_ratio: float, h: float = 0.4e-6,
                  h_c: float = 0.2e-6) -> dict:
    """The thin-film fracture indicators of a run (G/G_c of a channel crack and of delamination, the
    layer thickness and the channel crack's critical thickness, m)."""
    return {"mechanics": {"thin_film": {"channeling_ratio": channeling_ratio,
                                        "delamination_ratio": delamination_ratio,
                                        "h": h, "h_critical_channeling": h_c}}}


def toy_samples(path: Path, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = {}
    for phase, s in (("NVP", scale), ("NZSP", 0.3 * scale)):
        n = 500
        data[f"{phase}.volume"] = rng.uniform(0.5, 1.5, n) * 1e-20
        data[f"{phase}.von_mises"] = np.abs(rng.normal(s, 0.3 * s, n))
        data[f"{phase}.hydrostatic"] = rng.normal(0.6 * s, 0.3 * s, n)
        data[f"{phase}.max_principal"] = rng.normal(0.8 * s, 0.3 * s, n)
    data["interface.area"] = rng.uniform(0.5, 1.5, 300) * 1e-14
    data["interface.normal_traction"] = rng.normal(0.5 * scale, 0.2 * scale, 300)
    data["interface.shear_traction"] = np.abs(rng.normal(0.2 * scale, 0.1 * scale, 300))
    data["y_mean"] = np.array(0.05)
    np.savez(path, **data)


def toy_run(run_dir: Path, design: str, capacity: float, gap: float, nvp_vm_p95: float,
            accommodation: float, msh: Path | None = None, extra: dict | None = None) -> Path:
    """A complete synthetic run folder for ``design`` (``extra``: entries merged into its metrics,
    e.g. :func:`toy_damage`, :func:`toy_thin_film`)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics = merged(toy_metrics(capacity, gap, nvp_vm_p95, accommodation), extra or {})
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    toy_timeseries(run_dir / "timeseries.csv", capacity, gap)
    toy_samples(run_dir / "stress_samples.npz", nvp_vm_p95, seed=len(design))
    mesh_dir = run_dir / "mesh"
    mesh_dir.mkdir(exist_ok=True)
    info = {"units": {"length": "um", "area_per_volume": "1/um"},
            "resolved": {"layer_thickness": 0.4 if design == "infiltrated" else None, "pore_formers": 40},
            "measured": {"volume_fractions": {"NZSP": 0.8, "NVP": 0.15, "pore": 0.05},
                         "interface_area_per_volume": {"interface_nvp_nzsp": 1.2 if design == "infiltrated"
                                                       else 0.8},
                         "pore_clusters": {"count": 3, "infiltrated": 3, "isolated": 0},
                         "elements": {"tetrahedra": 1000}}}
    (mesh_dir / f"{design}.json").write_text(json.dumps(info))
    if msh is not None:
        (mesh_dir / f"{design}.msh").write_bytes(msh.read_bytes())
    return run_dir
