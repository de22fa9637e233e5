"""Linear elasticity with a chemical (Vegard) eigenstrain: UFL forms only, SI units.

Small strain ε(u) = sym ∇u, isotropic Hooke's law per phase,
σ = λ tr(ε_el) I + 2μ ε_el with ε_el = ε(u) − ε_ch. In NVP the chemical strain is

- isotropic: ε_ch = (Ω/3)(c − c_ref) I  (Ω partial molar volume, m³/mol; c in mol/m³);
- anisotropic: ε_ch = diag(e_a, e_a, e_c) (y_ref − y), y = c/c_max, with e_a, e_c the linear
  lattice strains from y = 1 to y = 0 and the crystal c axis along z (an assumed texture).

Both are linear in c, ε_ch = 𝔼 (c − c_ref) with 𝔼 = ∂ε_ch/∂c
(:meth:`fem_electrode.problems.mechanics.MechanicsParams.chemical_strain_per_mol`).

Nothing here touches meshes or solvers; the material constants are ``fem.Constant`` so that
changing them never recompiles a form.
"""

from __future__ import annotations

from dataclasses import dataclass

from fem_electrode.fem.fenicsx import dolfinx, ufl

#: Bounds of the Poisson ratio of an isotropic, stable solid.
NU_MIN, NU_MAX = -1.0, 0.5


def lame(E: float, nu: float) -> tuple[float, float]:
    """Lamé constants (λ, μ) in Pa from Young's modulus ``E`` (Pa) and Poisson ratio ``nu``."""
    if not E > 0.0:
        raise ValueError(f"Young's modulus must be > 0 Pa, got E = {E!r}")
    if not NU_MIN < nu < NU_MAX:
        raise ValueError(f"Poisson ratio must lie in ({NU_MIN}, {NU_MAX}), got nu = {nu!r}")
    return E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)), E / (2.0 * (1.0 + nu))


def strain(u: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
    """Small-strain tensor sym ∇u (dimensionless)."""
    return ufl.sym(ufl.grad(u))


@dataclass(frozen=True)
class IsotropicElastic:
    """Hooke's law of one phase: ``E`` (Pa), ``nu`` and the Lamé constants as mesh Constants."""

    E: float
    nu: float
    lmbda: dolfinx.fem.Constant
    mu: dolfinx.fem.Constant

    @classmethod
    def create(cls, mesh: dolfinx.mesh.Mesh, E: float, nu: float) -> IsotropicElastic:
        lm, mu = lame(E, nu)
        return cls(E, nu, dolfinx.fem.Constant(mesh, lm), dolfinx.fem.Constant(mesh, mu))

    def stress(self, eps_el: ufl.core.expr.Expr) -> ufl.core.expr.Expr:
        """Cauchy stress (Pa) of an elastic strain tensor."""
        d = ufl.shape(eps_el)[0]
        return self.lmbda * ufl.tr(eps_el) * ufl.Identity(d) + 2.0 * self.mu * eps_el



def bilinear_form(u: ufl.Argument, v: ufl.Argument,
                  phases: list[tuple[IsotropicElastic, ufl.Measure]]) -> ufl.Form:
    """a(u, v) = Σ_phases ∫ σ_p(ε(u)) : ε(v) dx_p."""
    return sum(ufl.inner(law.stress(strain(u)), strain(v)) * dx for law, dx in phases)


def eigenstrain_load(v: ufl.Argument, law: IsotropicElastic, eps_ch: ufl.core.expr.Expr,
                     dx: ufl.Measure) -> ufl.Form:
    """L(v) = ∫ σ(ε_ch) : ε(v) dx over the phase that carries the eigenstrain."""
    return ufl.inner(law.stress(eps_ch), strain(v)) * dx
