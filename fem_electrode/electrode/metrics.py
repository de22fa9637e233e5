"""Figures of merit of a through-thickness run: energy densities and the internal resistance.

Energy densities (:func:`energy_density`) are those of the discharge: its energy ∫ V |I| dt per
m² of projected area divided by

- the electrode's volume L × 1 m² (Wh/L) or its mass L (f_NZSP ρ_NZSP + f_NVP ρ_NVP) (Wh/kg of
  the composite; the pores are empty), and
- the same plus the dense NZSP separator layer (thickness L_sep, density ρ_NZSP), which the
  paper's cell carries (600–800 µm, thicker than the electrode).

The Na counter electrode and the current collectors are not counted.

The internal resistance (:func:`internal_resistance`) follows docs/validation.md: the charge
plateau lies j R above the OCV and the discharge plateau j R below, so R = (V_charge −
V_discharge) / (2 j) at mid state of charge (⟨y⟩ = ½), Ω m² of projected area
(:func:`resistance_from_gaps`: R = slope / 2 of the gap against j over several rates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fem_electrode.electrode.model import ElectrodeParams
from fem_electrode.electrode.solve import ElectrodeResult

#: Litres per m³.
LITRE_PER_M3 = 1000.0
#: Filling at which the plateau gap is read (mid state of charge).
Y_MID = 0.5


@dataclass(frozen=True)
class EnergyDensity:
    """Energy of one discharge per volume and mass, with and without the dense separator."""

    energy_wh_per_m2: float  #: Wh per m² of projected area
    volume_l_per_m2: float  #: electrode volume, L per m²
    mass_kg_per_m2: float  #: electrode (composite) mass, kg/m²
    separator_mass_kg_per_m2: float  #: dense NZSP separator mass, kg/m²
    wh_per_l: float  #: Wh/L of electrode
    wh_per_kg: float  #: Wh/kg of composite
    wh_per_l_with_separator: float  #: Wh/L of electrode + separator
    wh_per_kg_with_separator: float  #: Wh/kg of electrode + separator
    wh_per_kg_nvp: float  #: Wh/kg of NVP


def energy_density(params: ElectrodeParams, energy_wh_per_m2: float, density_nzsp: float, *,
                   separator_thickness: float | None = None) -> EnergyDensity:
    """Energy densities of a discharge of ``energy_wh_per_m2`` (Wh/m²) from the electrode of
    ``params``; ``density_nzsp`` in kg/m³ (an estimate: 3300 kg/m³, the X-ray density of
    Na3.4Zr2Si2.4P0.6O12; Na3Zr2Si2PO12 is quoted at 3270 kg/m³), the separator thickness (m)
    defaults to the case's ``separator_thickness``."""
    if not density_nzsp > 0.0:
        raise ValueError(f"density_nzsp must be > 0 kg/m^3, got {density_nzsp!r}")
    sep = params.separator_thickness if separator_thickness is None else separator_thickness
    length = params.thickness
    mass = length * (params.fraction_nzsp * density_nzsp + params.fraction_nvp * params.density_nvp)
    sep_mass = sep * density_nzsp
    volume = length * LITRE_PER_M3
    volume_sep = (length + sep) * LITRE_PER_M3
    e = energy_wh_per_m2
    return EnergyDensity(
        energy_wh_per_m2=e, volume_l_per_m2=volume, mass_kg_per_m2=mass, separator_mass_kg_per_m2=sep_mass,
        wh_per_l=e / volume, wh_per_kg=e / mass, wh_per_l_with_separator=e / volume_sep,
        wh_per_kg_with_separator=e / (mass + sep_mass), wh_per_kg_nvp=e / params.mass_nvp,
    )


def discharge_energy(result: ElectrodeResult, which: int = -1) -> float:
    """Energy (Wh/m²) of a discharge half-cycle of ``result`` (default: the last one)."""
    discharges = [h for h in result.half_cycles if h.kind == "discharge"]
    if not discharges:
        raise ValueError("the run has no discharge")
    return discharges[which].energy_wh_per_m2


def plateau_voltage(result: ElectrodeResult, kind: str, y_mid: float = Y_MID, which: int = 0) -> float:
    """Cell voltage (V) of the galvanostatic part of a ``kind`` half-cycle where ⟨y⟩ = ``y_mid``."""
    halves = [h for h in result.half_cycles if h.kind == kind]
    try:
        half = halves[which]
    except IndexError:
        raise ValueError(f"the run has no {kind} number {which}") from None
    seg = next(k for k, s in enumerate(result.segments)
               if s.half_cycle == half.index and s.control == "current")
    curve = result.curve(seg)
    y, v = curve["y_mean"], curve["V"]
    order = np.argsort(y)
    y, v = y[order], v[order]
    if not y[0] <= y_mid <= y[-1]:
        raise ValueError(f"the {kind} covers <y> = {y[0]:.4g} ... {y[-1]:.4g}, not {y_mid}")
    return float(np.interp(y_mid, y, v))


def internal_resistance(result: ElectrodeResult, y_mid: float = Y_MID, *, charge: int = 0,
                        discharge: int = 0) -> float:
    """R = (V_charge − V_discharge) / (2 j) at ⟨y⟩ = ``y_mid`` (Ω m²), j the galvanostatic
    current density (the charge's and the discharge's magnitudes averaged)."""
    v_ch = plateau_voltage(result, "charge", y_mid, charge)
    v_dis = plateau_voltage(result, "discharge", y_mid, discharge)
    ch = [h for h in result.half_cycles if h.kind == "charge"][charge]
    dis = [h for h in result.half_cycles if h.kind == "discharge"][discharge]
    j = 0.5 * (abs(ch.current) + abs(dis.current))
    return (v_ch - v_dis) / (2.0 * j)


def resistance_from_gaps(current_densities: Sequence[float], gaps: Sequence[float]) -> tuple[float, float]:
    """Least-squares line gap = 2 R j + b over several rates: (R in Ω m², intercept b in V)."""
    j = np.asarray(current_densities, float)
    g = np.asarray(gaps, float)
    slope, intercept = np.polyfit(j, g, 1)
    return float(slope / 2.0), float(intercept)
