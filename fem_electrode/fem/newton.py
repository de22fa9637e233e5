"""Blocked Newton (PETSc SNES) for the coupled fields: options, defaults, failure handling.

Defaults (``[solver] linear``):

- ``iterative`` (scales to 10⁶ dofs on a few cores): Newton with a backtracking line search
  (``bt``: full Butler–Volmer steps can overflow exp), right-preconditioned GMRES (so the
  Krylov residual is the true residual) with a multiplicative (block Gauss–Seidel)
  field-split preconditioner, one block per field, each block one V-cycle of PETSc's GAMG
  (the wheel has no hypre) with drop threshold ``GAMG_THRESHOLD``. The fields couple only
  through interface terms, which are small against the bulk blocks at the mesh scale, so
  block Gauss–Seidel is a good approximation of the inverse: about 11 GMRES iterations per
  Newton iteration and ≈1.5 Poisson CG+GAMG solves of the same size per Newton iteration on
  the benchmark box (1e5 dofs).
- ``direct``: MUMPS LU of the monolithic sparse matrix as the preconditioner of GMRES (which
  then needs 3 iterations: the first for the rank-one term below); only sane below ≈1.5·10⁵ dofs
  (measured: benchmarks/bench_electrochemistry.py; MUMPS needs ≈29 KB per dof).

Rank-one term: a global constraint (the equipotential current collector, whose potential is
eliminated, see :mod:`fem_electrode.problems.electrochemistry`) adds −α u uᵀ to the Jacobian, with u a
sparse vector. The operator GMRES sees is a shell, A − α u uᵀ; the preconditioner is built
from the sparse A alone, so the dense term never enters a matrix.

Convergence (a custom SNES test, because the c row's round-off floor grows like 1/Δt and no
fixed residual tolerance fits every step): converged when the residual norm is below
``snes_atol`` or ``snes_rtol`` times the first one, or when the full Newton correction
J⁻¹F (before line search and bounds shorten it) is below ``[solver] step_tol`` in scaled
units, max over fields of ‖δu‖∞ / scale (scale RT/F for potentials, c_max for c): the state
is within that distance of the solution at its natural scale; or when Newton's own error
estimate is below ``[solver] newton_error_tol``: with the contraction θ = ‖δ_k‖/‖δ_{k−1}‖ of the
last two full corrections, the iterate x_{k+1} = x_k − δ_k is within θ/(1 − θ) ‖δ_k‖ of the
solution (Hairer & Wanner, Solving ODEs II, §IV.8). That estimate is trusted only in the fast
(quadratic) regime, θ ≤ ``CONTRACTION_MAX``, and when the last correction was taken whole
(neither the line search nor a bound shortened it).
A time step's Newton solve then stops one iteration earlier than the residual test would, at an
error far below the time step's own tolerance (see the key's description).
(``snes_stol`` stays 0: the line search also applies it, to the unscaled norms.)

Jacobian reuse (``[solver] jacobian_reuse``, the contraction threshold θ_r; 0 = off): every
Newton solve assembles the Jacobian (and factorizes or sets up its preconditioner) at its first
iteration only, and keeps it while the iteration converges well: the next iterations are chord
(simplified Newton) steps, a residual and a solve with the kept factorization each, and
converge linearly with the contraction θ = ‖δ_k‖/‖δ_{k−1}‖ of the corrections. Once θ exceeds
θ_r the Jacobian is rebuilt at the next iteration (and kept again). A time step's predictor
starts Newton close to the solution (run.stepping), where the Jacobian barely changes over the
solve: a chord step costs a residual and 2-3 triangular solves instead of an assembly and a
factorization (measured in docs/electrochemistry.md). The converged state is the same to the
residual tolerances: a chord step stops on the residual tests only (after a Newton correction
below ``step_tol`` the error is of the order of its square, after a chord correction only θ
times it: the step test would leave charge balances at ~1e-8). A case uses it with the direct
solver only (:func:`fem_electrode.run.setup.solver_settings`): with the iterative one a chord
step costs a whole Krylov solve, as a Newton step does. A line
search that fails once the residual is below ``STAGNATION_RTOL`` times max(first residual, 1)
has hit the round-off floor of the assembled residual: the iterate is accepted (residuals
are scaled so that 1 is the run's current, see :mod:`fem_electrode.problems.electrochemistry`).
A solve that crawls (from iteration ``SLOW_START`` on, less than a factor 1/``SLOW_FACTOR``
of residual reduction over ``SLOW_WINDOW`` iterations) is stopped as diverged: a shorter
time step is cheaper than many damped Newton steps.

Bounds (fraction to the boundary): fields with bounds (c in [0, c_max]) never jump past
them: each component of a Newton direction is clipped so that a bounded dof covers at most
``FRACTION_TO_BOUNDARY`` of its remaining distance to a bound per iteration. Iterates
stay where ln(y), ln(1 − y) are defined, which keeps Newton fast when the surface of NVP
empties or fills at the end of a half-cycle.

User options (``[solver] petsc``) are merged over the defaults under the problem's prefix.
Options are put into PETSc's global database *and kept there* until :meth:`BlockedNewton.close`:
the field-split sub-solvers are created at the first solve and read their options then
(DOLFINx deletes options passed as ``petsc_options`` once the SNES is set up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fem_electrode.fem import petsc_options
from fem_electrode.fem.fenicsx import MPI, PETSc, dolfinx
from fem_electrode.util.log import get_logger

log = get_logger("solver")

#: Relative tolerance of each Krylov solve inside Newton (iterative solver).
KSP_RTOL = 1e-8
#: Relative tolerance of GMRES around the exact LU (direct solver): 3 iterations (the first for
#: the rank-one term, the third reaches 1e-12 ... 1e-15). 1e-12 was below what the LU's round-off
#: allows on the default RVE: GMRES then crawled at ~1e-14 for 10-30 more triangular solves
#: (7.5 instead of 3 per Newton iteration on a 0.1 C cycle, docs/electrochemistry.md).
DIRECT_KSP_RTOL = 1e-10
#: Maximum Krylov iterations per Newton iteration.
KSP_MAX_IT = 400
#: GAMG drop threshold of every block (measured: GMRES iterations per Newton 27 -> 11 against
#: PETSc's default on the layered benchmark box, benchmarks/bench_electrochemistry.py).
GAMG_THRESHOLD = 0.02
#: Prolongator smoothing steps of every GAMG block: 0 = plain (unsmoothed) aggregation. Smoothed
#: aggregation made the Galerkin products (MatPtAP) cost ~90 % of a Newton iteration on generated
#: RVE meshes (10 µm infiltrated, 79 k dofs: 55 s per Newton solve, of which 98 s of 111 s in
#: MatPtAP over two solves); plain aggregation needs ~3x the GMRES iterations but made a solve
#: ~10x cheaper there (5.4 s), and is as fast on the structured layered box (2.25 vs 2.39 s per
#: Newton iteration at 2·10⁵ dofs).
GAMG_AGG_SMOOTHS = 0
#: Level limit given back to a GAMG block when its hierarchy is rebuilt (PETSc's PETSC_MG_MAXLEVELS).
GAMG_MAX_LEVELS = 30
#: GMRES restart length.
GMRES_RESTART = 100
#: Largest fraction of the distance to a bound a bounded field may cover per Newton iteration.
FRACTION_TO_BOUNDARY = 0.9
#: Slow-progress divergence: checked from SLOW_START iterations on, over SLOW_WINDOW iterations.
SLOW_START, SLOW_WINDOW, SLOW_FACTOR = 6, 3, 0.5
#: A line-search failure below this fraction of max(first residual, 1) is round-off stagnation.
STAGNATION_RTOL = 1e-8
#: Newton's error estimate θ/(1 − θ)‖δ‖ is used only where the contraction θ of two successive
#: corrections is at most this (the quadratic regime; a damped or slow Newton never stops on it).
CONTRACTION_MAX = 0.1
#: The last correction counts as taken whole when the step made equals it to this (relative, in
#: the scaled max norm); a line search (λ ≤ 1/2 when it cuts) or a clipped bound differs by far more.
FULL_STEP_RTOL = 1e-6
#: Options prefix of the electrochemistry SNES; ``[solver] petsc`` keys may carry it.
ECHEM_PREFIX = "echem_"
#: ``[solver] petsc`` keys with these prefixes belong to other solvers (the mechanics).
OTHER_PREFIXES = ("mechanics_",)


@dataclass(frozen=True)
class SolverSettings:
    """Newton and linear-solver settings (the ``[solver]`` section; its defaults live in the schema).

    ``petsc`` holds the user's option overrides meant for this solver, names without the
    leading ``-`` and without :data:`ECHEM_PREFIX`.
    """

    linear: str  #: "iterative" or "direct"
    rtol: float  #: Newton relative tolerance
    atol: float  #: Newton absolute tolerance (residual in units of the run's current)
    max_it: int  #: Newton iterations per solve
    quadrature_degree: int  #: quadrature degree of the nonlinear interface terms
    petsc: Mapping[str, Any]  #: user option overrides
    step_tol: float  #: Newton update, in units of each field's scale, that means converged
    #: Newton's error estimate (scaled units) that means converged; 0 = off (as in a case's [solver] default)
    newton_error_tol: float = 0.0
    #: keep the Jacobian while the corrections contract by at most this factor; 0 = rebuild every iteration
    jacobian_reuse: float = 0.0


def default_options(settings: SolverSettings, field_names: Sequence[str]) -> dict[str, Any]:
    """PETSc options (without prefix) for ``settings``; ``settings.petsc`` overrides them."""
    opts: dict[str, Any] = {
        "snes_type": "newtonls",
        "snes_linesearch_type": "bt",
        "snes_rtol": settings.rtol,
        "snes_atol": settings.atol,
        "snes_stol": 0.0,  # c (1e4 mol/m3) would mask φ (V); see step_tol instead
        "snes_max_it": settings.max_it,
    }
    if settings.linear == "direct":
        opts.update({"ksp_type": "gmres", "ksp_pc_side": "right", "ksp_rtol": DIRECT_KSP_RTOL,
                     "ksp_max_it": KSP_MAX_IT, "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"})
    else:
        opts.update({
            "ksp_type": "gmres", "ksp_pc_side": "right", "ksp_rtol": KSP_RTOL,
            "ksp_max_it": KSP_MAX_IT, "ksp_gmres_restart": GMRES_RESTART,
            "pc_type": "fieldsplit", "pc_fieldsplit_type": "multiplicative",
        })
        for name in field_names:
            opts.update({
                f"fieldsplit_{name}_ksp_type": "preonly",
                f"fieldsplit_{name}_pc_type": "gamg",
                f"fieldsplit_{name}_pc_gamg_threshold": GAMG_THRESHOLD,
                f"fieldsplit_{name}_pc_gamg_agg_nsmooths": GAMG_AGG_SMOOTHS,
            })
    return petsc_options.merged(opts, settings.petsc, ECHEM_PREFIX, OTHER_PREFIXES, ECHEM_PREFIX)


def block_index_sets(spaces: Sequence[dolfinx.fem.FunctionSpace], comm: MPI.Comm) -> list[PETSc.IS]:
    """Index sets of each field in a monolithic ("mpi") blocked matrix.

    DOLFINx orders the rows of a rank as [owned dofs of field 0, of field 1, ...]; the rank's
    first row is the total number of owned dofs on lower ranks.
    """
    sizes = [V.dofmap.index_map.size_local * V.dofmap.index_map_bs for V in spaces]
    start = comm.exscan(sum(sizes)) or 0
    out = []
    for n in sizes:
        out.append(PETSc.IS().createStride(n, start, 1, comm=comm))
        start += n
    return out


@dataclass
class NewtonResult:
    """Outcome of one Newton solve."""

    converged: bool
    iterations: int
    linear_iterations: int
    reason: str
    residual_norm: float
    jacobians: int = 0  #: Jacobians assembled (and factorized); fewer than iterations with jacobian_reuse


@dataclass
class SolverStatistics:
    """Counters over a whole run."""

    solves: int = 0
    failures: int = 0
    newton_iterations: int = 0
    linear_iterations: int = 0
    max_newton_iterations: int = 0
    jacobians: int = 0

    def record(self, r: NewtonResult) -> None:
        self.solves += 1
        self.failures += 0 if r.converged else 1
        self.newton_iterations += r.iterations
        self.linear_iterations += r.linear_iterations
        self.jacobians += r.jacobians
        if r.converged:
            self.max_newton_iterations = max(self.max_newton_iterations, r.iterations)

    def as_dict(self) -> dict[str, Any]:
        ok = max(self.solves - self.failures, 1)
        return {
            "newton_solves": self.solves, "failed_solves": self.failures,
            "newton_iterations": self.newton_iterations, "linear_iterations": self.linear_iterations,
            "mean_newton_iterations": self.newton_iterations / max(self.solves, 1),
            "max_newton_iterations": self.max_newton_iterations,
            "mean_linear_iterations_per_newton": self.linear_iterations / max(self.newton_iterations, 1),
            "accepted_solves": ok if self.solves else 0, "jacobians": self.jacobians,
        }


@dataclass
class RankOne:
    """A term −α u uᵀ of the Jacobian: ``u`` in the blocked layout, ``alpha()`` its current
    weight, ``update(x)`` refreshes the constants it stands for from an iterate x."""

    u: PETSc.Vec | None  #: set once the blocked layout exists (before the first solve)
    alpha: Callable[[], float]
    update: Callable[[PETSc.Vec], None]


class _RankOneOperator:
    """Python context of the shell matrix A − α u uᵀ."""

    def __init__(self, A: PETSc.Mat, r1: RankOne):
        self.A, self.r1 = A, r1

    def mult(self, mat: PETSc.Mat, x: PETSc.Vec, y: PETSc.Vec) -> None:
        self.A.mult(x, y)
        alpha, u = self.r1.alpha(), self.r1.u
        if alpha and u is not None:
            y.axpy(-alpha * u.dot(x), u)


class BlockedNewton:
    """A :class:`dolfinx.fem.petsc.NonlinearProblem` over several fields with managed options.

    ``residuals`` and ``unknowns`` are lists (one per field, same order); ``names`` name the
    fields in option prefixes (``<prefix>fieldsplit_<name>_...``); ``scales`` are the natural
    magnitudes of the fields (the step convergence test divides updates by them);
    ``bounds`` (lower, upper) per field or None (see the module docstring); ``rank_one`` a
    global rank-one term of the Jacobian and the update of its constants before each residual.
    """

    def __init__(self, residuals: Sequence[Any], unknowns: Sequence[dolfinx.fem.Function],
                 names: Sequence[str], settings: SolverSettings, prefix: str,
                 bcs: Sequence[dolfinx.fem.DirichletBC] = (),
                 entity_maps: Sequence[dolfinx.mesh.EntityMap] | None = None,
                 scales: Sequence[float] | None = None,
                 bounds: Sequence[tuple[float, float] | None] | None = None,
                 rank_one: RankOne | None = None):
        self.names = list(names)
        self.scales = list(scales) if scales is not None else [1.0] * len(self.names)
        self.step_tol = settings.step_tol
        self.newton_error_tol = settings.newton_error_tol
        self.jacobian_reuse = settings.jacobian_reuse
        self.jacobians = 0  # Jacobians assembled (and factorized) over this problem's life
        self.prefix = prefix
        self.bcs = list(bcs)
        self.options = petsc_options.OptionsScope(prefix, default_options(settings, self.names))
        self.problem = dolfinx.fem.petsc.NonlinearProblem(
            list(residuals), list(unknowns), bcs=list(bcs), kind="mpi",
            petsc_options_prefix=prefix, entity_maps=entity_maps,
        )
        snes = self.problem.solver
        # kept in the database while this problem lives: the field-split sub-solvers are
        # created (and read their options) at the first solve
        self.options.set()
        #: the user's options of this solver (names without prefix), to report the unused ones
        self.user_options = {key.removeprefix(ECHEM_PREFIX): value for key, value in settings.petsc.items()
                             if not key.startswith(OTHER_PREFIXES)}
        try:
            snes.setFromOptions()
        except PETSc.Error as exc:
            self.options.clear()
            raise petsc_options.rejected(exc, prefix, self.user_options) or exc from None
        self._solves = 0
        comm = unknowns[0].function_space.mesh.comm
        #: index sets of the fields in the blocked vector layout, in field order
        self.index_sets = block_index_sets([u.function_space for u in unknowns], comm)
        pc = snes.getKSP().getPC()
        if pc.getType() == PETSc.PC.Type.FIELDSPLIT:
            pc.setFieldSplitIS(*zip(self.names, self.index_sets, strict=True))
        snes.setConvergenceTest(self._converged)
        self.rank_one = rank_one
        self._rebuild = True  # assemble the Jacobian at the next Newton iteration
        self._plain_next = False  # the next solve is plain Newton (after a failed one with chord steps)
        self._install_callbacks(rank_one)
        self.bounds = list(bounds) if bounds is not None else [None] * len(self.names)
        self.damped = 0  # Newton directions shortened to respect the bounds
        self._corrections: list[float] = []  # scaled sizes of the full corrections of the current solve
        self._jacobian_of: list[int] = []  # the Jacobian (count) each of those corrections was made with
        self._x_before: PETSc.Vec | None = None  # the iterate the last correction started from
        self._on_estimate = False  # the last solve stopped on the error estimate
        self._history: list[float] = []  # residual norms of the current solve
        self._slow = False
        snes.getKSP().setPostSolve(self._on_direction)
        self._f0 = 0.0
        self.unknowns = list(unknowns)

    @property
    def snes(self) -> PETSc.SNES:
        return self.problem.solver

    def blocked_vector(self) -> PETSc.Vec:
        """A zero vector with the layout of the unknowns (owned dofs, field after field)."""
        v = self.problem.x.duplicate()
        v.set(0.0)
        return v

    def _install_callbacks(self, r1: RankOne | None) -> None:
        """Jacobian: DOLFINx's own assembly, skipped while the kept one is reused (``jacobian_reuse``;
        the matrix is then unchanged, so PETSc keeps its factorization or preconditioner too).
        With a rank-one term r1: the residual first updates r1's constants from the iterate, and
        the Krylov solver sees a shell A − α u uᵀ, the assembled A preconditions."""
        snes = self.problem.solver
        b, (assemble_f, f_args, f_kargs) = snes.getFunction()
        J0, P0, (assemble_j, j_args, j_kargs) = snes.getJacobian()

        def jacobian(snes_: PETSc.SNES, x: PETSc.Vec, J: PETSc.Mat, P: PETSc.Mat) -> None:
            if not self._rebuild:
                return
            self._rebuild = self.jacobian_reuse <= 0.0
            self.jacobians += 1
            assemble_j(snes_, x, J if r1 is None else P, P, *(j_args or ()), **(j_kargs or {}))

        if r1 is None:
            snes.setJacobian(jacobian, J0, P0)
            return

        def residual(snes_: PETSc.SNES, x: PETSc.Vec, f: PETSc.Vec) -> None:
            r1.update(x)
            assemble_f(snes_, x, f, *(f_args or ()), **(f_kargs or {}))

        A = self.problem.A
        shell = PETSc.Mat().createPython(A.getSizes(), context=_RankOneOperator(A, r1), comm=A.comm)
        shell.setUp()
        self._shell = shell
        snes.setFunction(residual, b)
        snes.setJacobian(jacobian, shell, A)

    def scaled_norm(self, v: PETSc.Vec) -> float:
        """max over fields of ‖v‖∞ / scale."""
        worst = 0.0
        for iset, scale in zip(self.index_sets, self.scales, strict=True):
            sub = v.getSubVector(iset)
            worst = max(worst, sub.norm(PETSc.NormType.NORM_INFINITY) / scale)
            v.restoreSubVector(iset, sub)
        return worst

    def _on_direction(self, ksp: PETSc.KSP, rhs: PETSc.Vec, y: PETSc.Vec) -> None:
        """After each linear solve: record the full Newton correction, then apply the bounds."""
        self._corrections.append(self.scaled_norm(y))
        self._jacobian_of.append(self.jacobians)
        if self.newton_error_tol > 0.0:  # the error estimate needs the iterate this correction starts from
            x = self.snes.getSolution()
            if self._x_before is None:
                self._x_before = x.duplicate()
            x.copy(self._x_before)
        if any(b is not None for b in self.bounds):
            self._fraction_to_boundary(y)

    def _fraction_to_boundary(self, y: PETSc.Vec) -> None:
        """Clip the Newton direction y (the iterate becomes x − λy) dof by dof so that bounded
        fields move at most FRACTION_TO_BOUNDARY of the way to their bounds. Clipping, not
        scaling the whole direction: one dof pressed against a bound must not stall the rest."""
        x = self.snes.getSolution()
        clipped = 0
        for iset, bound in zip(self.index_sets, self.bounds, strict=True):
            if bound is None:
                continue
            lo, hi = bound
            xs, ys = x.getSubVector(iset), y.getSubVector(iset)
            xa, ya = xs.getArray(readonly=True), ys.getArray()
            room = np.where(ya > 0.0, xa - lo, hi - xa)  # distance to the bound it moves towards
            # dofs already on or past a bound (P1 on obtuse tetrahedra can overshoot) move freely
            limit = FRACTION_TO_BOUNDARY * room
            over = (room > 0.0) & (np.abs(ya) > limit)
            ya[over] = np.sign(ya[over]) * limit[over]
            clipped += int(np.count_nonzero(over))
            x.restoreSubVector(iset, xs)
            y.restoreSubVector(iset, ys)
        if y.getComm().tompi4py().allreduce(clipped, op=MPI.SUM):
            self.damped += 1

    def _converged(self, snes: PETSc.SNES, it: int, norms: tuple[float, float, float]) -> int:
        _, _, fnorm = norms
        reason = PETSc.SNES.ConvergedReason
        rtol, atol, _, _ = snes.getTolerances()
        if not np.isfinite(fnorm):
            return reason.DIVERGED_FNORM_NAN
        if it == 0:
            self._f0 = fnorm
            self._corrections = []
            self._jacobian_of = []
            self._on_estimate = False
            self._history = []
            self._slow = False
        self._history.append(fnorm)
        correction = self._corrections[-1] if self._corrections else np.inf  # the last full correction
        estimate = self._error_estimate() if self.newton_error_tol > 0.0 else np.inf
        log.debug("    Newton iteration %d: residual %.3e, last correction %.3e, error estimate %.3e",
                  it, fnorm, correction, estimate)
        if fnorm <= atol:
            return reason.CONVERGED_FNORM_ABS
        if it > 0 and fnorm <= rtol * self._f0:
            return reason.CONVERGED_FNORM_RELATIVE
        newton_step = len(self._jacobian_of) < 2 or self._jacobian_of[-1] != self._jacobian_of[-2]
        if it > 0 and correction <= self.step_tol and newton_step:
            # after a Newton correction below step_tol the error is ~ its square; after a chord
            # correction only θ times it: chord steps stop on the residual tests
            return reason.CONVERGED_SNORM_RELATIVE
        if estimate <= self.newton_error_tol:
            self._on_estimate = True
            return reason.CONVERGED_SNORM_RELATIVE
        if (self.jacobian_reuse > 0.0 and len(self._corrections) >= 2
                and self._corrections[-1] > self.jacobian_reuse * self._corrections[-2]):
            self._rebuild = True  # contracting too slowly: rebuild at the next iteration, keep it then
        if (it >= SLOW_START and fnorm > SLOW_FACTOR * self._history[-1 - SLOW_WINDOW]
                and fnorm > STAGNATION_RTOL * max(self._f0, 1.0)):
            self._slow = True
            return reason.DIVERGED_DTOL
        return reason.CONVERGED_ITERATING

    def _error_estimate(self) -> float:
        """θ/(1 − θ) ‖δ_k‖ (scaled units): the distance of the current iterate from the solution,
        from the last two full corrections; inf where it is not trusted: fewer than two
        corrections, two of different kinds (a Newton step on a fresh Jacobian and a chord step,
        see ``jacobian_reuse``), θ > CONTRACTION_MAX, or the last correction was not taken whole
        (the line search shortened it or a bound clipped it: the step made differs from δ_k).
        Collective (the norms are global)."""
        if len(self._corrections) < 2 or self._x_before is None:
            return np.inf
        previous, last = self._corrections[-2], self._corrections[-1]
        ids = self._jacobian_of
        fresh = [k == 0 or ids[k] != ids[k - 1] for k in range(len(ids))]
        chord_pair = ids[-1] == ids[-2] and not fresh[-2]  # two chord steps on one kept Jacobian
        if not (chord_pair or (fresh[-1] and fresh[-2])):
            return np.inf  # a Newton and a chord correction: their ratio is no contraction rate
        if not (previous > 0.0 and np.isfinite(previous) and np.isfinite(last)):
            return np.inf
        theta = last / previous
        if theta > CONTRACTION_MAX:
            return np.inf
        step = self._x_before.copy()
        step.axpy(-1.0, self.snes.getSolution())  # the step made: x_before − x = λ (clipped δ_k)
        made = self.scaled_norm(step)
        step.destroy()
        if abs(made - last) > FULL_STEP_RTOL * last:
            return np.inf
        return theta / (1.0 - theta) * last

    def solve(self) -> NewtonResult:
        """One Newton solve from the current state of the unknowns; never raises on divergence.

        After a solve that failed with chord steps (a kept Jacobian, ``jacobian_reuse``) the next
        solve, the caller's retry with a shorter step, is plain Newton: a chord direction can fail
        the line search or crawl where Newton's own converges (a fatigue test's discharge failed
        down to dt_min that way). Reuse resumes after it."""
        plain, self._plain_next = self._plain_next, False
        reuse = self.jacobian_reuse
        if plain:
            self.jacobian_reuse = 0.0
        try:
            result = self._solve_once()
        finally:
            self.jacobian_reuse = reuse
        if not result.converged and result.jacobians < result.iterations:
            self._plain_next = True
            log.debug("    Newton with a kept Jacobian failed (%s): the next solve is plain Newton",
                      result.reason)
        return result

    def _solve_once(self) -> NewtonResult:
        """One SNES solve from the current state of the unknowns (see :meth:`solve`)."""
        snes = self.snes
        first = self._solves == 0
        self._solves += 1
        jacobians_before = self.jacobians
        self._rebuild = True  # assembled at the first iteration, then kept while it serves (_converged)
        try:
            self.problem.solve()
        except PETSc.Error as exc:  # e.g. a zero pivot in a factorisation
            # the sub-solvers read their options at the first solve: a rejected one is bad input
            bad = petsc_options.rejected(exc, self.prefix, self.user_options) if first else None
            if bad is not None:
                raise bad from None
            log.debug("PETSc error in the Newton solve: %s", exc)
            return NewtonResult(False, snes.getIterationNumber(), snes.getLinearSolveIterations(),
                                f"PETSc error {exc.ierr}", float("nan"), self.jacobians - jacobians_before)
        if first:
            left = petsc_options.unused(self.options, self.user_options)
            if left:
                log.warning("[solver] petsc options not used by the %s solver (misspelled, or not applicable "
                            "to its solver types): %s", self.prefix.rstrip("_"), ", ".join(left))
        code = snes.getConvergedReason()
        norm = snes.getFunctionNorm()
        finite = all(np.all(np.isfinite(u.x.array)) for u in self.unknowns)
        converged = code > 0 and finite and np.isfinite(norm)
        reason = (petsc_options.reason_name(PETSc.SNES.ConvergedReason, code) if finite
                  else "non-finite solution")
        if self._slow:
            reason = "DIVERGED_SLOW_PROGRESS"
        if converged and self._on_estimate:
            reason = "CONVERGED_ERROR_ESTIMATE"
        if (code == PETSc.SNES.ConvergedReason.DIVERGED_LINE_SEARCH and finite
                and norm <= STAGNATION_RTOL * max(self._f0, 1.0)):
            converged, reason = True, "CONVERGED_ROUNDOFF_STAGNATION"
        return NewtonResult(bool(converged), snes.getIterationNumber(), snes.getLinearSolveIterations(),
                            reason, float(norm), self.jacobians - jacobians_before)

    def rebuild_preconditioner(self) -> None:
        """Make every GAMG block build a new hierarchy at the next set-up.

        Call it when the character of the Jacobian changes (e.g. the concentration block is a
        mass matrix while c is frozen, a diffusion operator otherwise). PETSc's GAMG keeps the
        number of levels of its first set-up as the limit for every later one: a hierarchy first
        built on a mass matrix (one level) would precondition the diffusion block of every later
        step by one Chebyshev-Jacobi sweep (measured: 45-76 instead of 16 GMRES iterations per
        Newton iteration on 47 k dofs, and GMRES at its iteration limit at 10^6 dofs).
        """
        pc = self.snes.getKSP().getPC()
        if pc.getType() != PETSc.PC.Type.FIELDSPLIT or self._solves == 0:
            return
        for sub in pc.getFieldSplitSubKSP():
            sub_pc = sub.getPC()
            if sub_pc.getType() == PETSc.PC.Type.GAMG:
                sub_pc.reset()
                sub_pc.setGAMGLevels(GAMG_MAX_LEVELS)

    def close(self) -> None:
        """Remove this problem's options from PETSc's global database and free its PETSc objects.

        The SNES holds Python callbacks that refer back to this object; the garbage collector
        cannot see through PETSc objects, so without this the whole problem (meshes, forms,
        communicators) would never be freed (≈ 40 MPI communicators per problem: MPICH allows
        2048 per process)."""
        self.options.clear()
        snes = self.problem.solver
        snes.setConvergenceTest("default")
        snes.getKSP().setPostSolve(None)
        for obj in (getattr(self, "_shell", None), self._x_before, snes, self.problem.A, self.problem.b,
                    self.problem.x, *self.index_sets):
            if obj is not None:
                obj.destroy()
