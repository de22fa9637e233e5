"""[materials]: properties of NZSP and NVP at 25 °C, SI units, each with its source."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fem_electrode.config.spec import Section, key
from fem_electrode.physics.constants import FARADAY, capacity_coulomb_per_kg

#: c_max F and ρ Q may differ by this (relative) before the case is refused (the defaults: 1.1e-4).
CAPACITY_RTOL = 1e-3


def _consistent_capacity(v: Mapping[str, Any]) -> list[str]:
    """c_max F must equal ρ Q: the cyclable charge per volume from the concentration and from the
    density and specific capacity."""
    by_c = v["c_max"] * FARADAY  # C/m^3
    by_q = v["density_nvp"] * capacity_coulomb_per_kg(v["capacity_nvp"])  # kg/m^3 * C/kg
    if abs(by_c - by_q) > CAPACITY_RTOL * by_q:
        return [f"c_max = {v['c_max']:g} mol/m^3, density_nvp = {v['density_nvp']:g} kg/m^3 and "
                f"capacity_nvp = {v['capacity_nvp']:g} mAh/g disagree: c_max F = {by_c:.4g} C/m^3 but "
                f"density x capacity = {by_q:.4g} C/m^3 (allowed: within {100 * CAPACITY_RTOL:g} %); "
                f"set c_max = {by_q / FARADAY:.6g} mol/m^3 or change the other two"]
    return []


@dataclass(frozen=True)
class MaterialsConfig:
    """Material parameters (SI units); each key names its source (docs/references.md)."""

    sigma_e_nzsp: float = key(
        0.5,
        "S/m",
        "ionic conductivity of NZSP (total)",
        lo=0.0,
        lo_open=True,
        source="Ma et al., J. Mater. Chem. A 7 (2019) 7766",
    )
    E_nzsp: float = key(
        80e9,
        "Pa",
        "Young's modulus of NZSP",
        lo=0.0,
        lo_open=True,
        source="Wolfenstine et al., Ionics 2022; Nonemacher et al., Ceram. Int. 45 (2019) 21308",
    )
    nu_nzsp: float = key(
        0.26,
        "-",
        "Poisson ratio of NZSP",
        lo=-1.0,
        hi=0.5,
        lo_open=True,
        hi_open=True,
        source="Nonemacher et al., Ceram. Int. 45 (2019) 21308",
    )
    strength_nzsp: float = key(
        80e6,
        "Pa",
        "fracture strength of NZSP",
        lo=0.0,
        lo_open=True,
        source="Nonemacher et al., Ceram. Int. 45 (2019) 21308 (50-110 MPa)",
    )
    toughness_nzsp: float = key(
        1e6,
        "Pa m^0.5",
        "fracture toughness K_IC of NZSP",
        lo=0.0,
        lo_open=True,
        source="Nonemacher et al. (1.0-1.6 MPa m^0.5)",
    )
    E_nvp: float = key(
        80e9,
        "Pa",
        "Young's modulus of NVP",
        lo=0.0,
        lo_open=True,
        source="UNSOURCED estimate: no measured or computed elastic tensor of Na3V2(PO4)3 or NaV2(PO4)3 "
        "found; NASICON-family range 60-100 GPa, taken equal to NZSP (see the report's caveat)",
    )
    nu_nvp: float = key(
        0.27,
        "-",
        "Poisson ratio of NVP",
        lo=-1.0,
        hi=0.5,
        lo_open=True,
        hi_open=True,
        source="UNSOURCED estimate (NASICON-family 0.25-0.30)",
    )
    strength_nvp: float = key(
        80e6,
        "Pa",
        "fracture strength of NVP",
        lo=0.0,
        lo_open=True,
        source="estimate, taken equal to NZSP",
    )
    toughness_nvp: float = key(
        1e6,
        "Pa m^0.5",
        "fracture toughness K_IC of NVP",
        lo=0.0,
        lo_open=True,
        source="estimate, taken equal to NZSP",
    )
    strength_interface: float = key(
        80e6,
        "Pa",
        "NVP|NZSP interface strength (normal and shear traction threshold)",
        lo=0.0,
        lo_open=True,
        source="estimate",
    )
    toughness_interface: float = key(
        1e6,
        "Pa m^0.5",
        "NVP|NZSP interface toughness K_IC (thin-film delamination: G_c = K_IC^2 (1 - nu_nvp^2) / E_nvp)",
        lo=0.0,
        lo_open=True,
        source="estimate, taken equal to NZSP",
    )
    strength_interface_shear: float = key(
        80e6,
        "Pa",
        "mechanics.interface = 'cohesive': NVP|NZSP interface shear strength S (the normal strength N is "
        "strength_interface)",
        lo=0.0,
        lo_open=True,
        source="estimate: equal to the normal strength (no mode-II strength of a phosphate|phosphate "
        "interface is known; oxide/phosphate ceramic interfaces 50-150 MPa)",
    )
    toughness_ratio_interface: float = key(
        1.0,
        "-",
        "mechanics.interface = 'cohesive': G_IIc / G_Ic of the interface (G_Ic = toughness_interface^2 "
        "(1 - nu_nvp^2) / E_nvp)",
        lo=0.0,
        lo_open=True,
        source="estimate: mode-independent (no measured mode dependence; interface toughness usually grows "
        "with shear, Hutchinson & Suo, Adv. Appl. Mech. 29 (1992) 63)",
    )
    bk_exponent_interface: float = key(
        2.0,
        "-",
        "mechanics.interface = 'cohesive': Benzeggagh-Kenane exponent eta of the mixed-mode toughness",
        lo=0.0,
        lo_open=True,
        source="estimate: Benzeggagh & Kenane, Compos. Sci. Technol. 56 (1996) 439 fit 1-3 for laminates",
    )
    penalty_interface: float = key(
        1e19,
        "Pa/m",
        "mechanics.interface = 'cohesive': undamaged interface stiffness K (penalty); large enough that "
        "the bonded interface adds little compliance (K >= 50 E / t, Turon et al., Eng. Fract. Mech. 74 "
        "(2007) 1665: t = 0.4 um, E = 80 GPa)",
        lo=0.0,
        lo_open=True,
        source="numerical parameter (Turon et al. 2007 guideline), not a material property",
    )
    fatigue_paris_C: float = key(
        1e-6,
        "m/cycle",
        "mechanics.fatigue = 'paris': C of the interface's Paris law da/dN = C (Delta G / G_c)^m (crack "
        "growth per cycle when Delta G reaches G_c)",
        lo=0.0,
        hi=1.0,
        lo_open=True,
        source="estimate: no fatigue data of an NVP|NZSP (or any NASICON) interface exist; normalized "
        "Paris curves of structural ceramics reach 1e-7 ... 1e-5 m/cycle as K_max nears K_c (Ritchie, "
        "Int. J. Fract. 100 (1999) 55)",
    )
    fatigue_paris_m: float = key(
        10.0,
        "-",
        "mechanics.fatigue = 'paris': exponent m of the Paris law in Delta G / G_c",
        lo=0.0,
        hi=100.0,
        lo_open=True,
        source="estimate: ceramics and ceramic interfaces have Paris exponents 10-50 in Delta K (Ritchie, "
        "Int. J. Fract. 100 (1999) 55; Dauskardt, Acta Metall. Mater. 41 (1993) 2765), i.e. 5-25 in Delta G "
        "(G proportional to K^2); 10 in G = 20 in K",
    )
    fatigue_threshold_ratio: float = key(
        0.1,
        "-",
        "mechanics.fatigue = 'paris': G_th / G_c, no fatigue growth on a facet whose cycle peak G_max is "
        "below this fraction of its toughness",
        lo=0.0,
        hi=1.0,
        hi_open=True,
        source="estimate: fatigue thresholds of ceramics Delta K_th = 0.3-0.6 K_c (Ritchie 1999), i.e. "
        "G_th / G_c = 0.1-0.36; the low end",
    )
    cte_nzsp: float = key(
        6.5e-6,
        "1/K",
        "mean linear thermal expansion coefficient of NZSP, 25-740 C (mechanics.residual_stress = 'thermal')",
        lo=-5e-5,
        hi=5e-5,
        source="estimate 5-8e-6 /K: NASICON Na1+xZr2SixP3-xO12, whose NZP anisotropy (Hazen et al., J. "
        "Mater. Res. 2 (1987) 329) shrinks for x = 2; Naqash et al., Batteries 4 (2018) 33 measured NZSP "
        "(value not retrieved here)",
    )
    cte_nvp: float = key(
        7.5e-6,
        "1/K",
        "mean linear thermal expansion coefficient of NVP, 25-740 C (mechanics.residual_stress = 'thermal')",
        lo=-5e-5,
        hi=5e-5,
        source="UNSOURCED estimate 5-10e-6 /K (no measured CTE of Na3V2(PO4)3 found; its alpha-beta-gamma "
        "transitions at 30-225 C add strain)",
    )
    c_max: float = key(
        13.85e3,
        "mol/m^3",
        "cyclable Na concentration in NVP (x = 1 -> 3)",
        lo=0.0,
        lo_open=True,
        source="derived: 2 Na / (455.76 g/mol / 3.156 g/cm^3)",
    )
    omega_nvp: float = key(
        5.96e-6,
        "m^3/mol",
        "partial molar volume of Na in NVP",
        lo=0.0,
        source="Jian et al., Adv. Energy Mater. 3 (2013) 156: -8.26 % volume",
    )
    D_nvp: float = key(
        1e-16,
        "m^2/s",
        "chemical (Fickian) Na diffusivity in NVP, taken independent of the Na content; the mobility of "
        "the stress-driven drift follows from it and the OCV (D c / (RT Θ), docs/mechanics.md)",
        lo=0.0,
        lo_open=True,
        source="estimate; literature 1e-19 ... 1e-14",
    )
    sigma_s_nvp: float = key(
        0.01,
        "S/m",
        "electronic conductivity of the NVP layer",
        lo=0.0,
        lo_open=True,
        source="Soundaraj et al., J. Power Sources Adv. 26 (2024) 100144",
    )
    capacity_nvp: float = key(
        117.6,
        "mAh/g",
        "theoretical capacity of NVP (Na3 <-> Na1)",
        lo=0.0,
        lo_open=True,
        source="derived: 2 F / 455.76 g/mol",
    )
    density_nvp: float = key(3156.0, "kg/m^3", "NVP density", lo=0.0, lo_open=True, source="X-ray density")
    density_nzsp: float = key(
        3300.0,
        "kg/m^3",
        "NZSP density (mass of the electrode's scaffold and of the dense separator layer; energy per kg)",
        lo=0.0,
        lo_open=True,
        source="estimate: X-ray density of Na3.4Zr2Si2.4P0.6O12 (538.6 g/mol, Z = 6 in the hexagonal NASICON "
               "cell a = 9.07, c = 22.7 Angstrom: 3.32 g/cm^3); Na3Zr2Si2PO12 is quoted at 3.27 g/cm^3",
    )


SECTION = Section.from_config("materials", MaterialsConfig, checks=(_consistent_capacity,))
