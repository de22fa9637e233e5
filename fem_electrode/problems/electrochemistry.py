"""The coupled electrochemical problem: spaces, residuals, one blocked Newton per time step.

Unknowns, each on its own phase submesh (no phantom dofs), P1:

- φ_e (V), ionic potential in NZSP: ∇·(σ_e ∇φ_e) = 0, φ_e = 0 on the separator face;
- c (mol/m³), Na in NVP: ∂c/∂t = ∇·(D ∇c) (backward Euler);
- φ_s (V), electronic potential in NVP: ∇·(σ_s ∇φ_s) = 0.

On the interface Γ (NVP "+", NZSP "−") Butler–Volmer gives i (A/m², > 0 anodic, Na leaves
NVP: charge), η = φ_s − φ_e − U(c/c_max). The current i leaves the solid (electrons) and
enters the electrolyte (Na⁺); the Na flux into NVP is −i/F. NZSP is electronically blocking.

Current collector (the NVP side of z = Lz): the Au is an equipotential at V_cc, in contact
with NVP through a contact conductance g_c (S/m²): j = g_c (V_cc − φ_s) enters φ_s. V_cc is
not an unknown of its own: it is eliminated with the global condition of the mode,

- galvanostatic (total current I, > 0 charge): ∫ j dA = I → V_cc = φ̄_s + I/(g_c A_cc);
- potentiostatic (CV hold of the cell voltage at V_hold, through the lumped series
  resistance R = r_series/A_proj): V_cc + R ∫ j dA = V_hold,

so V_cc = a φ̄_s + b with φ̄_s the mean of φ_s over the collector contact A_cc and (a, b)
constants per mode. The mean makes a rank-one term of the Jacobian, applied matrix-free
(:class:`fem_electrode.fem.newton.RankOne`). The current therefore divides between NVP regions
by their impedance (a uniform current density would overload small NVP islands that touch
the collector).

Two-way chemo-mechanics (``stress_coupling=True``): the Na chemical potential in NVP gains
−w, w = σ : ∂ε_ch/∂c (J/mol, = Ω σ_h for an isotropic Vegard strain), held in the P1 field
:attr:`ElectrochemistryProblem.stress_work`. It enters the overpotential,
η = φ_s − φ_e − U(c) − w/F (tension raises the equilibrium potential), and the flux,
J = −D ∇c + (D c/RT) ∇w. The field is given, not solved for here:
:class:`fem_electrode.problems.coupling.TwoWayCoupling` updates it from the mechanics. The residuals
use w + κ (c_w − c), with c_w the concentration w was computed from and κ a stabilising
slope (≈ −∂w/∂c): the same at convergence (c = c_w), it makes the staggered iteration
contract (the "fixed-stress" split of poroelasticity).

The reported cell voltage is V = V_cc − φ_e(separator) + I R with φ_e(separator) = 0 and
r_series = L_sep/σ_e + ASR_Na|NZSP (Ω m² of projected area A_proj = Lx·Ly).

The unknown for φ_s is its deviation from a reference potential (a constant, re-centred
after every accepted step): φ_s ≈ 3.4 V times the large conduction stiffness would otherwise
put a round-off floor into the φ_s residual far above the Newton tolerance
(:meth:`ElectrochemistryProblem.phi_s_field` gives the physical φ_s).

Residual rows are in amperes (the c row is multiplied by F) and divided by the run's current
``c_rate`` × I_1C (I_1C: the 1 C current of the RVE), so the Newton tolerances are relative
to the current that flows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fem_electrode.fem.domain import Domain, bounding_box
from fem_electrode.fem.fenicsx import MPI, dolfinx, ufl
from fem_electrode.fem.newton import ECHEM_PREFIX, BlockedNewton, NewtonResult, RankOne, SolverSettings
from fem_electrode.physics import transport
from fem_electrode.physics.constants import (
    FARADAY,
    GAS_CONSTANT,
    SECONDS_PER_HOUR,
    capacity_coulomb_per_kg,
    thermal_voltage,
)
from fem_electrode.physics.kinetics import ButlerVolmer
from fem_electrode.physics.ocv import OCV
from fem_electrode.physics.ops import ufl_ops

#: Field names, in block order.
FIELDS = ("phi_e", "c", "phi_s")
#: Newton iterates of c stay within [−C_MARGIN, 1 + C_MARGIN] c_max. P1 on obtuse tetrahedra is
#: not monotone: near an emptied or filled NVP surface the discrete c may lie slightly outside
#: [0, c_max]; there U and i₀ are clipped (flat), so such nodes carry no reaction. A hard bound
#: at 0 or c_max would pin them and stall Newton at the end of a half-cycle.
C_MARGIN = 0.01
_COUNT = [0]  # problems created in this process (option prefixes)


@dataclass(frozen=True)
class ElectroParams:
    """Material and kinetic parameters of the electrochemical problem (SI; built from the case by
    :func:`fem_electrode.run.setup.electro_params`, whose defaults and sources live in the schema)."""

    sigma_e: float  #: NZSP ionic conductivity, S/m
    sigma_s: float  #: NVP electronic conductivity, S/m
    D: float  #: Na diffusivity in NVP, m²/s
    c_max: float  #: cyclable Na concentration, mol/m³
    kinetics: ButlerVolmer
    ocv: OCV
    initial_y: float  #: initial filling c/c_max
    r_series: float  #: lumped separator + Na|NZSP resistance, Ω m² (projected area)
    density: float  #: NVP density, kg/m³
    capacity: float  #: NVP theoretical capacity, mAh/g
    collector_conductance: float  #: Au|NVP contact conductance g_c, S/m²

    def __post_init__(self) -> None:
        for name in ("sigma_e", "sigma_s", "D", "c_max", "density", "capacity", "collector_conductance"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0.0 < self.initial_y < 1.0:
            raise ValueError(f"initial_y must lie in (0, 1), got {self.initial_y!r}")
        if not self.r_series >= 0.0:
            raise ValueError(f"r_series must be >= 0 Ohm m^2, got {self.r_series!r}")


@dataclass(frozen=True)
class StepState:
    """Global quantities of the current (converged) state; all ranks hold the same values."""

    current: float  #: collector current I (A), > 0 charge
    interface_current: float  #: ∫ i dA over the interface (A)
    voltage: float  #: cell voltage (V)
    phi_s_collector: float  #: mean φ_s on the collector contact (V)
    collector_potential: float  #: V_cc of the Au (V)
    sodium: float  #: ∫ c dV over NVP (mol)
    sodium_change: float  #: ∫ (c − c_old) dV (mol)
    c_mean: float  #: mol/m³
    c_min: float
    c_max: float
    soc: float  #: state of charge 1 − ⟨y⟩ (y = 1 discharged)


def _with_constants(law: Any, const: Callable[[float], dolfinx.fem.Constant]) -> Any:
    """A copy of a law (frozen dataclass) whose float fields are mesh Constants of the same value."""
    values = {f.name: const(v) for f in dataclasses.fields(law)
              if isinstance(v := getattr(law, f.name), float) and not isinstance(v, bool)}
    return dataclasses.replace(law, **values)


class ElectrochemistryProblem:
    """φ_e (NZSP), c and φ_s (NVP) coupled by Butler–Volmer, one SNES per time step.

    ``c_rate`` (1/h) sets the current scale of the residual (see the module docstring): the
    protocol's C-rate, or 1 for steady states and verification cases.
    ``extra`` (verification only) returns three additional residual forms in amperes
    (rows φ_e, c, φ_s; ``None`` for none) built from this problem's fields and test functions,
    e.g. manufactured sources.
    """

    def __init__(self, domain: Domain, params: ElectroParams, settings: SolverSettings,
                 *, c_rate: float, prefix: str | None = None, stress_coupling: bool = False,
                 extra: Callable[[ElectrochemistryProblem], Sequence[Any]] | None = None):
        self.domain = domain
        self.params = params
        self.settings = settings
        self.nzsp = domain.submesh("NZSP")
        self.nvp = domain.submesh("NVP")
        self.entity_maps = [self.nzsp.entity_map, self.nvp.entity_map]
        self.V_e = dolfinx.fem.functionspace(self.nzsp.mesh, ("Lagrange", 1))
        self.V_c = dolfinx.fem.functionspace(self.nvp.mesh, ("Lagrange", 1))
        self.V_s = dolfinx.fem.functionspace(self.nvp.mesh, ("Lagrange", 1))
        self.phi_e = dolfinx.fem.Function(self.V_e, name="phi_e")
        self.c = dolfinx.fem.Function(self.V_c, name="c")
        self.phi_s = dolfinx.fem.Function(self.V_s, name="phi_s_deviation")  # φ_s − φ_ref
        self.phi_s_out = dolfinx.fem.Function(self.V_s, name="phi_s")  # physical, for output
        self.c_old = dolfinx.fem.Function(self.V_c, name="c_old")
        self.unknowns = [self.phi_e, self.c, self.phi_s]
        #: w = σ : ∂ε_ch/∂c (J/mol) on NVP, given (two-way coupling); zero without stress coupling
        self.stress_work = dolfinx.fem.Function(self.V_c, name="stress_work")
        #: the concentration w was computed from (mol/m³) and the stabilising slope κ (J m³/mol²):
        #: the residuals use w + κ (c_w − c), equal to w once c = c_w (see the module docstring)
        self.stress_c = dolfinx.fem.Function(self.V_c, name="stress_c")
        self.stress_slope = self._const(0.0)
        #: contact fraction (1 − D) of the NVP|NZSP interface, per NVP cell (DG0; the cell next to
        #: an interface facet carries that facet's value): it scales the Butler–Volmer current,
        #: so a debonded patch (0) passes no current; 1 everywhere unless damage sets it
        self.contact = dolfinx.fem.Function(dolfinx.fem.functionspace(self.nvp.mesh, ("DG", 0)),
                                            name="contact_fraction")
        self.contact.x.array[:] = 1.0
        self.stress_coupling = bool(stress_coupling)
        self.v_e = ufl.TestFunction(self.V_e)
        self.q = ufl.TestFunction(self.V_c)
        self.w = ufl.TestFunction(self.V_s)

        # ---- geometry ---------------------------------------------------------------------
        lo, hi = bounding_box(domain.mesh)
        self.projected_area = float((hi[0] - lo[0]) * (hi[1] - lo[1]))  # m², Lx·Ly
        self.volume_nvp = domain.volume("NVP")
        self.interface_area = self._integrate(self._const(1.0) * domain.dS())
        self.collector_area = self._integrate(self._const(1.0) * domain.ds("current_collector", "NVP"))
        if not self.collector_area > 0.0:
            raise ValueError("NVP does not touch the current collector: no electronic path to the cell")
        if not self.interface_area > 0.0:
            raise ValueError("the mesh has no NVP|NZSP interface (interface_nvp_nzsp)")
        self.mass_nvp = params.density * self.volume_nvp  # kg
        #: 1 C current of the RVE (A): NVP mass × theoretical capacity per hour.
        self.current_1c = self.mass_nvp * capacity_coulomb_per_kg(params.capacity) / SECONDS_PER_HOUR

        # ---- time-stepping and protocol constants ------------------------------------------
        self.dt_inv = self._const(1.0)  # 1/s
        self.flux_on = self._const(1.0)  # 0 freezes c (steady states at fixed filling)
        self.phi_ref = self._const(0.0)  # V, φ_s = phi_s + phi_ref
        self.cc_a = self._const(1.0)  # V_cc = a φ̄_s + b, per mode (-)
        self._cc_b = 0.0  # V
        # V_cc − φ_ref = a φ̄_dev + offset, offset = (a − 1) φ_ref + b: formed on the host so that
        # φ_ref (≈3.4 V) never enters j = g_c (V_cc − φ_s) as a sum that cancels in the kernel
        self.cc_offset = self._const(0.0)  # V
        self.phi_bar = self._const(0.0)  # V, mean of the φ_s deviation over the collector

        # ---- residuals -----------------------------------------------------------------------
        # Every parameter enters the forms as a Constant: another case (D, i0, a new RVE) reuses
        # the compiled forms.
        p = params
        ops = ufl_ops()
        const = self._const
        kinetics, ocv = _with_constants(p.kinetics, const), _with_constants(p.ocv, const)
        c_max, D = const(p.c_max), const(p.D)
        dS = domain.dS().reconstruct(metadata={"quadrature_degree": settings.quadrature_degree})
        self.interface_measure = dS
        ds_cc = domain.ds("current_collector", "NVP")
        dx_e, dx_s = domain.dx("NZSP"), domain.dx("NVP")
        y = self.c("+") / c_max
        self.eta = self.phi_s("+") + self.phi_ref - self.phi_e("-") - ocv.value(y, ops)
        if self.stress_coupling:
            w_eff = self.stress_work + self.stress_slope * (self.stress_c - self.c)
            self.eta = self.eta - w_eff("+") / FARADAY
        self.i = self.contact("+") * kinetics.current(self.eta, y, ops)  # A/m², > 0 anodic
        g_c = p.collector_conductance
        self.j_collector = const(g_c) * (self.cc_a * self.phi_bar + self.cc_offset - self.phi_s)
        F_e = transport.conduction(const(p.sigma_e), self.phi_e, self.v_e, dx_e) - self.i * self.v_e("-") * dS
        F_c = (FARADAY * transport.diffusion(self.c, self.c_old, self.dt_inv, D, self.q, dx_s, self.flux_on)
               + self.flux_on * self.i * self.q("+") * dS)
        if self.stress_coupling:
            rt = const(GAS_CONSTANT * p.kinetics.temperature)  # J/mol
            theta = transport.thermodynamic_factor(ocv, self.c / c_max, kinetics.temperature, ops)
            F_c = F_c + FARADAY * transport.stress_drift(self.c, w_eff, D, rt, theta, self.q, dx_s,
                                                         self.flux_on)
        F_s = (transport.conduction(const(p.sigma_s), self.phi_s, self.w, dx_s) + self.i * self.w("+") * dS
               - self.j_collector * self.w * ds_cc)
        residuals = [F_e, F_c, F_s]
        if extra is not None:
            residuals = [r if x is None else r + x for r, x in zip(residuals, extra(self), strict=True)]
        if not c_rate > 0.0:
            raise ValueError(f"c_rate must be > 0 1/h, got {c_rate!r}")
        self.scale = 1.0 / (c_rate * self.current_1c)
        scale = const(self.scale)
        residuals = [scale * r for r in residuals]
        self.bcs = [dolfinx.fem.dirichletbc(0.0, self._separator_dofs(), self.V_e)]
        if prefix is None:  # unique per problem: closing one must not remove another's options
            _COUNT[0] += 1
            prefix = ECHEM_PREFIX if _COUNT[0] == 1 else f"{ECHEM_PREFIX}{_COUNT[0]}_"
        self.prefix = prefix
        v_ref = thermal_voltage(p.kinetics.temperature)
        self._collector = collector = RankOne(
            u=None, alpha=lambda: self.scale * g_c * float(self.cc_a.value) / self.collector_area,
            update=self._phi_bar_from_iterate)
        self.newton = BlockedNewton(residuals, self.unknowns, FIELDS, settings, prefix,
                                    bcs=self.bcs, entity_maps=self.entity_maps,
                                    scales=(v_ref, p.c_max, v_ref),
                                    bounds=(None, (-C_MARGIN * p.c_max, (1.0 + C_MARGIN) * p.c_max), None),
                                    rank_one=collector)
        collector.u = self._collector_weights(ds_cc)

        # ---- diagnostics (compiled once) ----------------------------------------------------------
        form = lambda expr: dolfinx.fem.form(expr, entity_maps=self.entity_maps)  # noqa: E731
        self._f_interface = form(self.i * dS)
        self._f_active_area = form(self.contact("+") * dS)
        self._f_collector = form(self.j_collector * ds_cc)
        self._f_phi_cc = form(self.phi_s * ds_cc)
        dx_sub = ufl.dx(domain=self.nvp.mesh)
        self._f_sodium = dolfinx.fem.form(self.c * dx_sub)
        self._f_sodium_change = dolfinx.fem.form((self.c - self.c_old) * dx_sub)
        self.initialise()

    # ---- helpers ---------------------------------------------------------------------------
    def _const(self, value: float) -> dolfinx.fem.Constant:
        return dolfinx.fem.Constant(self.domain.mesh, dolfinx.default_scalar_type(value))

    def _integrate(self, expr: Any) -> float:
        form = dolfinx.fem.form(expr, entity_maps=getattr(self, "entity_maps", None))
        return self._sum(dolfinx.fem.assemble_scalar(form))

    def _sum(self, local: float) -> float:
        return float(self.domain.mesh.comm.allreduce(local, op=MPI.SUM))

    def _collector_weights(self, ds_cc: ufl.Measure) -> Any:
        """u = (∫ w_i dA over the collector contact) in the φ_s block of the blocked layout."""
        m = dolfinx.fem.assemble_vector(dolfinx.fem.form(self.w * ds_cc, entity_maps=self.entity_maps))
        m.scatter_reverse(dolfinx.la.InsertMode.add)
        u = self.newton.blocked_vector()
        iset = self.newton.index_sets[FIELDS.index("phi_s")]
        sub = u.getSubVector(iset)
        sub.array[:] = m.array[: self.V_s.dofmap.index_map.size_local]
        u.restoreSubVector(iset, sub)
        return u

    def _phi_bar_from_iterate(self, x: Any) -> None:
        """φ̄ of a Newton iterate x (blocked vector): the collector weights dotted with x."""
        u = self._collector.u
        assert u is not None, "collector weights not set"
        self._set_phi_bar(u.dot(x))

    def _set_phi_bar(self, integral: float) -> None:
        """φ̄ (deviation) from ∫ φ_s dA over the collector contact."""
        self.phi_bar.value = integral / self.collector_area

    def _separator_dofs(self) -> np.ndarray:
        """φ_e dofs on the separator face (through parent vertices -> NZSP submesh vertices)."""
        topo = self.domain.mesh.topology
        topo.create_connectivity(topo.dim - 1, 0)
        f2v = topo.connectivity(topo.dim - 1, 0)
        facets = self.domain.facets("separator")
        verts = np.unique(np.concatenate([f2v.links(f) for f in facets])) if facets.size else \
            np.zeros(0, np.int32)
        sub = np.asarray(self.nzsp.vertex_map.sub_topology_to_topology(verts.astype(np.int32), True))
        sub = sub[sub >= 0].astype(np.int32)
        self.nzsp.mesh.topology.create_connectivity(0, topo.dim)
        dofs = dolfinx.fem.locate_dofs_topological(self.V_e, 0, sub)
        if self._sum(float(dofs.size)) == 0:
            raise ValueError("no NZSP degrees of freedom on the separator face: no reference for φ_e")
        return dofs

    # ---- state ---------------------------------------------------------------------------------
    def initialise(self, y: float | None = None) -> None:
        """Uniform filling ``y`` (default: the initial one), φ_e = 0, φ_s = U(y) (open circuit)."""
        y = self.params.initial_y if y is None else y
        self.c.x.array[:] = y * self.params.c_max
        self.c_old.x.array[:] = self.c.x.array
        self.stress_c.x.array[:] = self.c.x.array
        self.phi_e.x.array[:] = 0.0
        self.phi_s.x.array[:] = 0.0
        self.phi_ref.value = float(self.params.ocv.value(y))
        self.update_collector_offset()

    def snapshot(self) -> list[Any]:
        """Copies of every unknown, of c_old, of the stress work and of φ_ref (to restore after a
        rejected step)."""
        return [*(u.x.array.copy() for u in self._state_functions()), float(self.phi_ref.value)]

    def _state_functions(self) -> tuple[dolfinx.fem.Function, ...]:
        return (*self.unknowns, self.c_old, self.stress_work, self.stress_c)

    def restore(self, snap: Sequence[Any]) -> None:
        for u, a in zip(self._state_functions(), snap[:-1], strict=True):
            u.x.array[:] = a
        self.phi_ref.value = snap[-1]
        self.update_collector_offset()

    def set_iterate(self, arrays: Sequence[np.ndarray], phi_ref: float) -> None:
        """Set the unknowns (field order, with ghosts) and φ_ref (V): the first Newton iterate."""
        for u, a in zip(self.unknowns, arrays, strict=True):
            u.x.array[:] = a
        self.phi_ref.value = phi_ref
        self.update_collector_offset()

    def recentre(self) -> None:
        """Move the mean of the φ_s deviation into φ_ref (φ_s itself is unchanged)."""
        n = self.V_s.dofmap.index_map.size_local
        comm = self.domain.mesh.comm
        total = comm.allreduce(float(np.sum(self.phi_s.x.array[:n])), op=MPI.SUM)
        shift = total / self.V_s.dofmap.index_map.size_global
        self.phi_s.x.array[:] -= shift
        self.phi_ref.value = float(self.phi_ref.value) + shift
        self.update_collector_offset()

    def phi_s_field(self) -> dolfinx.fem.Function:
        """The physical electronic potential φ_s (V) as a Function (updated on each call)."""
        self.phi_s_out.x.array[:] = self.phi_s.x.array + float(self.phi_ref.value)
        return self.phi_s_out


    def _set_collector(self, a: float, b: float) -> None:
        self.cc_a.value = a
        self._cc_b = b
        self.update_collector_offset()

    def update_collector_offset(self) -> None:
        """Recompute the collector constant after φ_ref or the mode changed."""
        a = float(self.cc_a.value)
        self.cc_offset.value = (a - 1.0) * float(self.phi_ref.value) + self._cc_b if a != 1.0 else self._cc_b

    def set_galvanostatic(self, current: float) -> None:
        """Collector current I (A, > 0 charge, 0 open circuit)."""
        self._set_collector(1.0, current / (self.params.collector_conductance * self.collector_area))

    def set_potentiostatic(self, voltage: float) -> None:
        """Hold the cell voltage at ``voltage`` (V) through the series resistance."""
        p = self.params
        gr = p.collector_conductance * self.collector_area * p.r_series / self.projected_area  # G R
        self._set_collector(gr / (gr + 1.0), voltage / (gr + 1.0))

    def set_contact(self, fraction: np.ndarray | Callable[[np.ndarray], np.ndarray]) -> None:
        """Set the interface contact fraction (1 − D, in [0, 1]) per NVP cell: an array over the
        cells of the NVP submesh (local, with ghosts), or a function of the points x (3, n) (m)
        evaluated at the cell midpoints."""
        if callable(fraction):
            self.contact.interpolate(fraction)
        else:
            self.contact.x.array[:] = fraction
        a = self.contact.x.array
        comm = self.domain.mesh.comm  # collective: a rank may hold no NVP cell
        finite = bool(np.all(np.isfinite(a)))
        lo = comm.allreduce(float(np.min(a, initial=np.inf)) if finite else -np.inf, op=MPI.MIN)
        hi = comm.allreduce(float(np.max(a, initial=-np.inf)), op=MPI.MAX)
        if not (lo >= 0.0 and hi <= 1.0):
            raise ValueError(f"contact fraction must lie in [0, 1], got {lo:.3g} ... {hi:.3g}")
        self.contact.x.scatter_forward()

    def active_interface_area(self) -> float:
        """∫ (1 − D) dA over the NVP|NZSP interface (m²): the area that passes current."""
        return self._sum(dolfinx.fem.assemble_scalar(self._f_active_area))

    def set_frozen_concentration(self, frozen: bool) -> None:
        """Freeze c (no diffusion, no interface flux): steady states at fixed filling. The c block
        of the Jacobian changes character (mass matrix ↔ diffusion): the preconditioner is rebuilt."""
        value = 0.0 if frozen else 1.0
        if float(self.flux_on.value) != value:
            self.flux_on.value = value
            self.newton.rebuild_preconditioner()

    def solve(self, dt: float) -> NewtonResult:
        """Advance c by ``dt`` (s) from c_old; on failure the previous iterate is restored."""
        if not dt > 0.0:
            raise ValueError(f"time step must be > 0 s, got {dt!r}")
        snap = self.snapshot()
        self.dt_inv.value = 1.0 / dt
        result = self.newton.solve()
        if not result.converged:
            self.restore(snap)
        return result

    def settle_potentials(self) -> NewtonResult:
        """Solve for the potentials at the present, frozen concentration: a consistent start
        after the applied current or voltage switched (the potentials jump, c does not). On
        failure the state is restored."""
        self.set_frozen_concentration(True)
        try:
            return self.solve(1.0)
        finally:
            self.set_frozen_concentration(False)

    def accept(self) -> None:
        """Make the converged state the old state of the next step."""
        self.c_old.x.array[:] = self.c.x.array
        self.recentre()

    # ---- diagnostics -----------------------------------------------------------------------------
    def state(self) -> StepState:
        """Global quantities of the current state (collective)."""
        p = self.params
        asm = dolfinx.fem.assemble_scalar
        self._set_phi_bar(self._sum(asm(self._f_phi_cc)))
        current = self._sum(asm(self._f_collector))
        phi_cc = float(self.phi_bar.value) + float(self.phi_ref.value)
        v_cc = float(self.cc_a.value) * phi_cc + self._cc_b
        sodium = self._sum(asm(self._f_sodium))
        n_owned = self.V_c.dofmap.index_map.size_local
        owned = self.c.x.array[:n_owned]
        comm = self.domain.mesh.comm
        c_min = comm.allreduce(float(owned.min()) if n_owned else np.inf, op=MPI.MIN)
        c_max = comm.allreduce(float(owned.max()) if n_owned else -np.inf, op=MPI.MAX)
        c_mean = sodium / self.volume_nvp
        return StepState(
            current=current, interface_current=self._sum(asm(self._f_interface)),
            voltage=v_cc + current * p.r_series / self.projected_area, phi_s_collector=phi_cc,
            collector_potential=v_cc,
            sodium=sodium, sodium_change=self._sum(asm(self._f_sodium_change)),
            c_mean=c_mean, c_min=c_min, c_max=c_max, soc=1.0 - c_mean / p.c_max,
        )

    def close(self) -> None:
        self.newton.close()
