"""Thin-film fracture: Dundurs parameters, Beuth's channel-crack factor g(α, β), and the
delamination energy release rate, against values and formulas written out here.

Published anchor: g(0, 0) = 1.258 (Beuth 1992; Hutchinson & Suo 1992), Z = (π/2) g = 1.976.
The mismatched values come from the plane-strain finite-element table the package ships
(it reproduces 1.258 to four digits); interpolation between its points is checked against an
independent smooth fit of the same data (a quartic in ln(1 − α) per family, max error 0.3 %).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fem_electrode.physics import fracture


def test_no_mismatch_gives_beuths_published_value():
    assert fracture.dundurs(80e9, 0.26, 80e9, 0.26) == pytest.approx((0.0, 0.0), abs=1e-15)
    assert fracture.channel_g(0.0, 0.0) == pytest.approx(1.258, abs=5e-4)
    assert math.pi / 2 * fracture.channel_g(0.0, 0.0) == pytest.approx(1.976, abs=1e-3)


@pytest.mark.parametrize(("E_f", "nu_f", "E_s", "nu_s"), [(60e9, 0.27, 95e9, 0.22), (150e9, 0.2, 40e9, 0.35)])
def test_dundurs_parameters_in_the_kappa_form(E_f, nu_f, E_s, nu_s):
    """Against the κ form (κ = 3 − 4ν, plane strain): α = [μ1(κ2+1) − μ2(κ1+1)] / D,
    β = [μ1(κ2−1) − μ2(κ1−1)] / D, D = μ1(κ2+1) + μ2(κ1+1), 1 = film."""
    mu1, mu2 = E_f / (2 * (1 + nu_f)), E_s / (2 * (1 + nu_s))
    k1, k2 = 3 - 4 * nu_f, 3 - 4 * nu_s
    d = mu1 * (k2 + 1) + mu2 * (k1 + 1)
    alpha, beta = fracture.dundurs(E_f, nu_f, E_s, nu_s)
    assert alpha == pytest.approx((mu1 * (k2 + 1) - mu2 * (k1 + 1)) / d, rel=1e-13)
    assert beta == pytest.approx((mu1 * (k2 - 1) - mu2 * (k1 - 1)) / d, rel=1e-13)
    swapped = fracture.dundurs(E_s, nu_s, E_f, nu_f)
    assert swapped == pytest.approx((-alpha, -beta), rel=1e-13)  # film and substrate are not symmetric


@pytest.mark.parametrize(("alpha", "beta", "g"), [(0.6, 0.0, 2.2439), (-0.6, -0.15, 0.8654),
                                                  (0.8, 0.2, 3.7216), (-0.4, 0.0, 1.0172)])
def test_mismatched_pairs(alpha, beta, g):
    assert fracture.channel_g(alpha, beta) == pytest.approx(g, rel=1e-6)


#: An independent representation of the same data (least-squares quartics in x = ln(1 − α) of
#: ln g; max error 0.11 % for β = 0 and 0.29 % for β = α/4), highest power first.
FIT = {"0": (-8.586263e-4, -1.894107e-3, -3.999239e-4, -0.6299633, 0.2297333),
       "a/4": (-2.69e-3, -2.2057e-2, -7.9936e-2, -0.756589, 0.228654)}


@pytest.mark.parametrize("alpha", [-0.9, -0.5, -0.3, 0.1, 0.3, 0.5, 0.65, 0.75, 0.85, 0.93])
def test_interpolation_between_table_points(alpha):
    x = math.log(1 - alpha)
    for family, beta in (("0", 0.0), ("a/4", alpha / 4)):
        smooth = math.exp(np.polyval(FIT[family], x))
        assert fracture.channel_g(alpha, beta) == pytest.approx(smooth, rel=0.01), (alpha, family)


def test_outside_the_table_is_an_error():
    with pytest.raises(ValueError, match="outside the tabulated"):
        fracture.channel_g(0.995, 0.0)


def test_energy_release_rates_and_critical_thicknesses():
    """A film in tension σ = 300 MPa, h = 0.4 µm: the formulas written out, and the old prefactors
    (Z = 1.976 with E, Z = 1 − ν with E for delamination) would miss them by ≥ 10 %."""
    E_f, nu_f, E_s, nu_s = 70e9, 0.28, 90e9, 0.24
    sigma_h = 200e6  # mean hydrostatic stress of a membrane state: σ_f = 1.5 σ_h
    sigma, h = 1.5 * sigma_h, 0.4e-6
    strengths = fracture.Strengths(80e6, 80e6, 80e6, toughness_nvp=1.0e6, toughness_interface=0.6e6)
    out = fracture.thin_film_indicator(sigma_h, fracture.LayerThickness(h, "test"), E_f, nu_f, E_s, nu_s,
                                       strengths)
    alpha, beta = fracture.dundurs(E_f, nu_f, E_s, nu_s)
    g = fracture.channel_g(alpha, beta)
    e_bar = E_f / (1 - nu_f**2)
    assert out["G_channeling"] == pytest.approx(math.pi / 2 * g * sigma**2 * h / e_bar, rel=1e-12)
    assert out["G_delamination"] == pytest.approx((1 - nu_f**2) * sigma**2 * h / (2 * E_f), rel=1e-12)
    assert abs(out["G_channeling"] / (1.976 * sigma**2 * h / E_f) - 1) > 0.1
    assert abs(out["G_delamination"] / ((1 - nu_f) * sigma**2 * h / E_f) - 1) > 0.3
    # G grows linearly with h: at h_c it equals G_c = K_IC² / Ē
    gc = 1.0e6**2 / e_bar
    assert out["G_channeling"] * out["h_critical_channeling"] / h == pytest.approx(gc, rel=1e-12)
    gc_i = 0.6e6**2 / e_bar
    assert out["G_delamination"] * out["h_critical_delamination"] / h == pytest.approx(gc_i, rel=1e-12)
    compressed = fracture.thin_film_indicator(-sigma_h, fracture.LayerThickness(h, "test"), E_f, nu_f, E_s,
                                              nu_s, strengths)
    assert compressed["G_channeling"] == 0.0 and compressed["h_critical_channeling"] is None
