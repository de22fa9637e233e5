"""Channel crack through a bonded film: the DOLFINx P2 cross-section (problems/channel_crack.py)
against Beuth's published value and against the independent table of physics/fracture.py.

Published anchor: g(0, 0) = 1.258 (Beuth, Int. J. Solids Struct. 29 (1992) 1657, Table 1;
also Hutchinson & Suo, Adv. Appl. Mech. 29 (1992) 63). The mismatched values compare two
independent implementations: the table (an offline Q9 numpy code, semi-infinite substrate)
and the DOLFINx P2 model. The Dundurs parameters are computed here in the κ form, not by the
package.
"""

from __future__ import annotations

import functools
import math

import pytest

from fem_electrode.physics import fracture
from fem_electrode.problems import channel_crack

#: Beuth (1992), Table 1: g(α = 0, β = 0).
BEUTH_G_00 = 1.258
#: Tolerance against the published value and against the table (relative).
RTOL_REFERENCE = 5e-3
#: Largest change of g from refinement 1 to 2 (relative).
RTOL_CONVERGENCE = 2e-3


def dundurs_kappa(E_f: float, nu_f: float, E_s: float, nu_s: float) -> tuple[float, float]:
    """Dundurs (1969), plane strain, κ = 3 − 4ν, 1 = film: α = [μ1(κ2+1) − μ2(κ1+1)]/D,
    β = [μ1(κ2−1) − μ2(κ1−1)]/D, D = μ1(κ2+1) + μ2(κ1+1)."""
    mu1, mu2 = E_f / (2 * (1 + nu_f)), E_s / (2 * (1 + nu_s))
    k1, k2 = 3 - 4 * nu_f, 3 - 4 * nu_s
    d = mu1 * (k2 + 1) + mu2 * (k1 + 1)
    return (mu1 * (k2 + 1) - mu2 * (k1 + 1)) / d, (mu1 * (k2 - 1) - mu2 * (k1 - 1)) / d


def beta_zero_pair(alpha: float, nu_f: float) -> tuple[float, float, float, float]:
    """(E_f, ν_f, E_s, ν_s) with Dundurs α and β = 0: β = 0 needs μ_f(1 − 2ν_s) = μ_s(1 − 2ν_f);
    with m = μ_f/μ_s and r = Ē_f/Ē_s = (1 + α)/(1 − α), m = 2r(1 − ν_f) − 1 + 2ν_f."""
    r = (1 + alpha) / (1 - alpha)
    m = 2 * r * (1 - nu_f) - 1 + 2 * nu_f
    nu_s = 0.5 * (1 - (1 - 2 * nu_f) / m)
    E_f = 1.0
    E_s = E_f * (1 + nu_s) / ((1 + nu_f) * m)
    return E_f, nu_f, E_s, nu_s


#: Equal ν = 1/3 gives β = α (1 − 2ν)/(2(1 − ν)) = α/4; Ē_f/Ē_s = E_f/E_s = (1 + α)/(1 − α).
NU_QUARTER = 1.0 / 3.0
PAIRS = {
    "alpha+0.6_beta0": beta_zero_pair(0.6, 0.2),
    "alpha-0.6_beta-0.15": (1.0, NU_QUARTER, 4.0, NU_QUARTER),
}
EXPECTED_AB = {"alpha+0.6_beta0": (0.6, 0.0), "alpha-0.6_beta-0.15": (-0.6, -0.15)}


@functools.cache
def fe_g(pair: tuple[float, float, float, float], refinement: float = 1.0) -> float:
    return channel_crack.channel_crack_g(*pair, refinement=refinement)


def test_no_mismatch_reproduces_beuth():
    g = fe_g((80e9, 0.26, 80e9, 0.26))
    assert g == pytest.approx(BEUTH_G_00, rel=RTOL_REFERENCE)


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_mismatched_pairs_against_the_table(name):
    pair = PAIRS[name]
    alpha, beta = dundurs_kappa(*pair)
    assert (alpha, beta) == pytest.approx(EXPECTED_AB[name], abs=1e-12)
    assert fe_g(pair) == pytest.approx(fracture.channel_g(alpha, beta), rel=RTOL_REFERENCE)


def test_swapping_film_and_substrate_changes_g():
    """A compliant film on a stiff substrate (α = −0.6) against the reverse (α = +0.6, β = +0.15)."""
    E_f, nu_f, E_s, nu_s = PAIRS["alpha-0.6_beta-0.15"]
    swapped = (E_s, nu_s, E_f, nu_f)
    g, g_swapped = fe_g(PAIRS["alpha-0.6_beta-0.15"]), fe_g(swapped)
    assert g_swapped > 2.0 * g
    alpha, beta = dundurs_kappa(*swapped)
    assert g_swapped == pytest.approx(fracture.channel_g(alpha, beta), rel=RTOL_REFERENCE)


def test_refinement_changes_g_little():
    """The stiff-film pair has the strongest root singularity of the two."""
    pair = PAIRS["alpha+0.6_beta0"]
    assert fe_g(pair, 2.0) == pytest.approx(fe_g(pair), rel=RTOL_CONVERGENCE)


def test_critical_thickness_brackets_the_fe_energy_release_rate():
    """G(h) from two FE runs is linear in h; at 1.2 h_c it exceeds G_c, at 0.8 h_c it does not."""
    E_f, nu_f, E_s, nu_s = 80e9, 0.27, 80e9, 0.26
    sigma_f, G_c = 1.0e9, 11.6  # Pa, J/m²
    h_c = channel_crack.critical_thickness_channel(E_f, nu_f, E_s, nu_s, sigma_f, G_c)
    g_above = channel_crack.channel_crack_energy_release_rate(E_f, nu_f, E_s, nu_s, 1.2 * h_c, sigma_f)
    g_below = channel_crack.channel_crack_energy_release_rate(E_f, nu_f, E_s, nu_s, 0.8 * h_c, sigma_f)
    assert g_above / 1.2 == pytest.approx(g_below / 0.8, rel=1e-6)
    assert g_above > G_c > g_below
    assert g_above / 1.2 == pytest.approx(G_c, rel=1e-6)  # G(h_c) = G_c
    assert math.isinf(channel_crack.critical_thickness_channel(E_f, nu_f, E_s, nu_s, -sigma_f, G_c, g=1.0))
    assert math.isinf(channel_crack.critical_thickness_channel(E_f, nu_f, E_s, nu_s, 0.0, G_c, g=1.0))
