"""Bulk transport residuals (UFL forms only, SI units).

- conduction: ∇·(σ ∇φ) = 0, residual ∫ σ ∇φ·∇v dx   (σ in S/m, φ in V: A per unit test value);
- diffusion:  ∂c/∂t = ∇·(D ∇c), backward Euler, residual ∫ [(c − c_old)/Δt q + D ∇c·∇q] dx
  (c in mol/m³, D in m²/s: mol/s per unit test value).

Boundary and interface fluxes are added by the caller (kinetics on the interface, the
applied current on the collector).
"""

from __future__ import annotations

from typing import Any

from fem_electrode.fenicsx import ufl

#: Vertex quadrature: mass lumping for P1.
LUMPED = {"quadrature_rule": "vertex", "quadrature_degree": 1}


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
