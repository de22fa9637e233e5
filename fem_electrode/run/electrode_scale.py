"""Electrode scale (`fem-electrode scale`): the case's RVE → its effective properties → the
homogenized through-thickness model at the real electrode's thicknesses and C-rates.

Steps, all in one run folder (names from :mod:`fem_electrode.run.folder`):

1. the RVE mesh of the case (built or reused as `run` does) and its effective properties
   (:func:`fem_electrode.problems.effective.effective_properties`: conductivities along z from
   cell problems, interface area per volume, diffusion length, contact fractions; collective);
2. optionally the RVE's mechanics at full desodiation (y = 0, the most strained state of a
   cycle; bonded or cohesive as ``[mechanics] interface`` says): its ``mechanics`` block (thin-film
   G/G_c of the layer) and, for a cohesive interface, the separated fraction: the design map's
   mechanical risk;
3. on rank 0, for every ``[electrode] thickness`` × ``c_rates``: one cycle of the homogenized model
   (:mod:`fem_electrode.electrode`) with the case's protocol (start, cut-offs, holds) at that rate:
   capacities, CE, mean voltages, the plateau gap at half filling, energy per electrode volume
   and per composite mass (with and without the dense separator layer); per thickness the
   internal resistance R = slope/2 of the gap against the current density (gap = 2 j R, as in
   docs/validation.md).

``metrics.json`` holds ``electrode`` (``effective``, ``predictions``: one entry per thickness × rate,
``resistance``: one per thickness), the ``mechanics`` block when computed, and ``cell``;
``electrode_curves.csv`` the voltage curves; ``electrode.png`` the figure. Units: SI in the files
except where a key names its unit (µm, mAh/g, Wh/L, Wh/kg).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from fem_electrode.config import Case, write_case
from fem_electrode.electrode.metrics import energy_density, plateau_voltage, resistance_from_gaps
from fem_electrode.electrode.model import Discretization, ElectrodeModel, ElectrodeParams
from fem_electrode.electrode.solve import ElectrodeResult, replace_protocol, run_protocol
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.physics.effective_medium import EffectiveProperties
from fem_electrode.problems.effective import effective_properties
from fem_electrode.run import guard
from fem_electrode.run.folder import RunFolder
from fem_electrode.run.mechanics_only import uniform_filling_metrics
from fem_electrode.run.meshes import load_domain
from fem_electrode.util import atomic
from fem_electrode.util.log import get_logger

log = get_logger("scale")

#: geometry kinds whose NVP is a layer (Na diffuses across a slab); the others hold grains.
LAYERED_KINDS = ("infiltrated", "film", "coated_cavity", "column")
#: µm → m.
UM = 1e-6
#: The filling y at which the charge and discharge plateaus are compared (the gap).
GAP_FILLING = 0.5
#: An effective conductivity below this fraction of the bulk one is no conduction (round-off of a
#: network that does not percolate).
PERCOLATION_RTOL = 1e-9
#: The filling of the mechanics risk state: full desodiation, NVP shrunk the most.
RISK_FILLING = 0.0


def particle_shape(case: Case) -> str:
    """``slab`` or ``sphere``: ``[electrode] diffusion_geometry``, auto by the geometry kind."""
    shape = case.electrode.diffusion_geometry
    if shape != "auto":
        return shape
    return "slab" if case.geometry.kind in LAYERED_KINDS else "sphere"


def model_properties(case: Case, props: EffectiveProperties) -> EffectiveProperties:
    """``props`` with the conductivities the through-thickness model uses (``[electrode]
    conductivity``): the lateral (bulk) values, or the one-sided z values of the cell problems."""
    if case.electrode.conductivity == "lateral":
        kappa, sigma = props.kappa_ion_lateral, props.sigma_electronic_lateral
    else:
        cells = props.source.get("cell_problems", {})
        kappa = cells.get("kappa_ion_uniform_source", {}).get("value")
        sigma = cells.get("sigma_electronic_uniform_source", {}).get("value")
    if kappa is None or sigma is None:
        raise ValueError(f"electrode.conductivity = {case.electrode.conductivity!r}: the effective "
                         "properties hold no such values")
    m = case.materials
    for name, value, bulk in (("ionic (NZSP)", kappa, m.sigma_e_nzsp),
                              ("electronic (NVP)", sigma, m.sigma_s_nvp)):
        if not value > PERCOLATION_RTOL * bulk:
            raise ValueError(f"electrode.conductivity = {case.electrode.conductivity!r}: the {name} network "
                             f"of the RVE does not conduct that way ({value:.3g} S/m against the bulk "
                             f"{bulk:.3g} S/m); the through-thickness model needs both networks")
    return dataclasses.replace(props, kappa_ion=float(kappa), sigma_electronic=float(sigma))


def composite_density(case: Case, props: EffectiveProperties) -> float:
    """Mass of the porous electrode layer per volume, kg/m³ (pores empty)."""
    m = case.materials
    return props.fraction_nzsp * m.density_nzsp + props.fraction_nvp * m.density_nvp


def _gap(result: ElectrodeResult) -> float | None:
    """Charge minus discharge plateau voltage at half filling (V), None where a half-cycle did not
    cover it."""
    try:
        return (plateau_voltage(result, "charge", GAP_FILLING)
                - plateau_voltage(result, "discharge", GAP_FILLING))
    except ValueError:
        return None


def electrode_params(case: Case, props: EffectiveProperties, thickness_um: float) -> ElectrodeParams:
    """The homogenized model's parameters of an electrode ``thickness_um`` thick."""
    return ElectrodeParams.from_case(case, props, thickness_um * UM, particle=particle_shape(case))


def prediction(case: Case, props: EffectiveProperties, thickness_um: float, c_rate: float,
               basis: str = "c_rate") -> tuple[dict[str, Any], ElectrodeResult]:
    """One cycle of an electrode ``thickness_um`` thick at ``c_rate``: the summary and the result;
    ``basis`` says whether the rate was asked as a C-rate or as a current density."""
    params = electrode_params(case, props, thickness_um)
    model = ElectrodeModel(params, Discretization(case.electrode.nodes_thickness,
                                                  case.electrode.nodes_particle))
    result = run_protocol(model, replace_protocol(case.protocol, c_rate=c_rate, cycles=1))
    halves = {h.kind: h for h in result.half_cycles}
    charge, discharge = halves.get("charge"), halves.get("discharge")
    dens = (energy_density(params, discharge.energy_wh_per_m2, case.materials.density_nzsp)
            if discharge else None)
    return {
        "thickness_um": thickness_um, "c_rate": c_rate, "basis": basis,
        "current_density_A_m2": params.current_1c * c_rate,
        "nvp_loading_kg_m2": params.mass_nvp, "status": result.status, "message": result.message,
        "charge_capacity_mAh_per_g": charge.capacity if charge else None,
        "discharge_capacity_mAh_per_g": discharge.capacity if discharge else None,
        "coulombic_efficiency": (discharge.capacity / charge.capacity
                                 if charge and discharge and charge.capacity > 0 else None),
        "mean_voltage_charge_V": charge.mean_voltage if charge else None,
        "mean_voltage_discharge_V": discharge.mean_voltage if discharge else None,
        "end_charge": charge.end_reason if charge else None,
        "end_discharge": discharge.end_reason if discharge else None,
        "gap_at_half_filling_V": _gap(result),
        "energy_discharge_Wh_per_m2": dens.energy_wh_per_m2 if dens else None,
        "energy_discharge_Wh_per_L": dens.wh_per_l if dens else None,
        "energy_discharge_Wh_per_kg": dens.wh_per_kg if dens else None,
        "energy_discharge_Wh_per_kg_with_separator": dens.wh_per_kg_with_separator if dens else None,
        "energy_discharge_Wh_per_L_with_separator": dens.wh_per_l_with_separator if dens else None,
        "steps": result.steps, "rejected_steps": result.rejected, "wall_time_s": result.wall_time,
        "conservation": result.conservation_total,
    }, result


def resistance(predictions: list[dict[str, Any]], thickness_um: float) -> dict[str, Any]:
    """R = slope/2 of the plateau gap against the current density at one thickness (Ω m²), fitted
    with an intercept over the rates (C-rates and current densities) that gave a gap (one: gap / 2j)."""
    pts = [(p["current_density_A_m2"], p["gap_at_half_filling_V"]) for p in predictions
           if p["thickness_um"] == thickness_um and p["gap_at_half_filling_V"] is not None]
    out: dict[str, Any] = {"thickness_um": thickness_um, "rates": len(pts), "R_ohm_m2": None,
                           "intercept_V": None}
    if len(pts) == 1:
        j, gap = pts[0]
        out["R_ohm_m2"] = gap / (2.0 * j)
    elif len(pts) >= 2:
        js, gaps = zip(*pts, strict=True)
        out["R_ohm_m2"], out["intercept_V"] = resistance_from_gaps(js, gaps)
    return out


def _curves_csv(curves: list[tuple[float, float, ElectrodeResult]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["thickness_um", "c_rate", "time_s", "segment", "kind", "voltage_V",
                "capacity_mAh_per_g", "y_mean", "current_density_A_per_m2"])
    for thickness, rate, res in curves:
        for k in range(res.t.size):
            seg = res.segments[int(res.segment[k])]
            w.writerow([f"{thickness:g}", f"{rate:g}", f"{res.t[k]:.6g}", int(res.segment[k]), seg.kind,
                        f"{res.V[k]:.6f}", f"{res.capacity[k]:.6g}", f"{res.y_mean[k]:.6g}",
                        f"{res.current[k]:.6g}"])
    return buf.getvalue()


def figure(curves: list[tuple[float, float, ElectrodeResult]], path: Path) -> Path:
    """Voltage vs capacity of every thickness × rate (one panel per thickness)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thicknesses = sorted({c[0] for c in curves})
    fig, axes = plt.subplots(1, len(thicknesses), figsize=(4.6 * len(thicknesses), 3.8), squeeze=False,
                             layout="constrained")
    rates = sorted({c[1] for c in curves})
    colors = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(1, len(rates))))
    for ax, thickness in zip(axes[0], thicknesses, strict=True):
        for thick, rate, res in curves:
            if thick != thickness:
                continue
            color = colors[rates.index(rate)]
            for k, seg in enumerate(res.segments):
                if seg.control != "current" or seg.value == 0.0:
                    continue
                sel = res.segment == k
                ax.plot(res.capacity[sel], res.V[sel], color=color,
                        ls="-" if seg.kind == "charge" else "--",
                        label=f"{rate:g} C" if seg.kind == "charge" else None)
        ax.set_title(f"{thickness:g} µm electrode (homogenized)", fontsize=9)
        ax.set_xlabel("capacity (mAh/g NVP)")
        ax.set_ylabel("cell voltage (V)")
        ax.legend(fontsize=8, title="charge —, discharge --", title_fontsize=7)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scale(case: Case, out_dir: str | Path, mesh: str | Path | None = None, comm: MPI.Comm | None = None,
          *, mechanics: bool = True, case_file: Path | None = None, resume: bool = False,
          overwrite: bool = False) -> dict[str, Any]:
    """Run the three steps into ``out_dir``; returns metrics.json (written also when a step fails,
    with ``status`` failed and the reason). ``resume``: a folder of this case may be reused (the run
    has no checkpoint: it starts again)."""
    comm = comm or MPI.COMM_WORLD
    folder = RunFolder.at(out_dir)
    held, _ = guard.claim(folder, case, comm, case_file=case_file, resume=resume, overwrite=overwrite)
    data: dict[str, Any] = {"status": "failed", "reason": "stopped before the effective properties"}
    try:
        if comm.rank == 0:
            write_case(case, folder.case)
        start = time.perf_counter()
        domain, msh = load_domain(case, comm, mesh)
        log.info("effective properties of the RVE (%s)", msh)
        props = effective_properties(domain, case.materials, periodic=case.geometry.periodic, source={
            "mesh": str(msh), "kind": case.geometry.kind, "seed": case.geometry.seed,
            "box_um": list(case.geometry.box)})
        m = case.materials
        try:
            used = model_properties(case, props)
        except ValueError as exc:  # the networks do not conduct that way: a result, not a crash
            data["reason"] = str(exc)
            data["electrode"] = {"effective": props.to_dict()}
            if comm.rank == 0:
                atomic.write_json(folder.metrics, data)
            return data
        data["electrode"] = {"effective": {
            **props.to_dict(), "tortuosity_ion": used.tortuosity_ion(m.sigma_e_nzsp),
            "tortuosity_electronic": used.tortuosity_electronic(m.sigma_s_nvp),
            "composite_density_kg_m3": composite_density(case, props),
            "particle": particle_shape(case), "conductivity_used": case.electrode.conductivity,
            "kappa_ion_used": used.kappa_ion, "sigma_electronic_used": used.sigma_electronic,
            "wall_time_s": time.perf_counter() - start}}
        data["cell"] = {"mesh": str(msh), "counts": domain.global_counts()}
        eff = data["electrode"]["effective"]
        log.info("  used (%s): kappa_ion %.4g S/m (tortuosity %.3g), sigma_e %.4g S/m (tortuosity %.3g); "
                 "a %.4g 1/um, l %.4g um", case.electrode.conductivity, used.kappa_ion, eff["tortuosity_ion"],
                 used.sigma_electronic, eff["tortuosity_electronic"], props.interface_area_density * UM,
                 props.diffusion_length / UM)
        if mechanics:
            data["reason"] = "stopped in the mechanics at full desodiation"
            log.info("mechanics of the RVE at y = %g (risk state)", RISK_FILLING)
            data.update(uniform_filling_metrics(case, domain, msh, RISK_FILLING))
        data["reason"] = "stopped in the electrode-scale model"
        if comm.rank == 0:
            block, failed = _predict(case, used, folder)
            data["electrode"].update(block)
            if failed:
                data["reason"] = "the electrode model failed: " + "; ".join(failed)
            else:
                data["status"] = "completed"
                e = case.electrode
                data["reason"] = (f"effective properties of the RVE carried to {len(e.thickness)} "
                                  f"thickness(es) x {len(e.c_rates)} C-rate(s)")
        data = comm.bcast(data if comm.rank == 0 else None, root=0)
    except Exception as exc:
        data["reason"] = f"{data['reason']}: {type(exc).__name__}: {exc}"
        if comm.rank == 0:
            atomic.write_json(folder.metrics, data)
        raise
    finally:
        held.release()
    if comm.rank == 0:
        atomic.write_json(folder.metrics, data)
    comm.Barrier()
    return data


Curve = tuple[float, float, ElectrodeResult]  #: thickness (µm), C-rate, the run


def predictions(case: Case, props: EffectiveProperties
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Curve], list[str]]:
    """Every ``[electrode]`` thickness × rate of the model with the conductivities ``props`` carries:
    the predictions, the resistance per thickness, the curves and what failed."""
    preds, curves = [], []
    failed = []
    for thickness in case.electrode.thickness:
        one_c = electrode_params(case, props, thickness).current_1c  # A/m²
        asked = [(rate, "c_rate") for rate in case.electrode.c_rates] + [
            (j / one_c, "current_density") for j in case.electrode.current_densities or []]
        for rate, basis in asked:
            p, res = prediction(case, props, thickness, rate, basis)
            log.info("  %g um at %g C: %s / %s mAh/g, gap %s mV, %.3g Wh/L, %.3g Wh/kg (%d steps, %.1f s)",
                     thickness, rate, _f(p["charge_capacity_mAh_per_g"]),
                     _f(p["discharge_capacity_mAh_per_g"]),
                     _f(None if p["gap_at_half_filling_V"] is None else 1e3 * p["gap_at_half_filling_V"]),
                     p["energy_discharge_Wh_per_L"] or math.nan, p["energy_discharge_Wh_per_kg"] or math.nan,
                     res.steps, res.wall_time)
            if res.status != "completed":
                failed.append(f"{thickness:g} um at {rate:g} C: {res.message}")
            preds.append(p)
            curves.append((thickness, rate, res))
    return preds, [resistance(preds, t) for t in case.electrode.thickness], curves, failed


def _predict(case: Case, props: EffectiveProperties,
             folder: RunFolder) -> tuple[dict[str, Any], list[str]]:
    """Rank 0: every thickness × rate, the resistance fits, the curves and the figure; and what failed."""
    preds, resistances, curves, failed = predictions(case, props)
    atomic.write_text(folder.electrode_curves, _curves_csv(curves))
    figure(curves, folder.electrode_figure)
    return {"predictions": preds, "resistance": resistances}, failed


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"
