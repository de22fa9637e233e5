"""Two-way chemo-mechanical coupling: a staggered (block Gauss–Seidel) iteration per time step.

The electrochemistry sees the stress through the stress work w = σ : ∂ε_ch/∂c (J/mol; Ω σ_h
for an isotropic Vegard strain) in the Na chemical potential μ = μ_chem − w: in the
overpotential (η − w/F) and in the flux (+D c/RT ∇w); see
:mod:`fem_electrode.problems.electrochemistry`. The mechanics sees c through the Vegard strain. One
time step iterates

1. Newton on (φ_e, c, φ_s) with w_eff = w_k + κ (c_k − c): w_k computed from c_k, κ a
   fixed slope;
2. mechanics with the new c, then w ← the lumped L2 projection of σ : ∂ε_ch/∂c onto P1 on NVP
   (∇w must exist: the stress of P1 displacements is piecewise constant);

until max |w(c) − w_eff(c)| / RT ≤ ``tolerance`` (``[mechanics] coupling_tolerance``): the
stress work the Newton step used differs from the one of its result by less than
``tolerance`` thermal voltages in η and in μ/RT, so the iterate solves the coupled equations
to that tolerance.

Why κ: without it (κ = 0) an error mode of wavenumber k is amplified by
θc D k²/(1/Δt + D k²(1 + …)) with θ = −∂w/∂c / RT; for NVP θc ≈ 2–5 (GPa stresses from a
8 % volume change), so the plain staggered iteration diverges at any Δt. With κ = θ_s RT
the factor becomes |θ − θ_s| c / (1 + θ_s c): below 1 whenever θ_s > (θ − 1/c)/2 and
always when θ_s ≥ θ (as the "fixed-stress" split of poroelasticity). κ is
``coupling_stabilization`` × 𝔼:C:𝔼, the slope of NVP held rigidly, the largest local θ.
The discrete stress recovery averages over cells, so the roughest modes see θ ≈ 0 and
keep a factor θ_s c/(1 + θ_s c) ≈ 0.7: the iteration is therefore accelerated by Anderson
mixing (depth ``ANDERSON_DEPTH``) of c_k → c_{k+1}; the mechanics is linear in c, so the same
combination of stress works is w of the mixed c, without another elasticity solve.
When the iteration does not converge in ``max_iterations`` the step fails and the time-step
controller retries with a smaller Δt, like a failed Newton solve. The mismatch of every
iteration is logged and kept in :attr:`TwoWayCoupling.history`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem_electrode.fem.fenicsx import MPI, dolfinx, ufl
from fem_electrode.fem.newton import NewtonResult
from fem_electrode.physics.constants import GAS_CONSTANT
from fem_electrode.physics.transport import LUMPED
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem
from fem_electrode.problems.mechanics import MechanicsProblem
from fem_electrode.util.anderson import anderson_coefficients, mix
from fem_electrode.util.log import get_logger

log = get_logger("coupling")

#: Previous iterates kept by the Anderson mixing of the staggered iteration.
ANDERSON_DEPTH = 5


@dataclass
class CouplingStatistics:
    """Staggered iterations over a run."""

    steps: int = 0  #: coupled time steps tried
    iterations: int = 0  #: staggered iterations (one Newton solve + one mechanics solve each)
    max_iterations: int = 0  #: most iterations of a converged step
    failures: int = 0  #: steps whose staggered iteration did not converge
    mechanics_solves: int = 0

    def as_dict(self) -> dict:
        return {"coupled_steps": self.steps, "staggered_iterations": self.iterations,
                "mean_staggered_iterations": self.iterations / max(self.steps, 1),
                "max_staggered_iterations": self.max_iterations, "failed_coupled_steps": self.failures,
                "mechanics_solves": self.mechanics_solves}


class TwoWayCoupling:
    """Stress in μ and η of ``problem`` (built with ``stress_coupling=True``) from ``mechanics``
    (a :class:`fem_electrode.problems.mechanics.MechanicsProblem` on the same domain)."""

    def __init__(self, problem: ElectrochemistryProblem, mechanics: MechanicsProblem, tolerance: float,
                 max_iterations: int, stabilization: float):
        if not problem.stress_coupling:
            raise ValueError("the electrochemistry problem was built without stress_coupling=True")
        if not tolerance > 0.0:
            raise ValueError(f"coupling tolerance must be > 0, got {tolerance!r}")
        if not max_iterations >= 1:
            raise ValueError(f"coupling max_iterations must be >= 1, got {max_iterations!r}")
        if not stabilization >= 0.0:
            raise ValueError(f"coupling stabilization must be >= 0, got {stabilization!r}")
        self.problem, self.mechanics = problem, mechanics
        self.tolerance, self.max_iterations = float(tolerance), int(max_iterations)
        #: κ (J m³/mol²) of w_eff = w + κ (c_w − c)
        self.slope = float(stabilization) * mechanics.params.rigid_stress_work_slope()
        problem.stress_slope.value = self.slope
        self.rt = GAS_CONSTANT * problem.params.kinetics.temperature  # J/mol
        self.stats = CouplingStatistics()
        #: max|w(c) − w_used|/RT of every staggered iteration of the last step
        self.history: list[float] = []
        #: most Newton iterations of one solve in the last step (what the step controller judges)
        self.step_newton_max = 0
        nvp = problem.V_c.mesh
        degree = max(int(mechanics.degree) - 1, 0)  # the stress of P_k displacements
        self._w_cells = dolfinx.fem.Function(dolfinx.fem.functionspace(nvp, ("DG", degree)))
        v = ufl.TestFunction(problem.V_c)
        dx_lumped = ufl.dx(domain=nvp, metadata=LUMPED)
        self._rhs = dolfinx.fem.form(self._w_cells * v * ufl.dx(domain=nvp))
        mass = dolfinx.fem.assemble_vector(dolfinx.fem.form(v * dx_lumped))
        mass.scatter_reverse(dolfinx.la.InsertMode.add)
        self._n_owned = problem.V_c.dofmap.index_map.size_local
        self._mass = mass.array[: self._n_owned].copy()  # ∫ v_i dx > 0 on every owned node

    # ---- the stress work ----------------------------------------------------------------------
    def _stress_work_of_c(self) -> np.ndarray:
        """w (J/mol) on the owned NVP nodes for the problem's current c (one mechanics solve)."""
        self.mechanics.solve(self.problem.c)
        self.stats.mechanics_solves += 1
        self.mechanics.interpolate_stress_work(self._w_cells)
        b = dolfinx.fem.assemble_vector(self._rhs)
        b.scatter_reverse(dolfinx.la.InsertMode.add)
        return b.array[: self._n_owned] / self._mass

    def _mismatch(self, w_new: np.ndarray) -> float:
        """max |w(c) − w_eff(c)| / RT over NVP (all ranks): how far the stress work the last
        Newton solve used was from the one of its result."""
        n, p = self._n_owned, self.problem
        used = p.stress_work.x.array[:n] + self.slope * (p.stress_c.x.array[:n] - p.c.x.array[:n])
        local = float(np.max(np.abs(w_new - used))) if n else 0.0
        return p.domain.mesh.comm.allreduce(local, op=MPI.MAX) / self.rt

    def _set_stress(self, w: np.ndarray, c_w: np.ndarray) -> None:
        n, p = self._n_owned, self.problem
        p.stress_work.x.array[:n] = w
        p.stress_c.x.array[:n] = c_w
        p.stress_work.x.scatter_forward()
        p.stress_c.x.scatter_forward()

    def refresh(self) -> float:
        """Solve the mechanics with the problem's c and make w (J/mol) the stress work of that c.

        Returns the mismatch (see :meth:`_mismatch`) before the update."""
        w_new = self._stress_work_of_c()
        change = self._mismatch(w_new)
        self._set_stress(w_new, self.problem.c.x.array[: self._n_owned].copy())
        return change

    def _anderson(self, xs: list[np.ndarray], gs: list[np.ndarray], ws: list[np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Anderson mixing of the fixed-point map x = c_w → g = c (Newton result): returns the
        next (w, c_w). The mechanics is linear in c, so the same affine combination of the
        stress works is exactly w of the mixed concentration (no extra mechanics solve)."""
        if len(xs) < 2:
            return ws[-1], gs[-1]
        gamma = anderson_coefficients(xs, gs, self.problem.domain.mesh.comm)
        return mix(ws, gamma), mix(gs, gamma)

    # ---- one time step ----------------------------------------------------------------------------
    def solve(self, dt: float) -> NewtonResult:
        """Advance by ``dt`` (s) to a state where w and c agree to the tolerance; on failure the
        state (w included) is restored. Iterations and linear iterations are summed.

        The staggered iteration is accelerated by Anderson mixing of depth ``ANDERSON_DEPTH``."""
        p, n = self.problem, self._n_owned
        snap = p.snapshot()
        self.stats.steps += 1
        self.history = []
        xs: list[np.ndarray] = []
        gs: list[np.ndarray] = []
        ws: list[np.ndarray] = []
        its = lin = jac = 0
        self.step_newton_max = 0
        result = None
        for k in range(1, self.max_iterations + 1):
            result = p.solve(dt)
            its += result.iterations
            self.step_newton_max = max(self.step_newton_max, result.iterations)
            lin += result.linear_iterations
            jac += result.jacobians
            self.stats.iterations += 1
            if not result.converged:
                p.restore(snap)
                self.stats.failures += 1
                return NewtonResult(False, its, lin, f"{result.reason} (staggered iteration {k})",
                                    result.residual_norm, jac)
            w_new = self._stress_work_of_c()
            change = self._mismatch(w_new)
            self.history.append(change)
            log.debug("  staggered iteration %d: max|w(c) - w_used|/RT = %.3e", k, change)
            g = p.c.x.array[:n].copy()
            if change <= self.tolerance:
                # w_eff stays the one this Newton solve used: the state is then an exact solution
                # of its residual (conservation to solver tolerance), w(c) within the tolerance
                self.stats.max_iterations = max(self.stats.max_iterations, k)
                return NewtonResult(True, its, lin, result.reason, result.residual_norm, jac)
            xs.append(p.stress_c.x.array[:n].copy())
            gs.append(g)
            ws.append(w_new)
            del xs[:-ANDERSON_DEPTH - 1], gs[:-ANDERSON_DEPTH - 1], ws[:-ANDERSON_DEPTH - 1]
            self._set_stress(*self._anderson(xs, gs, ws))
        p.restore(snap)
        self.stats.failures += 1
        return NewtonResult(
            False, its, lin,
            f"two-way coupling not converged in {self.max_iterations} staggered iterations "
            f"(max|w(c) - w_used|/RT = {self.history[-1]:.2e} > {self.tolerance:g})",
            result.residual_norm if result else float("nan"), jac)
