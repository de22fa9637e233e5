"""c_max, density_nvp and capacity_nvp describe one quantity: c_max F = ρ Q (charge per volume)."""

from __future__ import annotations

import pytest

from fem_electrode.config import ConfigError, validate

FARADAY = 96485.33212  # C/mol (CODATA 2018)
COULOMB_PER_MAH = 3.6  # C per mAh


def c_max_from(density: float, capacity_mah_per_g: float) -> float:
    """mol/m³ from kg/m³ and mAh/g: ρ Q / F with Q in C/kg."""
    return density * capacity_mah_per_g * COULOMB_PER_MAH * 1000.0 / FARADAY


def test_the_default_triple_is_consistent():
    m = validate({}).materials
    assert m.c_max == pytest.approx(c_max_from(m.density_nvp, m.capacity_nvp), rel=1e-3)


def test_a_consistent_non_default_triple_is_accepted():
    density, capacity = 3000.0, 100.0  # kg/m³, mAh/g (another material)
    c = validate({"materials": {"density_nvp": density, "capacity_nvp": capacity,
                                "c_max": c_max_from(density, capacity)}})
    assert c.materials.c_max == pytest.approx(11193.0, rel=1e-4)  # 3000 * 100 * 3600 / F


@pytest.mark.parametrize("changes", [{"c_max": 13850.0 * 1.05}, {"density_nvp": 3156.0 * 0.9},
                                     {"capacity_nvp": 117.6 * 2}])
def test_an_inconsistent_triple_is_refused_naming_all_three(changes):
    with pytest.raises(ConfigError) as err:
        validate({"materials": changes})
    text = str(err.value)
    for name in ("c_max", "density_nvp", "capacity_nvp"):
        assert name in text
