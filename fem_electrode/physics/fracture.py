"""Fracture of the NVP layer: thin-film energy release rates against the toughness (SI units).

A film of thickness h bonded to a substrate and carrying an equi-biaxial in-plane stress σ_f
(tension > 0) stores elastic energy that a crack can release (Hutchinson & Suo 1992; see
``docs/references.md``):

- **channel crack** through the film (tension only), steady state (Beuth 1992):
  G_ch = (π/2) g(α, β) σ_f² h / Ē_f, Ē_f = E_f/(1 − ν_f²), with g from the film/substrate
  Dundurs parameters (α, β) (:func:`dundurs`, :func:`channel_g`); g(0, 0) = 1.258;
- **delamination** of the film from its substrate along a straight front in plane strain
  (spreading from a channel crack or from the free edge of the layer at a pore), steady state:
  G_d = (1 − ν_f²) σ_f² h / (2 E_f). (The axisymmetric limit, the film's whole stored energy
  (1 − ν_f) σ_f² h / E_f, is 2/(1 + ν_f) times larger; it is not used.) Under compression a
  film must buckle before it delaminates, so G_d is an upper bound there.

Each is compared with a critical energy release rate G_c = K_IC²/Ē_f (plane strain), and the
critical thickness below which the crack cannot grow, h_c = G_c Ē_f /(Z σ_f²) with
G = Z σ_f² h / Ē_f, is reported.

g(α, β) is tabulated on α ∈ [−0.99, 0.99] for β = 0 and β = α/4 (the two families Beuth and
Hutchinson & Suo tabulate) and interpolated in ln g against ln(1 − α), then linearly in β
between the two families (NVP|NZSP: ν_f ≈ ν_s gives β ≈ 0.32 α). The table values were computed
for this project with a plane-strain finite-element solution of the channel crack's
cross-section (crack faces loaded by σ_f, G = (σ_f/2h)∫δ dz) that reproduces Beuth's
g(0, 0) = 1.258 to four digits and is mesh- and domain-converged to 0.01 %; only g(0, 0) was
checked against the published table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: σ_f = MEMBRANE_FACTOR × (mean hydrostatic stress of the layer): exact for a membrane state
#: σ_xx = σ_yy = σ_f, σ_zz = 0 (tr σ / 3 = 2σ_f/3).
MEMBRANE_FACTOR = 1.5

#: g(α, β) of the channel crack (Beuth 1992): α grid and g for β = 0 and β = α/4 (see above).
G_ALPHA = np.array([-0.99, -0.95, -0.9, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95,
                    0.97, 0.99])
G_BETA_0 = np.array([0.8152, 0.8257, 0.8393, 0.8683, 0.9351, 1.0172, 1.1211, 1.2578, 1.4482, 1.7369,
                     2.2439, 2.6903, 3.4713, 5.3443, 8.1253, 10.8744, 18.5597])
G_BETA_QUARTER = np.array([0.7117, 0.7254, 0.7430, 0.7805, 0.8654, 0.9676, 1.0943, 1.2578, 1.4810, 1.8124,
                           2.3814, 2.8734, 3.7216, 5.7174, 8.6294, 11.4772, 19.3459])


def plane_strain_modulus(E: float, nu: float) -> float:
    """Ē = E/(1 − ν²) (Pa)."""
    return E / (1.0 - nu * nu)


def dundurs(E_f: float, nu_f: float, E_s: float, nu_s: float) -> tuple[float, float]:
    """Dundurs parameters (α, β) of a film (f) on a substrate (s), plane strain.

    α = (Ē_f − Ē_s)/(Ē_f + Ē_s) > 0 when the film is the stiffer;
    β = ½ [μ_f(1 − 2ν_s) − μ_s(1 − 2ν_f)] / [μ_f(1 − ν_s) + μ_s(1 − ν_f)].
    """
    ef, es = plane_strain_modulus(E_f, nu_f), plane_strain_modulus(E_s, nu_s)
    mf, ms = E_f / (2.0 * (1.0 + nu_f)), E_s / (2.0 * (1.0 + nu_s))
    alpha = (ef - es) / (ef + es)
    beta = 0.5 * (mf * (1.0 - 2.0 * nu_s) - ms * (1.0 - 2.0 * nu_f)) / (mf * (1.0 - nu_s) + ms * (1.0 - nu_f))
    return float(alpha), float(beta)


def channel_g(alpha: float, beta: float) -> float:
    """g(α, β) of the steady channel crack (table of this module, interpolated)."""
    if not -0.99 <= alpha <= 0.99:
        raise ValueError(f"Dundurs alpha = {alpha:g} outside the tabulated [-0.99, 0.99]")
    x = np.log(1.0 - G_ALPHA)[::-1]  # increasing
    at = math.log(1.0 - alpha)
    g0 = math.exp(np.interp(at, x, np.log(G_BETA_0)[::-1]))
    g4 = math.exp(np.interp(at, x, np.log(G_BETA_QUARTER)[::-1]))
    if abs(alpha) < 1e-12:
        return g0
    return g0 + (g4 - g0) * beta / (alpha / 4.0)


@dataclass(frozen=True)
class Strengths:
    """Strengths (Pa) and toughnesses K_IC (Pa m^0.5) of the phases and the NVP|NZSP interface."""

    strength_nzsp: float
    strength_nvp: float
    strength_interface: float
    toughness_nvp: float
    toughness_interface: float


@dataclass(frozen=True)
class LayerThickness:
    """Thickness h (m) of the NVP layer for the thin-film indicator, and where it came from."""

    h: float | None
    source: str


def thin_film_indicator(sigma_h_mean: float | None, layer: LayerThickness, E_f: float, nu_f: float,
                        E_s: float, nu_s: float, strengths: Strengths) -> dict[str, Any]:
    """Channel-crack and delamination energy release rates of the NVP layer (J/m²), their ratio
    to the critical values and the critical thicknesses (m).

    σ_f is :data:`MEMBRANE_FACTOR` × the NVP volume-mean hydrostatic stress ``sigma_h_mean``
    (Pa); (E_f, ν_f) NVP, (E_s, ν_s) the NZSP substrate.
    """
    h = layer.h
    if h is None or sigma_h_mean is None:
        return {"h": h, "h_source": layer.source}
    sigma_f = MEMBRANE_FACTOR * sigma_h_mean
    e_bar = plane_strain_modulus(E_f, nu_f)
    alpha, beta = dundurs(E_f, nu_f, E_s, nu_s)
    g = channel_g(alpha, beta)
    z_channel = 0.5 * math.pi * g
    z_delam = 0.5  # G_d = (1 − ν²) σ² h / (2E) = ½ σ² h / Ē
    tension = max(sigma_f, 0.0)
    g_channel = z_channel * tension**2 * h / e_bar
    g_delam = z_delam * sigma_f**2 * h / e_bar
    gc_film = strengths.toughness_nvp**2 / e_bar
    gc_interface = strengths.toughness_interface**2 / e_bar
    return {
        "h": h, "h_source": layer.source, "sigma_film": sigma_f,
        "dundurs_alpha": alpha, "dundurs_beta": beta, "g_channeling": g,
        "Z_channeling": z_channel, "G_channeling": g_channel, "Gc_film": gc_film,
        "channeling_ratio": g_channel / gc_film,
        "h_critical_channeling": gc_film * e_bar / (z_channel * tension**2) if tension > 0 else None,
        "Z_delamination": z_delam, "G_delamination": g_delam, "Gc_interface": gc_interface,
        "delamination_ratio": g_delam / gc_interface,
        "h_critical_delamination": gc_interface * e_bar / (z_delam * sigma_f**2) if sigma_f != 0 else None,
    }
