"""Butler–Volmer kinetics at the NVP|NZSP interface.

i = i₀(y) [exp(α_a f η) − exp(−α_c f η)],  f = F/(RT),  η = φ_s − φ_e − U(y)  (A/m², V)

with i > 0 anodic (Na leaves NVP: charge). The exchange current density depends on the
filling y = c/c_max and is normalised so that i₀ = i0_ref at half filling:

i₀(y) = i0_ref · (y/½)^α_c · ((1 − y)/½)^α_a,  y clipped to [ε, 1 − ε] (``constants.Y_EPS``).

Exponentials are continued linearly above ``EXP_ARG_MAX`` (C¹, no overflow when a full
Newton step overshoots; for α = ½ that is η > 3 V, which a converged state inside the
cut-offs never reaches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fem_electrode.physics.constants import Y_EPS, thermal_voltage
from fem_electrode.physics.ops import NUMPY, Ops, is_number

#: Largest exponent evaluated exactly; beyond it exp is continued by its tangent.
EXP_ARG_MAX = 60.0
_EXP_MAX = math.exp(EXP_ARG_MAX)
#: Filling at which i₀ = i0_ref.
Y_REF = 0.5


def safe_exp(x: Any, ops: Ops = NUMPY) -> Any:
    """exp(x) for x ≤ EXP_ARG_MAX, continued linearly (C¹) above."""
    return ops.where_gt(x, EXP_ARG_MAX, _EXP_MAX * (1.0 + x - EXP_ARG_MAX),
                        ops.exp(ops.minimum(x, EXP_ARG_MAX)))


@dataclass(frozen=True)
class ButlerVolmer:
    """Butler–Volmer law: ``i0_ref`` (A/m²), ``alpha_a``, ``alpha_c`` (-), ``temperature`` (K).

    The fields are numbers, or UFL coefficients of the same meaning (a problem's forms use
    ``fem.Constant`` copies so that other values do not recompile them); numbers are checked.
    """

    i0_ref: Any
    alpha_a: Any
    alpha_c: Any
    temperature: Any

    def __post_init__(self) -> None:
        if is_number(self.i0_ref) and not self.i0_ref > 0.0:
            raise ValueError(f"i0_ref must be > 0 A/m^2, got {self.i0_ref!r}")
        for name in ("alpha_a", "alpha_c"):
            value = getattr(self, name)
            if is_number(value) and not 0.0 < value < 1.0:
                raise ValueError(f"{name} must lie in (0, 1), got {value!r}")

    @property
    def f(self) -> float:
        """F/(RT) in 1/V."""
        return 1.0 / thermal_voltage(self.temperature)

    def exchange_current(self, y: Any, ops: Ops = NUMPY) -> Any:
        """i₀(y) in A/m² (= i0_ref at y = ½)."""
        yc = ops.clip(y, Y_EPS, 1.0 - Y_EPS)
        return (self.i0_ref * ops.exp(self.alpha_c * ops.ln(yc / Y_REF))
                * ops.exp(self.alpha_a * ops.ln((1.0 - yc) / (1.0 - Y_REF))))

    def current(self, eta: Any, y: Any, ops: Ops = NUMPY) -> Any:
        """Interface current density i (A/m², > 0 anodic) at overpotential ``eta`` (V)."""
        f = self.f
        return self.exchange_current(y, ops) * (
            safe_exp(self.alpha_a * f * eta, ops) - safe_exp(-self.alpha_c * f * eta, ops))

    def overpotential_symmetric(self, i: Any, y: Any) -> Any:
        """Closed-form inverse for α_a = α_c = ½: η = (2RT/F) asinh(i / (2 i₀)) (NumPy only)."""
        if self.alpha_a != 0.5 or self.alpha_c != 0.5:
            raise ValueError("the closed-form inverse needs alpha_a = alpha_c = 0.5")
        return 2.0 / self.f * np.arcsinh(np.asarray(i) / (2.0 * self.exchange_current(y)))
