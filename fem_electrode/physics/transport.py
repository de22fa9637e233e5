"""Bulk transport residuals (UFL forms only, SI units).

- conduction: ∇·(σ ∇φ) = 0, residual ∫ σ ∇φ·∇v dx   (σ in S/m, φ in V: A per unit test value);
- diffusion:  ∂c/∂t = ∇·(D ∇c), backward Euler, residual ∫ [(c − c_old)/Δt q + D ∇c·∇q] dx
  (c in mol/m³, D in m²/s: mol/s per unit test value);
- stress-driven flux (two-way chemo-mechanics), consistent with the OCV: the Na chemical
  potential in NVP is μ = μ_chem(c) − w with μ_chem = −F U(y) + const (its derivative gives the
  OCV) and w = σ : ∂ε_ch/∂c (J/mol; Ω σ_h for an isotropic Vegard strain). With J = −L ∇μ
  and L chosen so that the chemical part is Fick's law with the diffusivity D,
  L = D / (∂μ_chem/∂c) = D c / (RT Θ), Θ(y) = −(F/RT) y dU/dy the thermodynamic factor,
  J = −D ∇c + (D c/(RT Θ)) ∇w: Na drifts towards tension. Residual term
  −∫ (D c/(RT Θ)) ∇w·∇q dx. Θ is bounded below by :data:`THETA_MIN`, its dilute-solution value:
  on a flat two-phase plateau (dU/dy → 0) Fickian diffusion has no thermodynamic driving force
  and the drift would be unbounded.

The diffusivity D is the chemical (Fickian) one, constant in y; the mobility of the drift
follows from it and the OCV.

Boundary and interface fluxes are added by the caller (kinetics on the interface, the
applied current on the collector).
"""

from __future__ import annotations

from typing import Any

from fem_electrode.fem.fenicsx import ufl
from fem_electrode.physics.constants import thermal_voltage
from fem_electrode.physics.ops import Ops

#: Smallest thermodynamic factor used in the stress drift (the ideal dilute-solution value).
THETA_MIN = 1.0

#: Vertex quadrature: mass lumping for P1.
LUMPED = {"quadrature_rule": "vertex", "quadrature_degree": 1}
#: Quadrature degree of the stress-driven flux term (c ∇w·∇q is of degree 1 for P1: exact).
DRIFT_QUADRATURE_DEGREE = 2


def conduction(sigma: Any, phi: Any, v: Any, dx: ufl.Measure) -> ufl.Form:
    """Weak ∇·(σ∇φ) term ∫ σ ∇φ·∇v dx."""
    return sigma * ufl.inner(ufl.grad(phi), ufl.grad(v)) * dx


def diffusion(c: Any, c_old: Any, dt_inv: Any, D: Any, q: Any, dx: ufl.Measure,
              flux_on: Any = 1.0, lumped: bool = True) -> ufl.Form:
    """Backward-Euler diffusion ∫ [(c − c_old)/Δt q + k D ∇c·∇q] dx; ``flux_on`` = k ∈ {0, 1}.

    ``lumped``: the time term uses vertex quadrature (a diagonal, row-sum mass matrix). It keeps
    c within its bounds when Δt ≪ h²/D (the consistent P1 mass matrix over- and undershoots
    there) and integrates ∫ c dx exactly, so sodium is still conserved to solver tolerance.
    """
    dx_mass = dx.reconstruct(metadata=LUMPED) if lumped else dx
    return ((c - c_old) * dt_inv * q * dx_mass
            + flux_on * D * ufl.inner(ufl.grad(c), ufl.grad(q)) * dx)


def thermodynamic_factor(ocv: Any, y: Any, temperature: Any, ops: Ops) -> Any:
    """Θ(y) = −(F/RT) y dU/dy of an OCV law, bounded below by :data:`THETA_MIN`."""
    theta = -y * ocv.slope(y, ops) / thermal_voltage(temperature)
    return ops.maximum(theta, THETA_MIN)


def stress_drift(c: Any, w: Any, D: Any, rt: Any, theta: Any, q: Any, dx: ufl.Measure,
                 flux_on: Any = 1.0) -> ufl.Form:
    """Weak stress-driven flux term −k ∫ (D c/(RT Θ)) ∇w·∇q dx (mol/s per unit test value).

    ``w`` = σ : ∂ε_ch/∂c in J/mol, ``rt`` = RT in J/mol, ``theta`` the thermodynamic factor
    (:func:`thermodynamic_factor`); add it to :func:`diffusion`.
    """
    # An explicit degree: with the estimated one (1, as the vertex rule of the lumped mass term
    # of the same measure) FFCx merged this term with the mass term into one quadrature (the
    # mass was then no longer lumped; checked with DOLFINx 0.11, FFCx 0.11, UFL 2026.1).
    dx_drift = dx.reconstruct(metadata={"quadrature_degree": DRIFT_QUADRATURE_DEGREE})
    return -flux_on * (D / (rt * theta)) * c * ufl.inner(ufl.grad(w), ufl.grad(q)) * dx_drift
