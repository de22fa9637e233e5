"""Physical constants and unit conversions (SI), defined once for the whole package."""

from __future__ import annotations

#: Faraday constant, C/mol (CODATA 2018, exact).
FARADAY = 96485.33212
#: Molar gas constant, J/(mol K) (CODATA 2018, exact).
GAS_CONSTANT = 8.314462618
#: Seconds per hour (C-rates, mAh).
SECONDS_PER_HOUR = 3600.0
#: Coulombs per mAh.
COULOMB_PER_MAH = 3.6
#: Grams per kilogram.
GRAM_PER_KG = 1000.0
#: Fillings y = c/c_max are clipped to [Y_EPS, 1 - Y_EPS] inside U(y) and i0(y), so Newton
#: iterates that overshoot (0, 1) stay defined.
Y_EPS = 1e-12


def thermal_voltage(temperature: float) -> float:
    """RT/F in V at ``temperature`` (K)."""
    return GAS_CONSTANT * temperature / FARADAY


def capacity_coulomb_per_kg(capacity_mah_per_g: float) -> float:
    """Specific capacity in C/kg from mAh/g."""
    return capacity_mah_per_g * COULOMB_PER_MAH * GRAM_PER_KG


def mah_per_g(charge_coulomb: float, mass_kg: float) -> float:
    """Specific charge in mAh/g of ``charge_coulomb`` (C) passed through ``mass_kg`` (kg)."""
    return charge_coulomb / COULOMB_PER_MAH / (mass_kg * GRAM_PER_KG)
