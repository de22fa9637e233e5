"""Cohesive traction–separation law of the NVP|NZSP interface: bilinear, mixed mode,
irreversible damage, contact in compression.

Camanho & Dávila (2002, NASA/TM-2002-211737) with the Benzeggagh–Kenane (1996) criterion:

- opening δ_n (normal jump, > 0 opening) and sliding δ_s (tangential jump magnitude) in m;
  effective jump δ_m = √(⟨δ_n⟩² + δ_s²), mixity β = δ_s / δ_n;
- undamaged stiffness K (penalty, Pa/m); onset jumps δ⁰_n = N/K, δ⁰_s = S/K (N, S the normal
  and shear strengths, Pa); mixed-mode onset
  δ⁰_m = δ⁰_n δ⁰_s √((1 + β²) / ((δ⁰_s)² + β² (δ⁰_n)²)) for δ_n > 0, δ⁰_s otherwise;
- fracture energy G_c(B) = G_Ic + (G_IIc − G_Ic) B^η with B = β²/(1 + β²) (shear fraction of the
  energy), final jump δ^f_m = 2 G_c / (K δ⁰_m): the area under the bilinear curve is G_c;
- damage D = δ^f_m (δ_m − δ⁰_m) / (δ_m (δ^f_m − δ⁰_m)) clipped to [0, 1], never decreasing
  (no healing): the new D is max(D_old, D(δ)); unloading and reloading follow the damaged
  secant (1 − D) K;
- tractions t_s = (1 − D) K δ_s; t_n = (1 − D) K δ_n when opening, K δ_n in compression
  (frictionless penalty contact: no interpenetration, whatever the damage).

Units SI. The parameters carry no defaults here: their estimates and sources live with the
case keys that use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CohesiveLaw:
    """A bilinear mixed-mode cohesive law (see the module docstring)."""

    strength_normal: float  #: N, Pa
    strength_shear: float  #: S, Pa
    toughness_normal: float  #: G_Ic, J/m²
    toughness_shear: float  #: G_IIc, J/m²
    penalty: float  #: K, Pa/m
    bk_exponent: float  #: η of Benzeggagh–Kenane (-)

    def __post_init__(self) -> None:
        for name in ("strength_normal", "strength_shear", "toughness_normal", "toughness_shear", "penalty",
                     "bk_exponent"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0.0):
                raise ValueError(f"cohesive {name} must be > 0, got {value!r}")
        for mode, strength, toughness in (("normal", self.strength_normal, self.toughness_normal),
                                          ("shear", self.strength_shear, self.toughness_shear)):
            need = strength**2 / (2.0 * toughness)  # δ_f > δ_0  ⇔  K > σ²/(2G)
            if not self.penalty > need:
                raise ValueError(f"cohesive penalty {self.penalty:.3g} Pa/m is too soft for the {mode} mode: "
                                 "the onset jump would exceed the final one; need K > strength²/(2 toughness)"
                                 f" = {need:.3g} Pa/m")

    # ---- the pieces of the law ----------------------------------------------------------------
    def effective_jump(self, delta_n: Any, delta_s: Any) -> np.ndarray:
        """δ_m = √(⟨δ_n⟩² + δ_s²) (m)."""
        dn, ds = np.asarray(delta_n, float), np.asarray(delta_s, float)
        return np.sqrt(np.maximum(dn, 0.0) ** 2 + ds**2)

    def onset_jump(self, delta_n: Any, delta_s: Any) -> np.ndarray:
        """δ⁰_m (m) of the present mixity."""
        dn, ds = np.broadcast_arrays(np.asarray(delta_n, float), np.abs(np.asarray(delta_s, float)))
        d0n, d0s = self.strength_normal / self.penalty, self.strength_shear / self.penalty
        opening = dn > 0.0
        beta = np.divide(ds, dn, out=np.zeros_like(dn), where=opening)
        mixed = d0n * d0s * np.sqrt((1.0 + beta**2) / (d0s**2 + beta**2 * d0n**2))
        return np.where(opening, mixed, d0s)

    def shear_fraction(self, delta_n: Any, delta_s: Any) -> np.ndarray:
        """B = δ_s² / (⟨δ_n⟩² + δ_s²) = β²/(1 + β²) (0 pure opening, 1 pure shear or compression)."""
        dm = self.effective_jump(delta_n, delta_s)
        ds = np.asarray(delta_s, float)
        return np.divide(ds**2, dm**2, out=np.ones_like(dm), where=dm > 0.0)

    def toughness(self, delta_n: Any, delta_s: Any) -> np.ndarray:
        """G_c (J/m²) of the present mixity (Benzeggagh–Kenane)."""
        b = self.shear_fraction(delta_n, delta_s)
        return self.toughness_normal + (self.toughness_shear - self.toughness_normal) * b**self.bk_exponent

    def final_jump(self, delta_n: Any, delta_s: Any) -> np.ndarray:
        """δ^f_m = 2 G_c / (K δ⁰_m) (m): the jump of complete separation."""
        return 2.0 * self.toughness(delta_n, delta_s) / (self.penalty * self.onset_jump(delta_n, delta_s))

    def damage(self, delta_n: Any, delta_s: Any, previous: Any = 0.0) -> np.ndarray:
        """D ∈ [0, 1] after the jump (δ_n, δ_s), never below ``previous`` (no healing)."""
        dm = self.effective_jump(delta_n, delta_s)
        d0, df = self.onset_jump(delta_n, delta_s), self.final_jump(delta_n, delta_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(dm > d0, df * (dm - d0) / (dm * (df - d0)), 0.0)
        return np.maximum(np.clip(d, 0.0, 1.0), np.asarray(previous, float))

    def tractions(self, delta_n: Any, delta_s: Any, damage: Any) -> tuple[np.ndarray, np.ndarray]:
        """(t_n, t_s) in Pa for the jumps and the damage D (already updated)."""
        dn, ds, d = (np.asarray(v, float) for v in (delta_n, delta_s, damage))
        k = self.penalty
        t_n = np.where(dn > 0.0, (1.0 - d) * k * dn, k * dn)  # contact: full stiffness in compression
        return t_n, (1.0 - d) * k * ds

    def max_jump(self, damage: Any, delta_n: Any, delta_s: Any) -> np.ndarray:
        """δ_max = δ^f δ⁰/(δ^f − D (δ^f − δ⁰)) (m): the largest effective jump so far, from the damage
        (inverting :meth:`damage` at the present mixity)."""
        d = np.clip(np.asarray(damage, float), 0.0, 1.0)
        d0, df = self.onset_jump(delta_n, delta_s), self.final_jump(delta_n, delta_s)
        return df * d0 / (df - d * (df - d0))

    def strength_left(self, damage: Any, delta_n: Any, delta_s: Any) -> np.ndarray:
        """(δ^f − δ_max)/(δ^f − δ⁰) ∈ [0, 1]: the fraction of its strength the interface can still
        carry on the softening branch (1 until the onset, 0 when separated)."""
        d0, df = self.onset_jump(delta_n, delta_s), self.final_jump(delta_n, delta_s)
        return np.clip((df - self.max_jump(damage, delta_n, delta_s)) / (df - d0), 0.0, 1.0)

    def dissipated_energy(self, damage: Any, delta_n: Any, delta_s: Any) -> np.ndarray:
        """Energy dissipated per interface area (J/m²) to reach ``damage`` at the present mixity:
        Ψ = ½ D K δ⁰_m δ_max with δ_max of :meth:`max_jump` (the area under the envelope up to
        δ_max less the energy still stored on the damaged secant; Ψ(1) = G_c). Exact for a history
        at one mixity."""
        d = np.clip(np.asarray(damage, float), 0.0, 1.0)
        return 0.5 * d * self.penalty * self.onset_jump(delta_n, delta_s) * self.max_jump(d, delta_n, delta_s)

    def update(self, delta_n: Any, delta_s: Any, previous: Any = 0.0) -> tuple[np.ndarray, np.ndarray,
                                                                            np.ndarray]:
        """One material-point update: (t_n, t_s, D) after the jump, from the damage ``previous``."""
        d = self.damage(delta_n, delta_s, previous)
        t_n, t_s = self.tractions(delta_n, delta_s, d)
        return t_n, t_s, d
