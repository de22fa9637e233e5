"""Chemo-mechanics with a cohesive NVP|NZSP interface: the displacement may jump across it.

Each phase carries its own displacement (P_k on its submesh, :meth:`Domain.submesh`); on
``interface_nvp_nzsp`` the two are tied by the traction–separation law of
:class:`fem_electrode.physics.cohesive.CohesiveLaw`. The jump is δ = u_NZSP − u_NVP and
n points out of NVP, so δ_n = δ·n > 0 opens the interface (NVP shrinking away from its
scaffold) and δ_s = |δ − δ_n n| slides it. The interface term of the weak form is

    ∫_Γ [k_n (δ(u)·n)(δ(v)·n) + k_s (P δ(u))·(P δ(v))] dA,   P = I − n⊗n,

with the secant stiffnesses k_s = (1 − D) K and k_n = (1 − D) K when opening, K in
compression (frictionless penalty contact, whatever the damage). A residual fraction
:data:`RESIDUAL_STIFFNESS` of K is kept on fully separated facets so that an NVP grain that
has lost all contact still has a unique displacement; it transmits tractions 10⁻⁶ of those of
the bonded interface.

Damage D lives per interface facet (DG0 on the facet submesh) and is evaluated from the
jump at the facet centroid (the facet mean of a P1 jump). A solve is a load step along the
history: the secant iteration solves with the stiffness of the current (D, contact set),
computes g(D) = max(D_committed, D(δ)) and the contact set from the new jumps, and stops when
|g(D) − D| ≤ ``tolerance`` on every facet and no facet changes between opening and contact.
The plain iteration D ← g(D) converges linearly (a factor ≈ 0.7 per iteration on the demo
RVE), so it is accelerated by Anderson mixing (depth :data:`ANDERSON_DEPTH`), the iterates
clipped to [D_committed, 1]; when the residual stops falling (:data:`ANDERSON_STALL`: on a
running front the mixed iterates cycle) the solve goes on with plain steps. After
:data:`CONTACT_FREEZE` iterations a closed facet stays closed while its normal jump is within a
chatter band of zero; one that opens is released. A facet that keeps switching between open and
closed (:data:`CHATTER_SWITCHES`; δ_n ≈ 0 with D ≈ 1, which neither state represents) is held
open, in that solve and the following ones until the load presses it closed
(:data:`HOLD_RELEASE`). :meth:`solve` then commits D as the new history (no healing).

Stresses use the parent-mesh field ``u`` (discontinuous P_k filled from both phases), so the
post-processing of :class:`fem_electrode.problems.mechanics.MechanicsProblem` applies
unchanged. Linear solves: CG preconditioned by a MUMPS LU of the blocked (NVP, NZSP) system that
is kept across secant iterations and load steps while it serves (:data:`SOLVER_OPTIONS`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fem_electrode import tags
from fem_electrode.fem.domain import Domain, PhaseMesh
from fem_electrode.fem.fenicsx import MPI, dolfinx, ufl
from fem_electrode.fem.petsc_options import OptionValue
from fem_electrode.fem.split_system import SplitLinearSystem
from fem_electrode.physics import elasticity
from fem_electrode.physics.cohesive import CohesiveLaw
from fem_electrode.physics.fatigue import ParisFatigue
from fem_electrode.problems.mechanics import (
    MechanicsError,
    MechanicsParams,
    MechanicsProblem,
    SolveInfo,
    boundary_conditions,
)
from fem_electrode.util.anderson import anderson_step
from fem_electrode.util.log import get_logger

log = get_logger("mechanics")

INTERFACE = "interface_nvp_nzsp"

#: Stiffness left on a fully separated facet, as a fraction of the penalty K (keeps an NVP
#: grain with no contact left from floating; its tractions are 1e-6 of the bonded ones).
RESIDUAL_STIFFNESS = 1e-6

#: CG preconditioned by an LU factorization (MUMPS) of the blocked system, kept while it serves:
#: the stiffness changes only on the interface facets whose damage or contact changed, so the
#: factorization of an earlier matrix solves the new one in a few CG iterations (the penalty
#: makes the system too ill-conditioned for plain AMG).
SOLVER_OPTIONS: dict[str, OptionValue] = {
    "ksp_type": "cg",
    "ksp_rtol": 1e-12,
    "ksp_atol": 1e-50,
    "ksp_max_it": 200,
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}
#: What the electrochemistry's contact fraction is (see :meth:`CohesiveMechanicsProblem.facet_contact`).
CONTACT_MEASURES = ("damage", "separation")

#: Iterates kept by the Anderson mixing of the secant iteration on the damage.
ANDERSON_DEPTH = 5

#: Secant iterations after which a closed facet stays closed while its normal jump is within
#: ± CONTACT_CHATTER × the onset opening N/K (a facet whose jump is ≈ 0 can switch between open and
#: closed forever; closed is the safe side there). A facet that clearly opens is released: frozen
#: closed it would carry the full penalty in tension whatever its damage and pin a running front.
CONTACT_FREEZE = 3
CONTACT_CHATTER = 1e-3

#: Anderson mixing is dropped for the rest of a solve (plain steps D ← g(D), which converge) when
#: the largest |g(D) − D| has not fallen below its best value of the solve by ANDERSON_PROGRESS
#: (relative) for this many iterations: on a running debonding front the mixed iterates cycle.
ANDERSON_STALL = 3
ANDERSON_PROGRESS = 1e-3

#: Refactorize when CG with the kept factorization needed more iterations than this. One CG
#: iteration (a forward and backward substitution) costs about 1/10 of a MUMPS factorization on the
#: demo RVE (10⁴ dofs): beyond about 10 iterations a fresh LU is cheaper over the following solves.
REFACTOR_ITERATIONS = 10
#: The threshold before (``LEGACY``).
LEGACY_REFACTOR_ITERATIONS = 25

#: A facet that has switched between open and closed CHATTER_SWITCHES times in one solve (counted
#: from its first iteration) is held open for the rest of it, from iteration CONTACT_FREEZE + 1
#: on. Such facets cycle (period 2 or 3; about 10 of the 1668 facets of the demo RVE in every
#: update after the first charge, all with D > 0.997): closed, the full K gives them a tension of
#: 2 to 30 N (N the strength); open, the secant (1 − D) K a compression below 0.05 N with δ_n
#: down to −0.5 nm: the solution sits at δ_n ≈ 0, which neither state represents, so the solve
#: never sees a contact set without switches. Open is the state with the smaller traction error
#: (and it does not pin a running front).
CHATTER_SWITCHES = 2

#: A facet held open at the end of a solve starts the next ones held open (its cycle would otherwise
#: cost CONTACT_FREEZE + CHATTER_SWITCHES iterations again in every update) until its normal
#: compression on the secant, (1 − D) K |δ_n|, exceeds HOLD_RELEASE × N (the cycling facets of the
#: demo RVE stay below 0.05 N): then the load has closed it for real and it is let go (and held
#: again only after switching CHATTER_SWITCHES more times in one solve).
CARRY_HOLD = True
HOLD_RELEASE = 0.1

#: Restore the secant iteration as it was before the cost work (refactorization after 25 CG
#: iterations, no hold of cycling facets, the interface terms assembled in every iteration):
#: benchmarks/bench_damage_cost.py ``--legacy`` gives before/after figures from one invocation.
#: Not for production use.
LEGACY = False

#: A facet counts as debonded (separated) when the traction it can still carry on its softening
#: branch, N (δ_f − δ_max)/(δ_f − δ⁰), is below this fraction of its strength. (D itself is no
#: measure of separation with a stiff penalty: D = 1 − δ⁰/δ·(…) ≈ 0.99 a few δ⁰ past the onset,
#: while the facet still carries nearly its full strength.)
DEBONDED_CAPACITY = 0.01


@dataclass(frozen=True)
class InterfaceState:
    """Damage of the interface after a solve (areas in m², energy in J)."""

    area: float  #: interface area
    debonded_area: float  #: separated facets: < DEBONDED_CAPACITY of the strength left
    damaged_area: float  #: facets with D > 0
    active_area: float  #: ∫ f dA, f the contact fraction of ``contact_measure``: what still passes current
    contact_area: float  #: facets in compression (closed)
    dissipated_energy: float  #: ∫ Ψ(D) dA
    max_damage: float

    def as_metrics(self) -> dict[str, float]:
        a = max(self.area, 1e-300)
        return {"interface_area_m2": self.area, "debonded_fraction": self.debonded_area / a,
                "damaged_fraction": self.damaged_area / a, "active_interface_fraction": self.active_area / a,
                "closed_fraction": self.contact_area / a, "dissipated_energy_J": self.dissipated_energy,
                "dissipated_energy_per_area_J_m2": self.dissipated_energy / a, "max_damage": self.max_damage}


def submesh_facets(domain: Domain, body: PhaseMesh, name: str) -> np.ndarray:
    """Facets of the phase submesh ``body`` that are parent facets tagged ``name``.

    A submesh cell keeps its parent cell's vertex order, so local facet i of the one is local
    facet i of the other.
    """
    mesh, sub = domain.mesh, body.mesh
    tdim = mesh.topology.dim
    parent_facets = domain.facets(name)
    sub.topology.create_connectivity(tdim, tdim - 1)
    sub.topology.create_connectivity(tdim - 1, tdim)
    imap = sub.topology.index_map(tdim)
    sub_cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    parent_cells = body.entity_map.sub_topology_to_topology(sub_cells, False)
    n_parent = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    to_sub = np.full(n_parent, -1, dtype=np.int64)
    to_sub[parent_cells] = sub_cells
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    c2f = mesh.topology.connectivity(tdim, tdim - 1)
    sub_c2f = sub.topology.connectivity(tdim, tdim - 1)
    out = []
    for f in parent_facets:
        for c in f2c.links(f):
            s = to_sub[c]
            if s >= 0:
                i = int(np.flatnonzero(c2f.links(c) == f)[0])
                out.append(sub_c2f.links(s)[i])
    return np.unique(np.asarray(out, dtype=np.int32))


class CohesiveMechanicsProblem(MechanicsProblem):
    """:class:`MechanicsProblem` with the interface as a cohesive zone (see the module docstring).

    ``law``: the traction–separation law; ``tolerance``: largest change of D between secant
    iterations at convergence; ``max_iterations``: secant iterations per solve.
    """

    def __init__(self, domain: Domain, params: MechanicsParams, law: CohesiveLaw,
                 solver_options: Mapping[str, OptionValue] | None = None, *, degree: int | None = None,
                 c_degree: int = 1, tolerance: float = 1e-6, max_iterations: int = 100,
                 contact_measure: str = "damage"):
        if contact_measure not in CONTACT_MEASURES:
            raise ValueError(f"contact_measure {contact_measure!r}: allowed {', '.join(CONTACT_MEASURES)}")
        self.contact_measure = contact_measure
        if params.lateral_bc == "periodic":
            raise MechanicsError("a cohesive interface with lateral_bc = 'periodic' is not implemented; "
                                 "use mechanics.lateral_bc = 'rollers'")
        if params.lateral_bc == "free" or params.separator_bc == "free":
            raise MechanicsError("a cohesive interface needs the NZSP scaffold held: separator_bc "
                                 "'fixed_z' or 'clamped' with lateral_bc = 'rollers'")
        if not tolerance > 0.0:
            raise ValueError(f"cohesive damage tolerance must be > 0, got {tolerance!r}")
        if not max_iterations >= 1:
            raise ValueError(f"cohesive max_iterations must be >= 1, got {max_iterations!r}")
        self.law = law
        self.tolerance, self.max_iterations = float(tolerance), int(max_iterations)
        #: secant iterations of the last solve and of all solves
        self.last_iterations = 0
        self.total_iterations = 0
        self.unconverged_solves = 0  #: solves that stopped at max_iterations
        self.anderson_restarts = 0  #: solves that dropped the Anderson mixing (it cycled)
        #: per target space: the contact form and the interface area (m²) of each NVP cell
        self._contact_forms: dict[int, tuple[dolfinx.fem.Form, np.ndarray]] = {}
        self._reuse_factorization = False
        #: LU factorizations and CG iterations of all solves
        self.factorizations = 0
        self.linear_iterations = 0
        self.linear_solves = 0  #: linear solves (secant iterations and refactorization retries)
        self.assemblies = 0  #: assemblies of the interface terms
        self._assembled: np.ndarray | None = None  # (k_n, k_s) of the last assembled K
        #: owned facets held open (their contact cycled, see CHATTER_SWITCHES) at the end of the last solve
        self._held = np.zeros(0, dtype=bool)
        super().__init__(domain, params, solver_options or SOLVER_OPTIONS, degree=degree, c_degree=c_degree)

    # ---- set-up -----------------------------------------------------------------------------
    def _build_displacement(self, solver_options: Mapping[str, OptionValue]) -> None:
        domain, params, mesh = self.domain, self.params, self.domain.mesh
        if mesh.comm.allreduce(domain.facets(INTERFACE).size, op=MPI.SUM) == 0:
            raise MechanicsError(f"a cohesive interface needs facets tagged {INTERFACE!r}; this mesh has "
                                 "none")
        self.bodies = {p: domain.submesh(p) for p in tags.PHASES}
        element = ("Lagrange", self.degree, (3,))
        self.V_body = {p: dolfinx.fem.functionspace(b.mesh, element) for p, b in self.bodies.items()}
        #: per phase: (its submesh cells, their parent cells), owned and ghost
        self._body_cells = {}
        for p, b in self.bodies.items():
            imap = b.mesh.topology.index_map(3)
            cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
            self._body_cells[p] = (cells, b.entity_map.sub_topology_to_topology(cells, False))
        self.u_body = {p: dolfinx.fem.Function(V, name=f"displacement_{p}")
                       for p, V in self.V_body.items()}
        # the broken parent-mesh displacement the stresses are computed from
        self.V = dolfinx.fem.functionspace(mesh, ("DG", self.degree, (3,)))
        self.u = dolfinx.fem.Function(self.V, name="displacement")
        # the interface as a facet submesh: damage, contact set and secant stiffnesses per facet
        self.iface, self._iface_map, _, _ = dolfinx.mesh.create_submesh(mesh, 2, domain.facets(INTERFACE))
        Q = dolfinx.fem.functionspace(self.iface, ("DG", 0))
        Q3 = dolfinx.fem.functionspace(self.iface, ("DG", 0, (3,)))
        self.damage = dolfinx.fem.Function(Q, name="damage")  # committed history
        self.trial_damage = dolfinx.fem.Function(Q, name="damage")  # of the last solve
        self._contact = dolfinx.fem.Function(Q)  # per facet, see facet_contact
        #: 1 on facets in compression (closed), 0 open: the contact set of the last solve, a
        #: Function so that a checkpoint carries it with the damage
        self.closed_state = dolfinx.fem.Function(Q, name="closed")
        #: fatigue: per facet, the largest effective jump of the cycle (its normal and sliding parts,
        #: m) and the smallest effective jump (m; < 0: none yet), Functions so a checkpoint carries them
        self.cycle_peak_n = dolfinx.fem.Function(Q, name="fatigue_peak_n")
        self.cycle_peak_s = dolfinx.fem.Function(Q, name="fatigue_peak_s")
        self.cycle_low = dolfinx.fem.Function(Q, name="fatigue_low")
        self.cycle_low.x.array[:] = -1.0
        #: the fatigue rate constant k (1/m² per cycle) of the previous simulated cycle (< 0: none,
        #: or not the cycle just before), for the load trend of a cycle jump
        self.cycle_rate_prev = dolfinx.fem.Function(Q, name="fatigue_rate_prev")
        self.cycle_rate_prev.x.array[:] = -1.0
        self.k_n = dolfinx.fem.Function(Q)
        self.k_s = dolfinx.fem.Function(Q)
        self._emaps = [*domain.entity_maps, self._iface_map]
        dS = domain.dS(INTERFACE)
        n = ufl.FacetNormal(mesh)("+")
        W = ufl.MixedFunctionSpace(self.V_body["NVP"], self.V_body["NZSP"])
        uN, uZ = ufl.TrialFunctions(W)
        vN, vZ = ufl.TestFunctions(W)
        ju, jv = uZ("-") - uN("+"), vZ("-") - vN("+")
        proj = ufl.Identity(3) - ufl.outer(n, n)
        bulk = (elasticity.bilinear_form(uN, vN, [(self.laws["NVP"], domain.dx("NVP"))])
                + elasticity.bilinear_form(uZ, vZ, [(self.laws["NZSP"], domain.dx("NZSP"))]))
        cohesive = (self.k_n("+") * ufl.dot(ju, n) * ufl.dot(jv, n) * dS
                    + self.k_s("+") * ufl.dot(proj * ju, proj * jv) * dS)
        zero = dolfinx.fem.Constant(mesh, np.zeros(3))
        load = elasticity.eigenstrain_load(vN, self.laws["NVP"], self.eps_ch, domain.dx("NVP"))
        L = ufl.extract_blocks(load + ufl.inner(zero, vZ) * domain.dx("NZSP"))
        self.bcs = []
        for p, V in self.V_body.items():
            body = self.bodies[p]

            def facets(name: str, body: PhaseMesh = body) -> np.ndarray:
                return submesh_facets(domain, body, name)

            self.bcs += boundary_conditions(domain, V, params.separator_bc, params.lateral_bc,
                                            params.collector_bc, facets=facets)
        form = lambda f: dolfinx.fem.form(f, entity_maps=self._emaps)  # noqa: E731
        self.k_n.x.array[:] = 0.0  # the fixed part of the stiffness: the bulk, interface entries 0
        self.k_s.x.array[:] = 0.0
        self.system = SplitLinearSystem(
            form(ufl.extract_blocks(bulk + cohesive)), form(ufl.extract_blocks(cohesive)), form(L),
            [self.u_body["NVP"], self.u_body["NZSP"]], self.bcs, solver_options,
            prefix=f"cohesive_{id(self)}_")
        # facet means of the jump (m), the normal and the facet areas (m²)
        w3, q = ufl.TestFunction(Q3), ufl.TestFunction(Q)
        jump = self.u_body["NZSP"]("-") - self.u_body["NVP"]("+")
        self._f_jump = form(ufl.inner(jump, w3("+")) * dS)
        area = self._assemble(form(q("+") * dS))
        normal = self._assemble(form(ufl.inner(n, w3("+")) * dS)).reshape(-1, 3)
        self.facet_area = area
        self.facet_normal = normal / np.maximum(area, 1e-300)[:, None]
        self._set_stiffness(self.damage.x.array[: area.size], self.closed)

    @property
    def closed(self) -> np.ndarray:
        """Owned interface facets in compression after the last solve."""
        return self.closed_state.x.array[: self._n_facets_local()] > 0.5

    def _n_facets_local(self) -> int:
        return self.iface.topology.index_map(2).size_local

    def _assemble(self, form: dolfinx.fem.Form) -> np.ndarray:
        """Owned entries of the assembled facet vector."""
        b = dolfinx.fem.assemble_vector(form)
        b.scatter_reverse(dolfinx.la.InsertMode.add)
        return b.array[: b.index_map.size_local * b.block_size].copy()

    def _set_owned(self, f: dolfinx.fem.Function, values: np.ndarray) -> None:
        f.x.array[: values.size] = values
        f.x.scatter_forward()

    def _set_stiffness(self, damage: np.ndarray, closed: np.ndarray) -> None:
        """Secant stiffnesses (Pa/m) per facet for the damage and the contact set."""
        k = self.law.penalty
        soft = np.maximum(1.0 - damage, RESIDUAL_STIFFNESS) * k
        self._set_owned(self.k_s, soft)
        self._set_owned(self.k_n, np.where(closed, k, soft))

    # ---- the jump ----------------------------------------------------------------------------
    def facet_jumps(self) -> tuple[np.ndarray, np.ndarray]:
        """(δ_n, δ_s) in m at the centroid of each owned interface facet of the current solution."""
        mean = self._assemble(self._f_jump).reshape(-1, 3) / np.maximum(self.facet_area, 1e-300)[:, None]
        dn = np.einsum("ij,ij->i", mean, self.facet_normal)
        ds = np.linalg.norm(mean - dn[:, None] * self.facet_normal, axis=1)
        return dn, ds

    # ---- solve -----------------------------------------------------------------------------
    def _linear_solve(self) -> int:
        """One solve with the present stiffness; the LU is redone when CG with the kept one failed or
        needed more than :data:`REFACTOR_ITERATIONS` iterations (then the next solve refactorizes)."""
        stiffness = np.concatenate([self.k_n.x.array, self.k_s.x.array])
        same = self._assembled is not None and np.array_equal(stiffness, self._assembled)
        if LEGACY or not self.domain.mesh.comm.allreduce(same, op=MPI.LAND):
            self.system.assemble_matrix()  # else K is the one assembled last (an update with no change)
            self._assembled = stiffness
            self.assemblies += 1
        reuse = self._reuse_factorization
        its, reason = self.system.solve(reuse_preconditioner=reuse)
        last = its  # CG iterations with the factorization the next solve would keep
        if reason < 0 and reuse:  # the kept LU no longer serves: factorize now
            reuse = False
            last, reason = self.system.solve(reuse_preconditioner=False)
            its += last
        self.factorizations += not reuse
        if reason < 0:
            raise MechanicsError(f"cohesive mechanics: linear solve failed (KSP reason {reason})")
        self._reuse_factorization = last <= (LEGACY_REFACTOR_ITERATIONS if LEGACY else REFACTOR_ITERATIONS)
        self.linear_solves += 1
        self.linear_iterations += its
        return its

    def solve(self, c: dolfinx.fem.Function | float, commit: bool = True) -> SolveInfo:
        """Solve for the displacements with NVP concentration ``c`` (mol/m³) by the secant
        iteration on the damage; ``commit``: make the new damage the history (a load step)."""
        self.set_concentration(c)
        self.system.assemble_rhs()
        t0 = time.perf_counter()
        comm = self.domain.mesh.comm
        n = self._n_facets_local()
        history = np.maximum(self.damage.x.array[:n], 0.0)
        damage, closed = history.copy(), self.closed.copy()
        xs: list[np.ndarray] = []
        gs: list[np.ndarray] = []
        its, change, flips = 0, np.inf, 1
        best, stalled, mixing = np.inf, 0, ANDERSON_DEPTH > 1
        chatter = CONTACT_CHATTER * self.law.strength_normal / self.law.penalty  # m
        switches = np.zeros(n, dtype=np.int64)  # per facet: open/closed switches in this solve
        carry = CARRY_HOLD and not LEGACY and self._held.size == n
        carried = self._held.copy() if carry else np.zeros(n, dtype=bool)  # held open since an earlier solve
        held = np.zeros(n, dtype=bool)  # held open in this solve
        release = HOLD_RELEASE * self.law.strength_normal  # Pa
        while its < self.max_iterations:
            its += 1
            self._set_stiffness(damage, closed)
            self._linear_solve()
            dn, ds = self.facet_jumps()
            image = self.law.damage(dn, ds, history)  # g(D): the damage of the jumps D gave
            now_closed = dn < 0.0
            if its > CONTACT_FREEZE:  # facets chattering at δ_n ≈ 0 stay closed; opening ones open
                now_closed |= closed & (dn <= chatter)
                if not LEGACY:  # facets that keep switching (a cycle) stay open
                    held |= switches >= CHATTER_SWITCHES
            if not LEGACY:
                soft = np.maximum(1.0 - damage, RESIDUAL_STIFFNESS) * self.law.penalty
                carried &= soft * -dn <= release  # closed by the load since: let go
                now_closed &= ~(held | carried)
            switches += now_closed != closed
            change = comm.allreduce(float(np.max(np.abs(image - damage), initial=0.0)), op=MPI.MAX)
            flips = comm.allreduce(int(np.count_nonzero(now_closed != closed)), op=MPI.SUM)
            log.debug("  secant iteration %d: max |g(D) - D| = %.2e, %d facets switch contact", its, change,
                      flips)
            closed = now_closed
            if change <= self.tolerance and flips == 0:
                damage = image
                break
            if change < best * (1.0 - ANDERSON_PROGRESS):
                best, stalled = change, 0
            else:
                stalled += 1
            if mixing and stalled >= ANDERSON_STALL:  # cycling: plain steps for the rest of the solve
                mixing = False
                xs.clear()
                gs.clear()
                self.anderson_restarts += 1
            if mixing:
                xs.append(damage)
                gs.append(image)
                del xs[:-ANDERSON_DEPTH], gs[:-ANDERSON_DEPTH]
                damage = np.clip(anderson_step(xs, gs, comm), history, 1.0)
            else:
                damage = image
        converged = change <= self.tolerance and flips == 0
        if not converged:
            self.unconverged_solves += 1
            log.debug("cohesive mechanics: secant iteration not converged in %d iterations (max ΔD = "
                     "%.2e, %d facets changing contact); the next update goes on from here",
                     self.max_iterations, change, flips)
        self.last_iterations = its
        self.total_iterations += its
        self._set_owned(self.trial_damage, damage)
        self._set_owned(self.closed_state, closed.astype(float))
        self._held = held | carried
        if commit:
            self.commit()
        self._fill_parent_displacement()
        seconds = time.perf_counter() - t0
        dofs = sum(V.dofmap.index_map.size_global * V.dofmap.index_map_bs for V in self.V_body.values())
        reason = "converged" if converged else "secant iteration not converged"
        log.debug("cohesive mechanics: %d dofs, %d secant iterations, max ΔD %.1e, %.2f s", dofs, its,
                  change, seconds)
        return SolveInfo(its, reason, float(change), seconds, dofs)

    def commit(self) -> None:
        """Make the damage of the last solve the history (irreversible)."""
        n = self._n_facets_local()
        self._set_owned(self.damage, self.trial_damage.x.array[:n].copy())

    def _fill_parent_displacement(self) -> None:
        for p, (sub_cells, parent) in self._body_cells.items():
            self.u.interpolate(self.u_body[p], cells0=sub_cells, cells1=parent)
        self.u.x.scatter_forward()

    # ---- fatigue (cycle-based, :mod:`fem_electrode.physics.fatigue`) ---------------------------
    def track_cycle(self) -> None:
        """Fatigue: fold the jumps of the last solve into the cycle's extremes of each facet."""
        n = self._n_facets_local()
        dn, ds = self.facet_jumps()
        dm = self.law.effective_jump(dn, ds)
        pn, ps = self.cycle_peak_n.x.array[:n], self.cycle_peak_s.x.array[:n]
        higher = dm > self.law.effective_jump(pn, ps)
        self._set_owned(self.cycle_peak_n, np.where(higher, dn, pn))
        self._set_owned(self.cycle_peak_s, np.where(higher, ds, ps))
        low = self.cycle_low.x.array[:n]
        self._set_owned(self.cycle_low, np.where(low < 0.0, dm, np.minimum(low, dm)))

    def reset_cycle(self) -> None:
        """Fatigue: start the extremes of a new cycle."""
        n = self._n_facets_local()
        self._set_owned(self.cycle_peak_n, np.zeros(n))
        self._set_owned(self.cycle_peak_s, np.zeros(n))
        self._set_owned(self.cycle_low, np.full(n, -1.0))

    def _cycle_load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self._n_facets_local()
        return (self.cycle_peak_n.x.array[:n], self.cycle_peak_s.x.array[:n],
                np.maximum(self.cycle_low.x.array[:n], 0.0))

    def cycle_rate(self, fatigue: ParisFatigue) -> np.ndarray:
        """The fatigue rate constant k (1/m² per cycle) of the tracked cycle, per owned facet."""
        return fatigue.rate_constant(self.law, *self._cycle_load())

    def rate_slope(self, fatigue: ParisFatigue) -> np.ndarray:
        """Growth of k per cycle from the previous simulated cycle to the tracked one (0 where unknown)."""
        n = self._n_facets_local()
        prev = self.cycle_rate_prev.x.array[:n]
        return np.where(prev >= 0.0, self.cycle_rate(fatigue) - prev, 0.0)

    def end_fatigue_cycle(self, consecutive: bool, fatigue: ParisFatigue) -> None:
        """Keep the tracked cycle's k for the next trend (``consecutive``: the next simulated cycle
        follows it directly) and start new extremes."""
        n = self._n_facets_local()
        self._set_owned(self.cycle_rate_prev, self.cycle_rate(fatigue) if consecutive else np.full(n, -1.0))
        self.reset_cycle()

    def apply_fatigue(self, fatigue: ParisFatigue, cycles: float, slope: np.ndarray | float = 0.0) -> float:
        """Grow the committed damage by ``cycles`` cycles of the tracked cycle's load (the law's
        closed form, ``slope`` its trend; no healing); returns the largest increment (all ranks)."""
        n = self._n_facets_local()
        old = self.damage.x.array[:n].copy()
        new = fatigue.advance(self.law, old, *self._cycle_load(), cycles, slope)
        self._set_owned(self.damage, new)
        self._set_owned(self.trial_damage, new)
        return self.domain.mesh.comm.allreduce(float(np.max(new - old, initial=0.0)), op=MPI.MAX)

    def cycles_to_increment(self, fatigue: ParisFatigue, increment: float,
                            slope: np.ndarray | float = 0.0) -> float:
        """The fewest cycles of the tracked cycle's load (``slope`` its trend) after which some facet's
        damage has grown by ``increment`` (inf: none grows that much; all ranks)."""
        n = self._n_facets_local()
        damage = self.damage.x.array[:n]
        cycles = fatigue.cycles_to_increment(self.law, damage, *self._cycle_load(), increment, slope)
        return self.domain.mesh.comm.allreduce(float(np.min(cycles, initial=np.inf)), op=MPI.MIN)

    # ---- what the damage means ------------------------------------------------------------------
    def interface_state(self) -> InterfaceState:
        """Areas and dissipated energy of the committed damage (all ranks)."""
        comm = self.domain.mesh.comm
        n = self._n_facets_local()
        d, a = self.damage.x.array[:n], self.facet_area
        dn, ds = self.facet_jumps()
        psi = self.law.dissipated_energy(d, dn, ds)

        def total(x: np.ndarray) -> float:
            return comm.allreduce(float(np.sum(x)), op=MPI.SUM)

        separated = self.law.strength_left(d, dn, ds) < DEBONDED_CAPACITY
        return InterfaceState(area=total(a), debonded_area=total(a[separated]),
                              damaged_area=total(a[d > 0.0]),
                              active_area=total(a * self.facet_contact((dn, ds))),
                              contact_area=total(a[self.closed]),
                              dissipated_energy=total(a * psi),
                              max_damage=comm.allreduce(float(np.max(d, initial=0.0)), op=MPI.MAX))

    def damage_of_facets(self, parent_facets: np.ndarray) -> np.ndarray:
        """The committed D of the given (local) parent-mesh interface facets."""
        imap = self.iface.topology.index_map(2)
        sub = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
        parent = self._iface_map.sub_topology_to_topology(sub, False)
        n_parent = self.domain.mesh.topology.index_map(2)
        lookup = np.full(n_parent.size_local + n_parent.num_ghosts, np.nan)
        lookup[parent] = self.damage.x.array[self.damage.function_space.dofmap.list[sub, 0]]
        values = lookup[np.asarray(parent_facets, dtype=np.int64)]
        if np.isnan(values).any():
            raise ValueError("damage_of_facets: some facets are not on the cohesive interface")
        return values

    def facet_contact(self, jumps: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """The contact fraction of each owned interface facet for the electrochemistry: 1 − D
        (``contact_measure = "damage"``), or the fraction of its strength the facet can still
        carry, :meth:`CohesiveLaw.strength_left` (``"separation"``: a facet passes current until
        its faces separate). ``jumps``: (δ_n, δ_s) of :meth:`facet_jumps` when already at hand."""
        n = self._n_facets_local()
        d = self.damage.x.array[:n]
        if self.contact_measure == "damage":
            return 1.0 - d
        return self.law.strength_left(d, *(jumps if jumps is not None else self.facet_jumps()))

    def contact_per_cell(self, target: dolfinx.fem.Function) -> None:
        """Fill ``target`` (DG0 on ``domain.submesh("NVP")``, e.g. the electrochemistry's
        ``contact``) with the area-weighted mean of :meth:`facet_contact` over each NVP cell's
        interface facets (1 on cells without one)."""
        self._set_owned(self._contact, self.facet_contact())
        V = target.function_space
        if V.mesh is not self.bodies["NVP"].mesh:
            raise ValueError("contact_per_cell: the target must live on domain.submesh('NVP')")
        w = ufl.TestFunction(V)
        dS = self.domain.dS(INTERFACE)
        key = id(V)
        if key not in self._contact_forms:  # the form, and each cell's interface area (fixed)
            area = dolfinx.fem.assemble_vector(dolfinx.fem.form(w("+") * dS, entity_maps=self._emaps))
            area.scatter_reverse(dolfinx.la.InsertMode.add)
            self._contact_forms[key] = (
                dolfinx.fem.form(self._contact("+") * w("+") * dS, entity_maps=self._emaps),
                area.array[: V.dofmap.index_map.size_local].copy())
        f_contact, area_of = self._contact_forms[key]
        b = dolfinx.fem.assemble_vector(f_contact)
        b.scatter_reverse(dolfinx.la.InsertMode.add)
        n = V.dofmap.index_map.size_local
        out = np.ones(n)
        has = area_of > 0.0
        out[has] = np.clip(b.array[:n][has] / area_of[has], 0.0, 1.0)
        target.x.array[:n] = out
        target.x.scatter_forward()

    def destroy(self) -> None:
        """Free the PETSc objects."""
        self.system.destroy()
