"""The run-folder contract: every file a run writes, and the schema of ``metrics.json``.

Writers (:mod:`fem_electrode.run.simulation`, :mod:`fem_electrode.run.mechanics_only`) and
readers (:mod:`fem_electrode.report`, :mod:`fem_electrode.campaign.collect`) name files only
through :class:`RunFolder`, and read the meaning, unit and "better" direction of a metric only
from :data:`METRICS` (:func:`metric`). A run folder holds::

    case.toml               the resolved case (every default filled in)
    timeseries.csv          one row per accepted time step (columns with units in their names)
    metrics.json            the metrics below, written atomically at the end or on failure
    cycles.csv              one row per cycle (capacities, CE, polarization, energies), with metrics.json
    run.log                 the log (rank 0, debug level)
    checkpoint.npz          restart state (fields keyed by dof coordinates, protocol state)
    concentration/c_NNNN.npz  NVP concentration at every field output (mechanics afterwards)
    stress_samples.npz      per-cell stress samples of the state the mechanics metrics describe
    fields/                 ParaView files (XDMF; mesh.xdmf with the phase and surface tags)
    run.lock                held (flock) by the run writing into the folder
    electrode_curves.csv    `scale`: voltage curves of the homogenized electrode (thickness x C-rate)
    electrode.png           `scale`: the figure of those curves

A campaign's case folder adds ``status.json`` and ``job.log`` (written by the job step,
:mod:`fem_electrode.campaign.job`, around the run).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

CASE = "case.toml"
TIMESERIES = "timeseries.csv"
METRICS = "metrics.json"
CYCLES = "cycles.csv"
LOG = "run.log"
CHECKPOINT = "checkpoint.npz"
CONCENTRATION = "concentration"
STRESS_SAMPLES = "stress_samples.npz"
FIELDS = "fields"
MESH_XDMF = "mesh.xdmf"
LOCK = "run.lock"
STATUS = "status.json"
JOB_LOG = "job.log"
ELECTRODE_CURVES = "electrode_curves.csv"
ELECTRODE_FIGURE = "electrode.png"
#: What a run writes (removed before a fresh start in the same folder).
OUTPUTS = (TIMESERIES, METRICS, CYCLES, LOG, CHECKPOINT, CONCENTRATION, STRESS_SAMPLES, FIELDS,
           ELECTRODE_CURVES, ELECTRODE_FIGURE)
#: What the job step of a campaign keeps beside a run (never removed by the run).
JOB_FILES = (STATUS, JOB_LOG)


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder."""

    path: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> RunFolder:
        return cls(Path(path))

    @property
    def case(self) -> Path:
        return self.path / CASE

    @property
    def cycles(self) -> Path:
        return self.path / CYCLES

    @property
    def timeseries(self) -> Path:
        return self.path / TIMESERIES

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def log(self) -> Path:
        return self.path / LOG

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def concentration(self) -> Path:
        """Folder of the NVP concentration snapshots ``c_NNNN.npz``."""
        return self.path / CONCENTRATION

    @property
    def stress_samples(self) -> Path:
        return self.path / STRESS_SAMPLES

    @property
    def fields(self) -> Path:
        return self.path / FIELDS

    @property
    def mesh_xdmf(self) -> Path:
        return self.path / FIELDS / MESH_XDMF

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    @property
    def status(self) -> Path:
        return self.path / STATUS

    @property
    def job_log(self) -> Path:
        return self.path / JOB_LOG

    @property
    def electrode_curves(self) -> Path:
        return self.path / ELECTRODE_CURVES

    @property
    def electrode_figure(self) -> Path:
        return self.path / ELECTRODE_FIGURE


# ---- the metrics schema ------------------------------------------------------------------------
HIGHER, LOWER, SMALLER_MAGNITUDE = "higher", "lower", "smaller magnitude"
GROUPS = ("electrochemistry", "stress", "interface", "energy", "fracture", "run", "cell", "other")

#: Stresses closer than this (Pa) are a tie whatever their ratio (near-zero means, e.g. the
#: hydrostatic stress of a matrix in balance, would otherwise give meaningless ratios).
STRESS_ATOL = 5e6


@dataclass(frozen=True)
class MetricSpec:
    """One numeric entry of ``metrics.json`` (flattened with dots), as stored and as shown.

    ``si_unit`` is the unit of the stored value; ``unit`` and ``scale`` the display unit
    (display = stored × scale). ``better`` is HIGHER, LOWER, SMALLER_MAGNITUDE or None
    (informational); ``verdict`` says whether a comparison of designs may use it (``note``
    says why not); ``atol`` (SI) is the difference below which two values tie.
    """

    key: str
    label: str
    si_unit: str = "-"
    unit: str = ""
    scale: float = 1.0
    better: str | None = None
    group: str = "other"
    verdict: bool = True
    atol: float = 0.0
    note: str = ""
    meaning: str = ""


_SPECS: list[MetricSpec] = []


def _add(key: str, label: str, si_unit: str = "-", unit: str = "", scale: float = 1.0, **kw: object) -> None:
    _SPECS.append(MetricSpec(key, label, si_unit, unit, scale, **kw))  # type: ignore[arg-type]


_STATS = {"mean": "mean", "p95": "95th pct.", "p99": "99th pct.", "min": "min", "max": "max"}
_EXTREME = "extreme value, set by mesh-dependent re-entrant corners"
#: Why the stress invariants describe but do not judge (brittle ceramics: docs/degradation.md).
_DUCTILE = ("descriptive: von Mises is a ductile-yield measure; brittle NVP and NZSP are judged by "
            "damage and G/G_c")
_BRITTLE = ("descriptive: a brittle crack grows when G reaches G_c, not when a principal stress passes "
            "a strength")


def _distribution(prefix: str, label: str, better: str, group: str, meaning: str,
                  fraction: str | None = None, fraction_verdict: bool = True, descriptive: str = "") -> None:
    """A stress distribution: mean, p95, p99, min, max (Pa) and optionally the fraction above
    ``fraction`` (``fraction_verdict``: False where another key holds the same number);
    ``descriptive``: why no statistic of it may decide the verdict (empty: mean, p95, p99 may)."""
    for stat, words in _STATS.items():
        extreme = stat in ("min", "max")
        _add(f"{prefix}.{stat}", f"{label}, {words}", "Pa", "MPa", 1e-6, better=better, group=group,
             verdict=not extreme and not descriptive, atol=STRESS_ATOL,
             note=_EXTREME if extreme else descriptive,
             meaning=f"{meaning}: {words} (volume or area weighted)")
    if fraction is not None:
        _add(f"{prefix}.fraction_above", f"{label}, fraction above {fraction}", "-", "%", 100.0,
             better=LOWER, group="fracture", verdict=fraction_verdict, atol=1e-3,
             note="" if fraction_verdict else "same as the fraction above strength",
             meaning=f"weight fraction where {label} exceeds the {fraction}")


# electrochemistry (last complete cycle; per-cycle values are in the list "cycles")
_add("capacity_charge_mAh_per_g", "charge capacity", "mAh/g", "mAh/g", better=HIGHER,
     group="electrochemistry",
     meaning="charge passed on charge (galvanostatic + hold) per gram of NVP, last complete cycle")
_add("capacity_discharge_mAh_per_g", "discharge capacity", "mAh/g", "mAh/g", better=HIGHER,
     group="electrochemistry", meaning="charge passed on discharge per gram of NVP, last complete cycle")
_add("coulombic_efficiency", "Coulombic efficiency", "-", "", better=HIGHER, group="electrochemistry",
     meaning="discharge / charge capacity of the last complete cycle")
_add("polarization_V", "polarization", "V", "mV", 1e3, better=LOWER, group="electrochemistry",
     meaning="charge minus discharge voltage, each at half of its galvanostatic capacity")
_add("energy_charge_mWh_per_g", "charge energy", "mWh/g", "mWh/g", group="electrochemistry",
     meaning="energy put in on charge (galvanostatic + hold) per gram of NVP, last complete cycle")
_add("energy_discharge_mWh_per_g", "discharge energy", "mWh/g", "mWh/g", better=HIGHER,
     group="electrochemistry", meaning="energy taken out on discharge per gram of NVP, last complete cycle")
_add("energy_efficiency", "energy efficiency", "-", "", better=HIGHER, group="electrochemistry",
     meaning="discharge / charge energy of the last complete cycle")
for _name in ("charge", "sodium", "sodium_cumulative"):
    _add(f"conservation.{_name}", f"{_name.replace('_', ' ')} conservation error", "-", group="run",
         meaning="largest relative conservation error (per step; cumulative over the run)")
_add("time_s", "simulated time", "s", "s", group="run", meaning="time at the end of the run")
_add("steps", "accepted time steps", "-", group="run", meaning="accepted time steps")
# solver
for _name, _meaning in (
        ("newton_solves", "Newton solves tried"), ("failed_solves", "Newton solves that failed (retried)"),
        ("newton_iterations", "Newton iterations, all solves"),
        ("linear_iterations", "Krylov iterations, all solves"),
        ("mean_newton_iterations", "Newton iterations per solve"),
        ("max_newton_iterations", "most Newton iterations of an accepted solve"),
        ("mean_linear_iterations_per_newton", "Krylov iterations per Newton iteration"),
        ("accepted_solves", "Newton solves accepted"), ("ranks", "MPI ranks"),
        ("bdf2_steps", "accepted BDF2 steps (time_stepping = 'bdf2')"),
        ("jacobians", "Jacobians assembled and factorized (fewer than Newton iterations with [solver] "
                      "jacobian_reuse: chord steps)"),
        ("dofs.phi_e", "degrees of freedom of phi_e"), ("dofs.c", "degrees of freedom of c"),
        ("dofs.phi_s", "degrees of freedom of phi_s"),
        ("coupling.tolerance", "two-way coupling tolerance (RT units)"),
        ("coupling.coupled_steps", "two-way coupled steps tried"),
        ("coupling.staggered_iterations", "staggered iterations"),
        ("coupling.mean_staggered_iterations", "staggered iterations per step"),
        ("coupling.max_staggered_iterations", "most staggered iterations of a step"),
        ("coupling.failed_coupled_steps", "coupled steps that did not converge"),
        ("coupling.mechanics_solves", "mechanics solves of the coupling"),
        ("mechanics_iterations", "Krylov iterations of the mechanics solve"),
        ("mechanics_dofs", "degrees of freedom of the displacement"),
        ("mechanics_degree", "Lagrange degree of the displacement")):
    _add(f"solver.{_name}", _meaning, "-", group="run", meaning=_meaning)
for _name, _meaning in (("newton", "steps tried again after a failed Newton solve"),
                        ("local_error", "steps tried again: local error above tolerance"),
                        ("cutoff", "steps tried again to land on a cut-off"),
                        ("in_plateau", "of the retried steps, those inside the plateau (0.05 < y < 0.95)")):
    _add(f"solver.rejected_steps.{_name}", _meaning, "-", group="run", meaning=_meaning)
_add("solver.wall_time_s", "wall time", "s", "s", group="run", meaning="wall time of the run")
_add("solver.mechanics_wall_time_s", "mechanics solve wall time", "s", "s", group="run",
     meaning="wall time of the mechanics solve")
# the cell (RVE) the run describes
for _name, _si, _unit, _scale, _meaning in (
        ("mass_nvp_kg", "kg", "pg", 1e15, "NVP mass in the RVE"),
        ("volume_nvp_m3", "m^3", "µm³", 1e18, "NVP volume in the RVE"),
        ("interface_area_m2", "m^2", "µm²", 1e12, "NVP|NZSP interface area"),
        ("collector_area_nvp_m2", "m^2", "µm²", 1e12, "NVP contact area at the current collector"),
        ("projected_area_m2", "m^2", "µm²", 1e12, "projected area Lx Ly"),
        ("current_1C_A", "A", "A", 1.0, "1 C current of the RVE"),
        ("series_resistance_ohm_m2", "Ohm m^2", "Ω cm²", 1e4, "lumped separator + Na|NZSP resistance")):
    _add(f"cell.{_name}", _meaning, _si, _unit, _scale, group="cell", meaning=_meaning)
_add("cell.nvp_residual_strain", "NVP residual (thermal mismatch) strain", "-", group="cell",
     meaning="isotropic eigenstrain of NVP at every state (mechanics.residual_stress = 'thermal'; 0: none)")
for _name in ("cells_NZSP", "cells_NVP", "facets_interface_nvp_nzsp", "cells", "vertices"):
    _add(f"cell.counts.{_name}", _name.replace("_", " "), "-", group="cell", meaning="mesh entity count")
_add("source.time_s", "time of the concentration snapshot", "s", "s", group="run",
     meaning="mechanics alone on a run's snapshot: its time")
_add("source.y_mean", "mean filling of the snapshot", "-", group="run",
     meaning="mechanics alone on a run's snapshot: its mean NVP filling")
# mechanics: the most strained field output (or the prescribed state)
_M = "mechanics"
_add(f"{_M}.time_s", "time of the mechanics state", "s", "s", group="other",
     meaning="time of the state the mechanics metrics describe")
_add(f"{_M}.y_mean", "mean NVP filling of the mechanics state", "-", group="other",
     meaning="mean filling y = c/c_max of that state")
for _phase in ("NZSP", "NVP"):
    _p = f"{_M}.phases.{_phase}"
    _add(f"{_p}.volume", f"{_phase} volume", "m^3", "µm³", 1e18, group="other", meaning=f"{_phase} volume")
    _distribution(f"{_p}.von_mises", f"{_phase} von Mises stress", LOWER, "stress",
                  f"von Mises stress in {_phase}", descriptive=_DUCTILE)
    _distribution(f"{_p}.hydrostatic", f"{_phase} hydrostatic stress", SMALLER_MAGNITUDE, "stress",
                  f"hydrostatic stress tr(sigma)/3 in {_phase} (> 0 tension)")
    _distribution(f"{_p}.max_principal", f"{_phase} max principal stress", LOWER, "stress",
                  f"largest principal stress in {_phase}", fraction="strength", fraction_verdict=False,
                  descriptive=_BRITTLE)
    _add(f"{_p}.strength", f"{_phase} strength", "Pa", "MPa", 1e-6, group="other",
         meaning=f"fracture strength of {_phase} (input)")
    _add(f"{_p}.fraction_above_strength", f"{_phase} fraction above strength", "-", "%", 100.0,
         better=LOWER, group="fracture", atol=1e-3, verdict=False, note=_BRITTLE,
         meaning=f"volume fraction of {_phase} whose max principal stress exceeds its strength")
    _add(f"{_p}.elastic_energy", f"{_phase} elastic energy", "J", "nJ", 1e9, better=LOWER, group="energy",
         meaning=f"stored elastic energy in {_phase}")
_I = f"{_M}.interface"
_add(f"{_I}.area", "interface area", "m^2", "µm²", 1e12, group="other", meaning="NVP|NZSP interface area")
_add(f"{_I}.strength", "interface strength", "Pa", "MPa", 1e-6, group="other",
     meaning="NVP|NZSP interface strength (input)")
_distribution(f"{_I}.normal_traction", "NVP|NZSP interface normal traction", LOWER, "interface",
              "interface normal traction (> 0 opening)", fraction="interface strength")
_distribution(f"{_I}.shear_traction", "NVP|NZSP interface shear traction", SMALLER_MAGNITUDE, "interface",
              "interface shear traction magnitude", fraction="interface strength")
_add(f"{_M}.elastic_energy.total", "elastic energy, total", "J", "nJ", 1e9, better=LOWER, group="energy",
     meaning="stored elastic energy in the RVE")
_add(f"{_M}.elastic_energy.per_nvp_volume", "elastic energy per NVP volume", "J/m^3", "MJ/m³", 1e-6,
     better=LOWER, group="energy", meaning="stored elastic energy divided by the NVP volume")
_add(f"{_M}.strain_accommodation_index", "strain accommodation index", "-", better=HIGHER, group="energy",
     meaning="<tr eps(u)> / <tr eps_ch> over NVP (1 = free expansion, 0 = clamped)")
_add(f"{_M}.mean_trace_strain_nvp", "mean tr eps(u) in NVP", "-", group="other",
     meaning="volume mean of the trace of the total strain in NVP")
_add(f"{_M}.mean_trace_eigenstrain_nvp", "mean tr eps_ch in NVP", "-", group="other",
     meaning="volume mean of the trace of the chemical strain in NVP")
_T = f"{_M}.thin_film"
_add(f"{_T}.h", "NVP layer thickness h", "m", "µm", 1e6, group="fracture",
     meaning="layer thickness of the thin-film indicator (h_source says where it came from)")
_add(f"{_T}.sigma_film", "film stress", "Pa", "MPa", 1e-6, group="fracture",
     meaning="equi-biaxial in-plane stress of the layer, 1.5 x its mean hydrostatic stress")
_add(f"{_T}.dundurs_alpha", "Dundurs alpha (NVP on NZSP)", "-", group="fracture",
     meaning="(E'_NVP - E'_NZSP)/(E'_NVP + E'_NZSP), plane-strain moduli E' = E/(1 - nu^2)")
_add(f"{_T}.dundurs_beta", "Dundurs beta (NVP on NZSP)", "-", group="fracture",
     meaning="second Dundurs parameter of the NVP film on the NZSP substrate")
_add(f"{_T}.g_channeling", "g(alpha, beta), channel crack", "-", group="fracture",
     meaning="Beuth's mismatch factor of the channel crack (1.258 without mismatch)")
_add(f"{_T}.Z_channeling", "Z, channel crack", "-", group="fracture",
     meaning="G_channeling = Z sigma^2 h / E', Z = (pi/2) g")
_add(f"{_T}.Z_delamination", "Z, delamination", "-", group="fracture",
     meaning="G_delamination = Z sigma^2 h / E', Z = 1/2 (steady state, straight front, plane strain)")
_add(f"{_T}.h_critical_channeling", "critical layer thickness, channel crack", "m", "µm", 1e6,
     better=HIGHER, group="fracture", verdict=False, note="a material property at the film stress",
     meaning="layer thickness below which a channel crack cannot grow: G_c E'/(Z sigma^2)")
_add(f"{_T}.h_critical_delamination", "critical layer thickness, delamination", "m", "µm", 1e6,
     better=HIGHER, group="fracture", verdict=False, note="a material property at the film stress",
     meaning="layer thickness below which the layer cannot delaminate: G_c,interface E'/(Z sigma^2)")
_add(f"{_T}.G_channeling", "thin film, G channel crack", "J/m^2", "J/m²", better=LOWER, group="fracture",
     meaning="energy release rate of a channel crack through the layer")
_add(f"{_T}.G_delamination", "thin film, G delamination", "J/m^2", "J/m²", better=LOWER, group="fracture",
     meaning="energy release rate of delamination of the layer")
_add(f"{_T}.Gc_film", "G_c of NVP", "J/m^2", "J/m²", group="fracture",
     meaning="K_IC^2 / E' of NVP (plane strain)")
_add(f"{_T}.Gc_interface", "G_c of the interface", "J/m^2", "J/m²", group="fracture",
     meaning="K_IC^2 / E' of the NVP|NZSP interface (plane strain, NVP modulus)")
_add(f"{_T}.channeling_ratio", "thin film, channeling ratio G/G_c", "-", better=LOWER, group="fracture",
     meaning="G_channeling / Gc_film (> 1: a channel crack grows)")
_add(f"{_T}.delamination_ratio", "thin film, delamination ratio G/G_c", "-", better=LOWER, group="fracture",
     meaning="G_delamination / Gc_interface (> 1: the layer delaminates)")

# interface damage (mechanics.interface = 'cohesive'): the state at the end of the run
_D = "interface_damage"
_add(f"{_D}.interface_area_m2", "NVP|NZSP interface area (cohesive)", "m^2", "µm²", 1e12, group="cell",
     meaning="area of the cohesive interface")
_add(f"{_D}.debonded_fraction", "separated interface", "-", "%", 100.0, better=LOWER, group="fracture",
     meaning="area fraction of the interface that carries < 1 % of its strength (faces separated)")
_add(f"{_D}.damaged_fraction", "damaged interface", "-", "%", 100.0, better=LOWER, group="fracture",
     meaning="area fraction of the interface with damage D > 0 (past its strength once)")
_add(f"{_D}.active_interface_fraction", "active interface", "-", "%", 100.0, better=HIGHER, group="fracture",
     meaning="∫ f dA / A, f the contact fraction (1 − D, or the strength left: contact_measure): the "
             "interface that still passes current")
_add(f"{_D}.closed_fraction", "interface in contact (compression)", "-", "%", 100.0, group="fracture",
     meaning="area fraction of the interface whose faces are pressed together")
_add(f"{_D}.dissipated_energy_J", "energy dissipated by debonding", "J", "pJ", 1e12, better=LOWER,
     group="fracture", meaning="∫ Ψ(D) dA over the interface")
_add(f"{_D}.dissipated_energy_per_area_J_m2", "debonding energy per interface area", "J/m^2", "J/m²",
     better=LOWER, group="fracture", meaning="dissipated energy / interface area (G_c at full separation)")
_add(f"{_D}.max_damage", "largest interface damage", "-", better=LOWER, group="fracture",
     meaning="max D over the interface facets")
for _name, _meaning in (("secant_iterations_total", "secant iterations of all damage updates"),
                        ("updates", "mechanics (damage) updates"),
                        ("unconverged_updates", "damage updates stopped at damage_max_iterations"),
                        ("factorizations", "LU factorizations of the cohesive mechanics"),
                        ("cg_iterations", "CG iterations of the cohesive mechanics")):
    _add(f"{_D}.{_name}", _meaning, "-", group="run", meaning=_meaning)
_add(f"{_D}.cycle_jumps", "cycle jumps", "-", group="run",
     meaning="mechanics.fatigue: blocks of cycles extrapolated by cycle jumping (mechanics.cycle_jump)")
_add(f"{_D}.cycles_extrapolated", "cycles extrapolated", "-", group="run",
     meaning="mechanics.fatigue: cycles skipped by cycle jumping (interpolated, marked in cycles.csv)")

#: Every declared metric, by flattened key.
METRICS_SCHEMA: dict[str, MetricSpec] = {s.key: s for s in _SPECS}

#: Flattened keys of metrics.json that hold text, not numbers (not part of the numeric schema).
TEXT_KEYS = ("status", "reason", "solver.linear", "solver.time_stepping",
             "solver.coupling.mode", "solver.mechanics_reason",
             "cell.mesh", "source.snapshot", "mechanics.thin_film.h_source", "mechanics.units.*")


class UndeclaredMetric(KeyError):
    """A key of metrics.json that the schema does not declare."""

    def __str__(self) -> str:
        return str(self.args[0])


def metric(key: str) -> MetricSpec:
    """The spec of a flattened metrics.json key; raises :class:`UndeclaredMetric`."""
    try:
        return METRICS_SCHEMA[key]
    except KeyError:
        raise UndeclaredMetric(f"metrics.json key {key!r} is not declared in "
                               "fem_electrode/run/folder.py (METRICS_SCHEMA)") from None


def is_text_key(key: str) -> bool:
    """True for the flattened keys that hold text (status, reason, names)."""
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in TEXT_KEYS)
