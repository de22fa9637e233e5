"""Fracture of the NVP layer: thin-film energy release rates against the toughness (SI units).

A film of thickness h under an equi-biaxial in-plane stress σ_f stores elastic energy that a
crack through it (channel crack) or along its interface (delamination) can release:
G = Z σ_f² h / E_f, compared with G_c = K_IC² / E_f. The prefactors are those of
Hutchinson & Suo (1992); see ``docs/references.md``.

Pure NumPy-free arithmetic on floats: the caller gives the stresses (Pa), the thickness (m)
and the elastic constants (Pa).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Channel cracking of a film bonded to a substrate of similar stiffness:
#: G = Z σ² h / E_f with Z = 1.976 (Beuth 1992; Hutchinson & Suo 1992, table 1, no elastic
#: mismatch).
Z_CHANNELING = 1.976

#: σ_f = MEMBRANE_FACTOR × (mean hydrostatic stress of the layer): exact for a membrane state
#: σ_xx = σ_yy = σ_f, σ_zz = 0 (tr σ / 3 = 2σ_f/3).
MEMBRANE_FACTOR = 1.5


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
                        strengths: Strengths) -> dict[str, Any]:
    """G = Z σ_f² h / E_f of the NVP layer against G_c = K_IC² / E_f (J/m²).

    σ_f is the layer's equi-biaxial in-plane stress, :data:`MEMBRANE_FACTOR` × the NVP
    volume-mean hydrostatic stress ``sigma_h_mean`` (Pa). Channel cracking needs tension:
    G_channel = Z_CHANNELING σ_f² h / E_f for σ_f > 0 (else 0), compared with the NVP
    toughness. Delamination of an equi-biaxial film releasing its whole stored energy,
    G_delam = (1 − ν_f) σ_f² h / E_f; under compression it needs buckling first, so it is an
    upper bound there. It is compared with the interface toughness.
    """
    h = layer.h
    if h is None or sigma_h_mean is None:
        return {"h": h, "h_source": layer.source}
    sigma_f = MEMBRANE_FACTOR * sigma_h_mean
    g_channel = Z_CHANNELING * max(sigma_f, 0.0) ** 2 * h / E_f
    g_delam = (1.0 - nu_f) * sigma_f**2 * h / E_f
    gc_film = strengths.toughness_nvp**2 / E_f
    gc_interface = strengths.toughness_interface**2 / E_f
    return {
        "h": h, "h_source": layer.source, "sigma_film": sigma_f,
        "Z_channeling": Z_CHANNELING, "G_channeling": g_channel, "Gc_film": gc_film,
        "channeling_ratio": g_channel / gc_film,
        "Z_delamination": 1.0 - nu_f, "G_delamination": g_delam, "Gc_interface": gc_interface,
        "delamination_ratio": g_delam / gc_interface,
    }
