"""Cycle-based fatigue of the cohesive NVP|NZSP interface: a Paris law in cohesive-zone form.

After Turon, Costa, Camanho & Dávila, Mech. Mater. 39 (2007) 1079: a crack front grows by
da/dN = C (ΔG/G_c)^m (Paris law in energy form, m/cycle) once G_max ≥ G_th; a cohesive zone of
length l_cz carries the front, so a facet in it accumulates damage at (their eq. for the
bilinear law, D the stiffness damage of :class:`fem_electrode.physics.cohesive.CohesiveLaw`)

    dD/dN = (a² / (δ^f δ⁰)) · (C / l_cz) · (ΔG/G_c)^m,    a = δ^f (1 − D) + D δ⁰ = δ^f δ⁰ / δ_max,

with δ⁰, δ^f the onset and final effective jumps (m) at the mixity of the cycle's peak. Per facet
and cycle:

- G_max (J/m²): the work per area of the law's envelope up to the cycle's largest effective
  jump δ_hi (½ K δ² before the onset, G_c past δ^f; :func:`envelope_work`);
- R = δ_lo/δ_hi the ratio of the cycle's smallest to largest effective jump, ΔG = (1 − R²) G_max;
- no growth when G_max < G_th = ``threshold_ratio`` × G_c;
- for a constant ΔG over n cycles the law integrates in closed form (da/dN = −(δ^f − δ⁰) k a²,
  k = (C/l_cz)(ΔG/G_c)^m / (δ^f δ⁰)):

      1/a(n) = 1/a(0) + (δ^f − δ⁰) k n,    D(n) = min(1, (δ^f − a(n)) / (δ^f − δ⁰)),

  used both for one cycle and for a cycle jump (:meth:`ParisFatigue.advance`); D never
  decreases (no healing);
- a cycle jump may also extrapolate the load: with k growing by ``slope`` per cycle (from two
  consecutive simulated cycles), cycle i = 1 … n of a block after the simulated cycle of rate
  constant k has k + i·slope, and the closed form holds with k n replaced by the sum
  k n + slope n (n + 1)/2. The slope is taken ≥ 0 (a falling load is
  extrapolated as constant: more damage, the safe side).

l_cz is Hillerborg's characteristic length M E' G_c / N² (Hillerborg, Modéer & Petersson, Cem.
Concr. Res. 6 (1976) 773; Turon et al., Eng. Fract. Mech. 74 (2007) 1665 discuss M):
:func:`cohesive_zone_length`. Units SI; the parameters' estimates live with the case keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fem_electrode.physics.cohesive import CohesiveLaw

#: M of the cohesive-zone length l_cz = M E' G_c / N² (Hillerborg et al. 1976: M = 1; Rice's
#: estimate 9π/32 ≈ 0.88 and the smaller values of Turon et al. 2007 differ by less than the
#: uncertainty of C).
HILLERBORG_M = 1.0


def cohesive_zone_length(modulus: float, toughness: float, strength: float) -> float:
    """l_cz = M E' G_c / N² (m): E' (Pa) the plane-strain modulus, G_c (J/m²), N (Pa)."""
    if not (modulus > 0.0 and toughness > 0.0 and strength > 0.0):
        raise ValueError("cohesive_zone_length: modulus, toughness and strength must be > 0")
    return HILLERBORG_M * modulus * toughness / strength**2


def envelope_work(law: CohesiveLaw, delta_n: Any, delta_s: Any) -> np.ndarray:
    """Work per area (J/m²) of the bilinear envelope up to the effective jump of (δ_n, δ_s):
    ½ K δ² (δ ≤ δ⁰), ½ K δ⁰² + K δ⁰ [(δ − δ⁰) − (δ − δ⁰)²/(2 (δ^f − δ⁰))] (δ⁰ < δ < δ^f), G_c beyond."""
    dm = law.effective_jump(delta_n, delta_s)
    d0, df = law.onset_jump(delta_n, delta_s), law.final_jump(delta_n, delta_s)
    k = law.penalty
    past = np.clip(dm - d0, 0.0, df - d0)
    soft = 0.5 * k * d0**2 + k * d0 * (past - past**2 / (2.0 * (df - d0)))
    return np.where(dm <= d0, 0.5 * k * dm**2, soft)


@dataclass(frozen=True)
class ParisFatigue:
    """The cycle-based fatigue law of the module docstring."""

    coefficient: float  #: C, m/cycle (da/dN at ΔG = G_c)
    exponent: float  #: m (-), of ΔG/G_c
    threshold_ratio: float  #: G_th / G_c (-), no growth below
    zone_length: float  #: l_cz, m

    def __post_init__(self) -> None:
        for name in ("coefficient", "exponent", "zone_length"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0.0):
                raise ValueError(f"fatigue {name} must be > 0, got {value!r}")
        if not 0.0 <= self.threshold_ratio < 1.0:
            raise ValueError(f"fatigue threshold_ratio must be in [0, 1), got {self.threshold_ratio!r}")

    def rate_constant(self, law: CohesiveLaw, peak_n: Any, peak_s: Any, low: Any) -> np.ndarray:
        """k (1/m² per cycle) of each facet for a cycle whose largest jump is (peak_n, peak_s) (m)
        and smallest effective jump ``low`` (m); 0 below the threshold."""
        g_max = envelope_work(law, peak_n, peak_s)
        g_c = law.toughness(peak_n, peak_s)
        hi = law.effective_jump(peak_n, peak_s)
        r = np.divide(np.clip(np.asarray(low, float), 0.0, None), hi, out=np.zeros_like(hi), where=hi > 0.0)
        ratio = (1.0 - np.clip(r, 0.0, 1.0) ** 2) * g_max / g_c
        d0, df = law.onset_jump(peak_n, peak_s), law.final_jump(peak_n, peak_s)
        k = self.coefficient / self.zone_length * ratio**self.exponent / (df * d0)
        return np.where((g_max >= self.threshold_ratio * g_c) & (hi > 0.0), k, 0.0)

    @staticmethod
    def rate_sum(rate: Any, slope: Any, cycles: Any) -> np.ndarray:
        """Σ_{i=1..n} (k + i s) = k n + s n (n + 1)/2 (1/m²): the n cycles after one of rate
        constant k, the rate growing by s ≥ 0 per cycle."""
        n = np.asarray(cycles, float)
        return np.asarray(rate, float) * n + np.maximum(np.asarray(slope, float), 0.0) * n * (n + 1.0) / 2.0

    def advance(self, law: CohesiveLaw, damage: Any, peak_n: Any, peak_s: Any, low: Any,
                cycles: Any, slope: Any = 0.0) -> np.ndarray:
        """D after ``cycles`` cycles of the load (the closed form of the module docstring); ``slope``
        (1/m² per cycle): the growth of the rate constant per cycle after the tracked cycle."""
        d = np.clip(np.asarray(damage, float), 0.0, 1.0)
        d0, df = law.onset_jump(peak_n, peak_s), law.final_jump(peak_n, peak_s)
        k = self.rate_constant(law, peak_n, peak_s, low)
        a0 = df * (1.0 - d) + d * d0
        inv = 1.0 / a0 + (df - d0) * self.rate_sum(k, slope, cycles)
        new = (df - 1.0 / inv) / (df - d0)
        return np.maximum(np.clip(new, 0.0, 1.0), d)

    def cycles_to_increment(self, law: CohesiveLaw, damage: Any, peak_n: Any, peak_s: Any, low: Any,
                            increment: float, slope: Any = 0.0) -> np.ndarray:
        """Cycles of the load (``slope`` as in :meth:`advance`) after which D has grown by
        ``increment`` (inf where it cannot: no growth, or D would reach 1 first)."""
        d = np.clip(np.asarray(damage, float), 0.0, 1.0)
        d0, df = law.onset_jump(peak_n, peak_s), law.final_jump(peak_n, peak_s)
        k = self.rate_constant(law, peak_n, peak_s, low)
        target = d + increment
        a0 = df * (1.0 - d) + d * d0
        a_t = df * (1.0 - np.minimum(target, 1.0)) + np.minimum(target, 1.0) * d0
        s = np.maximum(np.asarray(slope, float), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            need = (1.0 / a_t - 1.0 / a0) / (df - d0)  # k n + s n (n + 1)/2 = need
            b = k + 0.5 * s
            quadratic = (-b + np.sqrt(b**2 + 2.0 * s * need)) / s
            n = np.where(s > 0.0, quadratic, need / k)
        return np.where((k > 0.0) & (target < 1.0), n, np.inf)
