"""The cohesive law at a material point against closed forms written here: onset at the
strength, dissipated energy = fracture energy (Benzeggagh–Kenane mixing), secant unloading,
no healing, contact in compression. Normal and shear parameters differ (a swap fails).

Serial: pure NumPy, no MPI.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fem_electrode.physics.cohesive import CohesiveLaw

pytestmark = pytest.mark.serial

N, S = 120e6, 180e6  # Pa
G_I, G_II = 4.0, 9.0  # J/m²
K = 1e17  # Pa/m (onset jumps of 1.2 and 1.8 nm)
ETA = 1.8
LAW = CohesiveLaw(N, S, G_I, G_II, K, ETA)


def work_along(direction: tuple[float, float], d0: float, df: float) -> float:
    """∫ t · dδ along the ray δ = s (cos, sin) from 0 to past full separation (trapezoids on a
    grid through the kinks at d0 and df: exact for the piecewise-linear law)."""
    c, s = direction
    path = np.unique(np.concatenate([np.linspace(0.0, 1.2 * df, 2001), [d0, df]]))
    dn, ds = path * c, path * s
    damage = np.maximum.accumulate(LAW.damage(dn, ds))
    tn, ts = LAW.tractions(dn, ds, damage)
    along = tn * c + ts * s
    return float(np.sum(0.5 * (along[1:] + along[:-1]) * np.diff(path)))


def test_pure_opening_onset_at_strength_and_energy_equals_toughness():
    d0, df = N / K, 2.0 * G_I / N
    assert LAW.onset_jump(1e-9, 0.0) == pytest.approx(d0)
    assert LAW.final_jump(1e-9, 0.0) == pytest.approx(df)
    t_peak, _, d_peak = LAW.update(d0, 0.0)
    assert t_peak == pytest.approx(N, rel=1e-12) and d_peak == 0.0
    t_mid, _, d_mid = LAW.update(0.5 * (d0 + df), 0.0)
    assert t_mid == pytest.approx(0.5 * N, rel=1e-9)  # linear softening: half way, half the strength
    assert d_mid == pytest.approx(df * (0.5 * (d0 + df) - d0) / (0.5 * (d0 + df) * (df - d0)), rel=1e-12)
    t_end, _, d_end = LAW.update(1.1 * df, 0.0)
    assert t_end == 0.0 and d_end == 1.0
    assert work_along((1.0, 0.0), d0, df) == pytest.approx(G_I, rel=1e-9)


def test_pure_shear_uses_the_shear_strength_and_toughness():
    d0, df = S / K, 2.0 * G_II / S
    _, t_peak, _ = LAW.update(0.0, d0)
    assert t_peak == pytest.approx(S, rel=1e-12)
    assert LAW.final_jump(0.0, d0) == pytest.approx(df)
    assert work_along((0.0, 1.0), d0, df) == pytest.approx(G_II, rel=1e-9)


def test_mixed_mode_onset_and_benzeggagh_kenane_energy():
    beta = 1.0  # δ_s = δ_n: B = β²/(1 + β²) = ½
    d0n, d0s = N / K, S / K
    d0 = d0n * d0s * math.sqrt((1 + beta**2) / (d0s**2 + beta**2 * d0n**2))
    g = G_I + (G_II - G_I) * 0.5**ETA
    df = 2.0 * g / (K * d0)
    c = s = 1.0 / math.sqrt(2.0)
    assert LAW.onset_jump(c, s) == pytest.approx(d0, rel=1e-12)
    assert LAW.toughness(c, s) == pytest.approx(g, rel=1e-12)
    assert work_along((c, s), d0, df) == pytest.approx(g, rel=1e-9)
    assert G_I < g < G_II


def test_secant_unloading_and_no_healing():
    d0, df = N / K, 2.0 * G_I / N
    peak = d0 + 0.4 * (df - d0)
    t1, _, d1 = LAW.update(peak, 0.0)
    assert 0.0 < d1 < 1.0
    t_back, _, d_back = LAW.update(0.5 * peak, 0.0, d1)  # unload to half the jump
    assert d_back == d1 and t_back == pytest.approx(0.5 * t1, rel=1e-12)  # on the damaged secant
    t_again, _, d_again = LAW.update(peak, 0.0, d_back)  # reload: the same point, no new damage
    assert d_again == d1 and t_again == pytest.approx(t1, rel=1e-12)
    assert LAW.update(1e-12, 0.0, 0.7)[2] == 0.7  # a small jump never heals
    assert LAW.update(1.1 * peak, 0.0, d1)[2] > d1  # beyond the old maximum damage grows


def test_compression_is_contact_whatever_the_damage():
    t_n, t_s, d = LAW.update(-2e-9, 1e-9, 1.0)
    assert d == 1.0
    assert t_n == pytest.approx(K * -2e-9, rel=1e-12)  # no interpenetration
    assert t_s == 0.0  # a debonded interface slides freely (frictionless)


@pytest.mark.parametrize("field", ["strength_normal", "strength_shear", "toughness_normal", "toughness_shear",
                                   "penalty", "bk_exponent"])
def test_non_positive_parameters_are_rejected(field):
    values = {"strength_normal": N, "strength_shear": S, "toughness_normal": G_I, "toughness_shear": G_II,
              "penalty": K, "bk_exponent": ETA, field: 0.0}
    with pytest.raises(ValueError, match=f"{field} must be > 0, got 0.0"):
        CohesiveLaw(**values)


def test_too_soft_penalty_is_rejected():
    # K must exceed strength²/(2 toughness): normal 120²/8 = 1.8e15, shear here 300²/18 = 5e15 (MPa, J)
    with pytest.raises(ValueError, match="too soft for the normal mode"):
        CohesiveLaw(N, 300e6, G_I, G_II, 1.7e15, ETA)
    with pytest.raises(ValueError, match="too soft for the shear mode"):
        CohesiveLaw(N, 300e6, G_I, G_II, 4.9e15, ETA)
    CohesiveLaw(N, 300e6, G_I, G_II, 5.1e15, ETA)  # stiff enough for both
