"""Effective (homogenized) properties of a resolved electrode RVE, SI units.

The through-thickness electrode model (:mod:`fem_electrode.electrode`) sees the microstructure
only through these numbers; :mod:`fem_electrode.problems.effective` computes them on a resolved
RVE (cell problems on the mesh), so that the RVE and the electrode-scale model share one
source. z is the through-thickness direction (separator at z = 0, current collector at z = Lz).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EffectiveProperties:
    """What the electrode-scale model needs from one microstructure (per total volume, SI).

    Conductivities are those of the composite along z: the current density through the
    RVE's cross-section divided by the mean potential gradient (flux / (ΔV/Lz)), so a phase's
    volume fraction and tortuosity are both inside them (κ_eff = f σ / τ).
    """

    #: volume fractions of the composite (sum to 1).
    fraction_nzsp: float
    fraction_nvp: float
    porosity: float
    #: effective ionic conductivity of the NZSP network along z (S/m).
    kappa_ion: float
    #: effective electronic conductivity of the NVP network along z (S/m).
    sigma_electronic: float
    #: NVP|NZSP interface area per total volume (1/m).
    interface_area_density: float
    #: NVP volume per interface area, the Na diffusion length of a layer (m).
    diffusion_length: float
    #: NVP area fraction of the current-collector face (-): the electronic contact.
    collector_nvp_fraction: float
    #: NZSP area fraction of the separator face (-): where ions enter.
    separator_nzsp_fraction: float
    #: effective Young's modulus along z (Pa), uniaxial stress; None where not computed.
    young_modulus_z: float | None = None
    #: effective ionic / electronic conductivity in the plane (mean of x and y), S/m: the bulk
    #: values, free of the RVE's z faces; None where not computed.
    kappa_ion_lateral: float | None = None
    sigma_electronic_lateral: float | None = None
    #: what the numbers were computed on (mesh file, kind, seed, RVE box in µm, ...).
    source: dict[str, Any] = dataclasses.field(default_factory=dict)

    def tortuosity_ion(self, sigma_nzsp: float) -> float:
        """τ = f σ / κ_eff of the NZSP network (-), given the bulk ionic conductivity (S/m)."""
        return self.fraction_nzsp * sigma_nzsp / self.kappa_ion

    def tortuosity_electronic(self, sigma_nvp: float) -> float:
        """τ = f σ / σ_eff of the NVP network (-), given the bulk electronic conductivity (S/m)."""
        return self.fraction_nvp * sigma_nvp / self.sigma_electronic

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EffectiveProperties:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"effective properties: unknown keys {unknown} (allowed: {sorted(names)})")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> EffectiveProperties:
        return cls.from_dict(json.loads(text))
