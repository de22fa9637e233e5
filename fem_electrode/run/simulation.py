"""One run: case → mesh → domain → electrochemical problem → protocol → outputs.

The run folder (:mod:`fem_electrode.run.folder`) receives the resolved case, the time series
(a row per accepted step, flushed), ``metrics.json`` (atomically, at the end and on failure,
with ``status`` and ``reason``), ParaView fields at ``protocol.output_interval``, the log and
a checkpoint at ``output.checkpoint_interval`` of simulated time. A run resumes from
its checkpoint (``resume=True``); SIGTERM (Slurm's time limit, ``scancel``) makes the loop
write a checkpoint at the next step and return with status ``interrupted``.

Mechanics hook: with ``[mechanics] coupling = "one_way"`` the mechanics problem is solved
with the current NVP concentration at every field output; with ``"two_way"`` also inside
every time step, the stress entering μ and η (:class:`fem_electrode.problems.coupling.TwoWayCoupling`);
with ``"off"`` it is never built.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fem_electrode.config import Case, write_case
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.fem.newton import SolverStatistics
from fem_electrode.outputs import checkpoint, snapshots
from fem_electrode.outputs.cycles import fill_skipped, half_of, summarize, write_cycles, write_metrics
from fem_electrode.outputs.electrochemistry_fields import ElectrochemistryFieldWriter
from fem_electrode.outputs.mechanics_fields import MechanicsFieldWriter
from fem_electrode.outputs.stress import StressPost
from fem_electrode.outputs.stress_samples import write_stress_samples
from fem_electrode.outputs.timeseries import COLUMNS, TimeseriesWriter, read_rows, truncate_after
from fem_electrode.physics.constants import FARADAY, SECONDS_PER_HOUR, mah_per_g
from fem_electrode.physics.fatigue import ParisFatigue, cohesive_zone_length
from fem_electrode.physics.fracture import LayerThickness, plane_strain_modulus
from fem_electrode.problems.cohesive_mechanics import CohesiveMechanicsProblem
from fem_electrode.problems.coupling import TwoWayCoupling
from fem_electrode.problems.electrochemistry import FIELDS, ElectrochemistryProblem, StepState
from fem_electrode.problems.mechanics import MechanicsProblem
from fem_electrode.run import guard, setup
from fem_electrode.run.folder import RunFolder
from fem_electrode.run.meshes import check_case, load_domain
from fem_electrode.run.protocol import (
    MAX_CAPACITY_FACTOR,
    MAX_CUTOFF_RETRIES,
    ProtocolState,
    Segment,
    StepController,
    build_segments,
    secant_fraction,
)
from fem_electrode.run.stepping import BDF2_MAX_RATIO, ErrorController, LocalError, StateHistory
from fem_electrode.util.log import Progress, add_logfile, get_logger

log = get_logger("run")

#: A depleted half-cycle (``protocol.depletion_end``) ends at the first failed step worth less
#: than this fraction of the capacity (dt × C-rate / 1 h; 0.1 % = 0.12 mAh/g of NVP): the steps
#: that would follow add less than that and each costs a failed Newton solve.
DEPLETION_STEP_CAPACITY = 1e-3

#: A retried step that starts with every NVP node inside these fillings is counted apart
#: (``solver.rejected_steps.in_plateau``): there the solution is smooth, retries are a defect.
PLATEAU_Y = (0.05, 0.95)

#: Stop requests (SIGTERM) set this; the loop checks it collectively at each step.
_STOP: list[int] = []


def request_stop(signum: int = 0) -> None:
    """Ask a running loop to checkpoint and return at its next step (signal-handler safe)."""
    _STOP.append(signum)


@dataclass
class RunResult:
    """How a run ended: ``status`` is completed, failed or interrupted."""

    status: str
    reason: str
    out_dir: Path
    metrics: dict[str, Any] = field(default_factory=dict)


# ---- the run -----------------------------------------------------------------------------------------
class Simulation:
    """The time loop of one case on one domain."""

    def __init__(self, case: Case, domain: Domain, out_dir: str | Path, mesh_path: Path | None = None):
        self.case = case
        self.domain = domain
        self.comm = domain.mesh.comm
        self.out_dir = Path(out_dir)
        self.folder = RunFolder(self.out_dir)
        self.mesh_path = mesh_path
        self.params = setup.electro_params(case)
        self.problem = ElectrochemistryProblem(domain, self.params, setup.solver_settings(case),
                                               c_rate=case.protocol.c_rate,
                                               stress_coupling=case.mechanics.coupling == "two_way")
        self.coupling: TwoWayCoupling | None = None  # built with the mechanics in run()
        pr = case.protocol
        self.segments = build_segments(pr)
        #: "error": steps from a local error estimate (run.stepping); "newton": the Newton-count rule
        self.error_control = pr.time_stepping in ("error", "bdf2")
        #: "bdf2": second-order steps (run.stepping) from the fourth state of a segment on
        self.bdf2 = pr.time_stepping == "bdf2"
        #: the step being tried: (order, a0, a2) of its formula (order 1: backward Euler, a0 = 1, a2 = 0)
        self._formula: tuple[int, float, float] = (1, 1.0, 0.0)
        #: the sodium (as charge, C) that the last accepted step moved out of NVP: a BDF2 step's
        #: balance carries a2/a0 of it (run.stepping)
        self.last_moved = 0.0
        self.bdf2_steps = 0  # accepted BDF2 steps
        controller = ErrorController if self.error_control else StepController
        self.controller = controller(pr.dt_initial, pr.dt_min, pr.dt_max, pr.dt_growth, pr.dt_shrink)
        self.history: StateHistory | None = None
        if self.error_control:
            n_owned_c = self.problem.V_c.dofmap.index_map.size_local
            self.history = StateHistory(self.comm, FIELDS.index("c"), n_owned_c, self.params.c_max)
        self._history_restored = False  # a resumed run keeps the history of its checkpoint
        self._history_funcs: list[dolfinx.fem.Function] | None = None
        #: steps tried again: Newton failed, local error above tolerance, overshoot of a cut-off;
        #: "in_plateau": those of them that started with every NVP node between PLATEAU_Y
        self.rejected = {"newton": 0, "local_error": 0, "cutoff": 0, "in_plateau": 0}
        #: with the error control: the largest step (s) left in a segment whose NVP surface emptied
        #: (filled) and failed a step; None until then
        self.depletion_cap: float | None = None
        self.state = ProtocolState()
        self.stats = SolverStatistics()
        self.current_1c = self.problem.current_1c
        self.current = pr.c_rate * self.current_1c  # A, magnitude of the galvanostatic current
        self.half: tuple[int, str] | None = None  # (cycle, half-cycle) being counted
        self.q_half = 0.0  # C passed in the current half-cycle
        self.next_output = 0.0
        self.next_checkpoint = case.output.checkpoint_interval
        self.sodium0 = 0.0
        self.flux_integral = 0.0  # ∫ I_interface dt (C), summed as the time steps' formulas integrate it
        self.last: StepState | None = None
        self.mechanics: MechanicsProblem | None = None
        self.stress_post: StressPost | None = None
        self.layer: LayerThickness | None = None  # h of the thin-film indicator
        self.mechanics_metrics: dict[str, Any] | None = None
        #: cohesive interface: the state of its damage after the last update, the number of
        #: updates, and the NVP concentration (owned nodes) it was computed for
        self.damage: dict[str, Any] | None = None
        self.damage_updates = 0
        self._c_at_damage: np.ndarray | None = None
        #: fatigue (``mechanics.fatigue``): the law (None: off), the cycle jumps made (after which
        #: simulated cycle, how many skipped) and the full cycles simulated since the last jump
        self.fatigue: ParisFatigue | None = None
        self.jumps: list[dict[str, int]] = []
        self.cycles_since_jump = 0
        self._n_c_owned = self.problem.V_c.dofmap.index_map.size_local
        self._mech_strain = -1.0
        self.last_output_time: float | None = None
        #: half-cycles ended at the depletion limit (``protocol.depletion_end``): label, time, V
        self.depletion_ends: list[dict[str, Any]] = []
        self.wall0 = time.perf_counter()
        self.space = guard.SpaceGuard(self.out_dir, self.comm)

    # ---- paths ---------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.folder.checkpoint

    @property
    def rank0(self) -> bool:
        return self.comm.rank == 0

    @property
    def latest(self) -> StepState:
        """The last accepted state (there is one from the start of the loop on)."""
        assert self.last is not None, "no state yet: the run has not started"
        return self.last

    # ---- protocol application ---------------------------------------------------------------------
    def apply(self, seg: Segment) -> None:
        if seg.potentiostatic:
            assert seg.voltage is not None
            self.problem.set_potentiostatic(seg.voltage)
        else:
            self.problem.set_galvanostatic(seg.current_sign * self.current)

    @staticmethod
    def segment_label(seg: Segment) -> str:
        return f"{seg.half_cycle}_hold" if seg.potentiostatic else seg.kind

    def conservation(self, st: StepState, dt: float) -> tuple[float, float]:
        """Relative errors of charge (collector vs interface current) and sodium (∫ Δc dV vs
        −Δt ∫ i dA / F) of one step, relative to the run's current (rests carry none)."""
        ref = self.current
        charge = abs(st.current - st.interface_current) / max(abs(st.current), abs(st.interface_current), ref)
        moved = dt * st.interface_current / FARADAY  # mol that left NVP
        sodium = abs(st.sodium_change + moved) / max(abs(st.sodium_change), abs(moved), ref * dt / FARADAY)
        return charge, sodium

    def row(self, st: StepState, seg: Segment | None, dt: float, its: int,
            errors: tuple[float, float] | None) -> dict[str, Any]:
        cycle = seg.cycle if seg is not None else 1
        return {
            "time_s": self.state.time, "cycle": cycle,
            "segment": self.segment_label(seg) if seg is not None else "initial",
            "current_A": st.current, "current_density_A_per_m2": st.current / self.problem.projected_area,
            "voltage_V": st.voltage, "soc": st.soc,
            "capacity_mAh_per_g": mah_per_g(self.q_half, self.problem.mass_nvp),
            "c_mean_mol_per_m3": st.c_mean, "c_min_mol_per_m3": st.c_min, "c_max_mol_per_m3": st.c_max,
            "interface_current_A": st.interface_current, "dt_s": dt, "newton_iterations": its,
            "charge_rel_error": errors[0] if errors else "", "sodium_rel_error": errors[1] if errors else "",
            "local_error": "",
        }

    # ---- outputs -------------------------------------------------------------------------------------
    def write_fields(self) -> None:
        t = self.state.time
        self.last_output_time = t
        folder, comm = self.folder, self.comm
        self.space.check("fields")
        before = self.space.size([folder.fields, folder.concentration]) if self.rank0 else 0
        self.fields.write(t)
        if self.case.output.concentration_snapshots:
            guard.collectively(comm, "concentration snapshot", lambda: snapshots.write(
                folder.concentration, self.problem.c, t, 1.0 - self.latest.soc, comm))
        if self.mechanics is not None and self.stress_post is not None and self.layer is not None:
            if not isinstance(self.mechanics, CohesiveMechanicsProblem):  # else solved with the step
                self.mechanics.solve(self.problem.c)
            self.mech_writer.write(t)
            strain = abs(self.case.mechanics.y_ref - (1.0 - self.latest.soc))
            if strain >= self._mech_strain:  # keep the most strained state's metrics
                self._mech_strain = strain
                metrics = self.stress_post.metrics(setup.strengths(self.case), self.layer)
                self.mechanics_metrics = {**metrics, "time_s": t, "y_mean": 1.0 - self.latest.soc}
                # The report's stress distributions, of the same (most strained) state.
                guard.collectively(comm, "stress samples", lambda: write_stress_samples(
                    self.stress_post, folder.stress_samples, time=t, y_mean=1.0 - self.latest.soc))
        if self.rank0:
            self.space.wrote("fields", self.space.size([folder.fields, folder.concentration]) - before)

    def update_damage(self) -> None:
        """Cohesive interface: solve the mechanics for the accepted concentration (a load step:
        the damage grows and is committed), then let the contact fraction 1 − D of each NVP cell
        scale its interface current in the following steps."""
        mech = self.mechanics
        assert isinstance(mech, CohesiveMechanicsProblem)
        mech.solve(self.problem.c)
        self.damage_updates += 1
        if self.fatigue is not None:
            mech.track_cycle()
        self._c_at_damage = self.problem.c.x.array[: self._n_c_owned].copy()
        mech.contact_per_cell(self.problem.contact)
        state = mech.interface_state()
        self.damage = state.as_metrics()
        self.damage.update(secant_iterations_total=mech.total_iterations, updates=self.damage_updates,
                           unconverged_updates=mech.unconverged_solves,
                           factorizations=mech.factorizations, cg_iterations=mech.linear_iterations)

    def damage_due(self, segment_end: bool = False) -> bool:
        """Cohesive interface: is a mechanics update due? At the end of a segment, or once some NVP
        node's filling moved by ``mechanics.damage_update_dy`` since the last update (all ranks)."""
        if not isinstance(self.mechanics, CohesiveMechanicsProblem):
            return False
        if segment_end or self._c_at_damage is None:
            return True
        moved = self.problem.c.x.array[: self._n_c_owned] - self._c_at_damage
        local = float(np.max(np.abs(moved), initial=0.0)) / self.params.c_max
        return self.comm.allreduce(local, op=MPI.MAX) >= self.case.mechanics.damage_update_dy

    def depleted(self, seg: Segment) -> bool:
        """True when the last accepted state of galvanostatic ``seg`` has an NVP node within
        ``protocol.depletion_end`` × c_max of empty (charge) or full (discharge)."""
        frac, st = self.case.protocol.depletion_end, self.last
        if not seg.galvanostatic_to_cutoff or frac <= 0.0 or st is None:
            return False
        c_max = self.params.c_max
        return st.c_min <= frac * c_max if seg.current_sign > 0 else st.c_max >= (1.0 - frac) * c_max

    def end_at_depletion(self, seg: Segment, dt: float) -> None:
        """End ``seg`` at the last accepted state: steps no longer converge as the NVP surface
        empties (fills) and P1 undershoots below 0 (above c_max) there."""
        st, last = self.state, self.latest
        event = {"segment": seg.label, "time_s": st.time, "voltage_V": last.voltage, "failed_dt_s": dt,
                 "cutoff_V": seg.cutoff, "c_min_mol_per_m3": last.c_min, "c_max_mol_per_m3": last.c_max,
                 "capacity_mAh_per_g": mah_per_g(self.q_half, self.problem.mass_nvp)}
        self.depletion_ends.append(event)
        if self.damage_due(segment_end=True):  # the damage of the state the half-cycle ends in
            self.update_damage()
        log.warning("t = %.6g s: %s ends at %.4f V before its cut-off %.4g V: the NVP surface is %s "
                    "(c %s mol/m3) and a step of %.3g s did not converge; going on", st.time,
                    seg.label, last.voltage, seg.cutoff, "empty" if seg.current_sign > 0 else "full",
                    f"min {last.c_min:.4g}" if seg.current_sign > 0 else f"max {last.c_max:.4g}", dt)
        self.next_segment()

    def next_segment(self) -> None:
        """Go on with the next protocol segment; the current switches, so dt starts afresh."""
        cycle = self.segments[self.state.segment].cycle
        self.state.advance_segment()
        self.controller.restart(self.case.protocol.dt_initial)
        self.depletion_cap = None
        if self.fatigue is not None and (self.state.segment >= len(self.segments)
                                         or self.segments[self.state.segment].cycle != cycle):
            self.end_cycle(cycle)

    def end_cycle(self, cycle: int) -> None:
        """Fatigue: at the end of simulated cycle ``cycle``, grow each facet's damage by one cycle of
        the load it saw; with ``mechanics.cycle_jump``, then extrapolate over the cycles that keep the
        largest increment within ``cycle_jump_max_dD`` and skip them (the last cycle is always
        simulated); then re-solve the mechanics with the new damage."""
        mech, mc = self.mechanics, self.case.mechanics
        assert isinstance(mech, CohesiveMechanicsProblem) and self.fatigue is not None
        slope = mech.rate_slope(self.fatigue)  # before the increment: k of this cycle's damage
        grown = mech.apply_fatigue(self.fatigue, 1.0)
        self.cycles_since_jump += 1
        left = self.segments[-1].cycle - cycle - 1  # cycles that may be skipped (keep the last one)
        skip = 0
        if mc.cycle_jump and self.cycles_since_jump >= mc.cycle_jump_min_cycles and left >= 1:
            n = mech.cycles_to_increment(self.fatigue, mc.cycle_jump_max_dD, slope)
            skip = int(min(np.floor(n), left)) if np.isfinite(n) else left
            if skip >= 1:
                jumped = mech.apply_fatigue(self.fatigue, float(skip), slope)
                st = self.state
                while st.segment < len(self.segments) and self.segments[st.segment].cycle <= cycle + skip:
                    st.segment += 1
                self.jumps.append({"after_cycle": cycle, "skipped": skip})
                self.cycles_since_jump = 0
                log.info("cycle jump: cycles %d-%d extrapolated (largest damage increment %.3g)", cycle + 1,
                         cycle + skip, jumped)
        log.debug("cycle %d: fatigue grew the damage by up to %.3g", cycle, grown)
        mech.end_fatigue_cycle(consecutive=skip < 1, fatigue=self.fatigue)
        self.update_damage()

    def save_checkpoint(self) -> None:
        state = {
            "protocol": self.state.as_dict(), "controller": self.controller.as_dict(),
            "half": list(self.half) if self.half else None, "q_half": self.q_half,
            "next_output": self.next_output, "next_checkpoint": self.next_checkpoint,
            "sodium0": self.sodium0, "flux_integral": self.flux_integral, "last_moved": self.last_moved,
            "bdf2_steps": self.bdf2_steps,
            "stats": vars(self.stats), "mechanics_metrics": self.mechanics_metrics,
            "mech_strain": self._mech_strain, "phi_ref": float(self.problem.phi_ref.value),
            "depletion_ends": self.depletion_ends, "rejected": self.rejected,
            "depletion_cap": self.depletion_cap,
        }
        if self.fatigue is not None:
            state["fatigue"] = {"jumps": self.jumps, "cycles_since_jump": self.cycles_since_jump}
        p = self.problem  # the φ_s deviation and φ_ref as they are: a resumed run is bit-identical
        history: list[dolfinx.fem.Function] = []
        if self.history is not None:  # the predictor's states too
            funcs = self.history_functions()
            for k, saved in enumerate(self.history.states):
                for f, a in zip(funcs[k * len(FIELDS): (k + 1) * len(FIELDS)], saved.arrays, strict=True):
                    f.x.array[:] = a
                    history.append(f)
            state["history"] = [{"phi_ref": h.phi_ref, "voltage": h.voltage, "dt": h.dt}
                                for h in self.history.states]
        self.space.check("checkpoint")
        if isinstance(self.mechanics, CohesiveMechanicsProblem):
            history += [self.mechanics.damage, self.mechanics.closed_state]
            if self.fatigue is not None:
                history += self.fatigue_functions()
        guard.collectively(self.comm, "checkpoint", lambda: checkpoint.write(
            self.checkpoint_path, [p.c, p.phi_e, p.phi_s, *history], state, self.comm))
        if self.rank0:
            self.space.wrote("checkpoint", self.space.size([self.checkpoint_path]))
        log.debug("checkpoint at t = %.6g s", self.state.time)

    def fatigue_functions(self) -> list[dolfinx.fem.Function]:
        """The per-facet extremes of the cycle under way (fatigue), for a checkpoint."""
        mech = self.mechanics
        assert isinstance(mech, CohesiveMechanicsProblem)
        return [mech.cycle_peak_n, mech.cycle_peak_s, mech.cycle_low, mech.cycle_rate_prev]

    def history_functions(self) -> list[dolfinx.fem.Function]:
        """Functions that carry the predictor's states through a checkpoint (per state, the
        unknowns in field order)."""
        if self._history_funcs is None:
            self._history_funcs = [dolfinx.fem.Function(u.function_space, name=f"history{k}_{name}")
                                   for k in range(StateHistory.DEPTH)
                                   for name, u in zip(FIELDS, self.problem.unknowns, strict=True)]
        return self._history_funcs

    def load_checkpoint(self) -> None:
        p = self.problem
        optional = self.history_functions() if self.history is not None else ()
        state = checkpoint.read(self.checkpoint_path, [p.c, p.phi_e, p.phi_s], self.comm, optional=optional)
        p.phi_ref.value = state["phi_ref"]
        p.update_collector_offset()
        p.c_old.x.array[:] = p.c.x.array
        self.state = ProtocolState(**state["protocol"])
        self.controller = type(self.controller)(**state["controller"])
        self.rejected = dict(state.get("rejected", self.rejected))
        self.depletion_cap = state.get("depletion_cap")
        if self.history is not None and state.get("history"):
            funcs = self.history_functions()
            self.history.clear()
            for k, meta in enumerate(state["history"]):
                self.history.push([f.x.array for f in funcs[k * len(FIELDS): (k + 1) * len(FIELDS)]],
                                  meta["phi_ref"],
                                  meta["voltage"], meta["dt"])
            self._history_restored = True
        self.half = tuple(state["half"]) if state["half"] else None
        self.q_half = state["q_half"]
        self.next_output, self.next_checkpoint = state["next_output"], state["next_checkpoint"]
        self.sodium0, self.flux_integral = state["sodium0"], state["flux_integral"]
        self.last_moved = float(state.get("last_moved", 0.0))
        self.bdf2_steps = int(state.get("bdf2_steps", 0))
        self.stats = SolverStatistics(**state["stats"])
        self.mechanics_metrics = state["mechanics_metrics"]
        self._mech_strain = state["mech_strain"]
        self.depletion_ends = list(state.get("depletion_ends", []))
        fatigue = state.get("fatigue") or {}
        self.jumps = [dict(j) for j in fatigue.get("jumps", [])]
        self.cycles_since_jump = int(fatigue.get("cycles_since_jump", 0))
        log.info("resumed from %s at t = %.6g s (%s)", self.checkpoint_path, self.state.time,
                 self.segments[min(self.state.segment, len(self.segments) - 1)].label)

    def metrics(self, status: str, reason: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        p = self.problem
        out: dict[str, Any] = {"status": status, "reason": reason}
        out.update(summarize(rows, p.mass_nvp))
        final = self.last
        if final is not None:
            moved = self.flux_integral / FARADAY
            change = final.sodium - self.sodium0
            scale = max(abs(change), abs(moved))
            out["conservation"]["sodium_cumulative"] = abs(change + moved) / scale if scale > 0.0 else 0.0
        out["depletion_ends"] = self.depletion_ends
        out["time_s"] = self.state.time
        out["steps"] = self.state.steps
        out["solver"] = {**self.stats.as_dict(), "linear": p.settings.linear,
                         "time_stepping": self.case.protocol.time_stepping, "bdf2_steps": self.bdf2_steps,
                         "rejected_steps": dict(self.rejected),
                         "wall_time_s": time.perf_counter() - self.wall0,
                         "dofs": {name: u.function_space.dofmap.index_map.size_global
                                  for name, u in zip(("phi_e", "c", "phi_s"), p.unknowns, strict=True)},
                         "ranks": self.comm.size}
        if self.coupling is not None:
            out["solver"]["coupling"] = {"mode": "two_way", "tolerance": self.coupling.tolerance,
                                         **self.coupling.stats.as_dict()}
        out["cell"] = {"mass_nvp_kg": p.mass_nvp, "volume_nvp_m3": p.volume_nvp,
                       "interface_area_m2": p.interface_area, "collector_area_nvp_m2": p.collector_area,
                       "projected_area_m2": p.projected_area, "current_1C_A": self.current_1c,
                       "series_resistance_ohm_m2": self.params.r_series,
                       "mesh": str(self.mesh_path) if self.mesh_path else None}
        if self.mechanics is not None:
            out["cell"]["nvp_residual_strain"] = self.mechanics.params.residual_strain
        if self.mechanics_metrics is not None:
            out["mechanics"] = self.mechanics_metrics
        jumping = self.fatigue is not None and self.case.mechanics.cycle_jump
        if jumping:
            out["cycles"] = fill_skipped(out["cycles"], self.jumps)
        if self.damage is not None:
            extra = ("extrapolated",) if jumping else ()
            out["interface_damage"] = {**self.damage, "per_cycle": [
                {k: c.get(k) for k in ("cycle", "capacity_retention", "debonded_fraction",
                                       "active_interface_fraction", *extra)} for c in out["cycles"]]}
            if self.fatigue is not None:
                out["interface_damage"].update(
                    cycle_jumps=len(self.jumps), cycles_extrapolated=sum(j["skipped"] for j in self.jumps),
                    jumps=self.jumps)
        return out

    # ---- loop ------------------------------------------------------------------------------------------
    def run(self, resumed: bool = False, handle_sigterm: bool = False) -> RunResult:
        """Run the protocol in the (claimed, :func:`fem_electrode.run.guard.claim`) run folder,
        from its checkpoint when ``resumed``. ``handle_sigterm``: SIGTERM asks for a checkpoint
        and a clean return (installed here, after meshing: gmsh resets signal handlers)."""
        if handle_sigterm:
            previous = signal.signal(signal.SIGTERM, lambda signum, frame: request_stop(signum))
            try:
                return self.run(resumed)
            finally:
                signal.signal(signal.SIGTERM, previous)
        case, folder = self.case, self.folder
        guard.collectively(self.comm, "resolved case", lambda: write_case(case, folder.case) if self.rank0
                           else None)
        handler = add_logfile(folder.log) if self.rank0 else None
        status, reason = "failed", "unexpected error"
        collective = True  # False: an exception some ranks may not share (no collective clean-up)
        try:
            status, reason = self._start_and_loop(resumed)
        except (guard.DiskFullError, guard.WriteError) as exc:  # collective: every rank is here
            status, reason = "failed", str(exc)
            log.error("run stopped: %s", reason)
        except Exception as exc:  # the command line reports it (once, on every rank)
            collective = False
            reason = f"{type(exc).__name__}: {exc}"
            log.debug("run failed: %s", reason)
            raise
        finally:
            data = {}
            if status != "interrupted" and self.rank0:
                try:
                    data = self.metrics(status, reason, read_rows(folder.timeseries))
                    write_metrics(folder.metrics, data)
                    write_cycles(folder.cycles, data.get("cycles", []))
                except OSError as exc:  # the disk may still be full: the time series has every step
                    log.error("metrics.json not written (%s); the time series holds every accepted step",
                              exc.strerror or exc)
            if collective:  # freeing PETSc objects may communicate: not while another rank is elsewhere
                self.close()
            if handler is not None:
                get_logger().removeHandler(handler)
                handler.close()
        data = self.comm.bcast(data, root=0)
        return RunResult(status, reason, self.out_dir, data)

    def _start_and_loop(self, resumed: bool) -> tuple[str, str]:
        """Set up the outputs and the mechanics, restore or write the initial state, run the loop."""
        case, p, folder = self.case, self.problem, self.folder
        if resumed:
            self.load_checkpoint()
            rows = truncate_after(folder.timeseries, self.state.time) if self.rank0 else []
            if self.rank0:
                snapshots.truncate_after(folder.concentration, self.state.time)
            if self.state.segment < len(self.segments):  # the state as it was: with its current
                self.apply(self.segments[self.state.segment])
            self.last = p.state()
        else:
            rows = []
        self.series = TimeseriesWriter(folder.timeseries, self.comm, COLUMNS, append=resumed)
        resume_time = self.state.time if resumed else None
        self.fields = ElectrochemistryFieldWriter(p, folder.fields, case.output.fields, append=resumed,
                                                  resume_time=resume_time)
        if case.mechanics.coupling in ("one_way", "two_way"):
            self.mechanics = setup.mechanics_problem(case, self.domain)
            self.stress_post = StressPost(self.mechanics)
            self.layer = setup.layer_thickness(case, self.domain, self.mesh_path)
            self.mech_writer = MechanicsFieldWriter(self.stress_post, folder.fields, append=resumed,
                                                    resume_time=resume_time)
        if isinstance(self.mechanics, CohesiveMechanicsProblem):
            if case.mechanics.fatigue == "paris":
                self.fatigue = fatigue_law(case, self.mechanics)
            if resumed:  # the damage history of the checkpoint (absent: written without damage)
                extra = self.fatigue_functions() if self.fatigue is not None else []
                checkpoint.read(self.checkpoint_path, [], self.comm,
                                optional=[self.mechanics.damage, self.mechanics.closed_state, *extra])
            self.update_damage()  # and the contact it leaves
        if case.mechanics.coupling == "two_way":
            mc = case.mechanics
            assert self.mechanics is not None
            self.coupling = TwoWayCoupling(p, self.mechanics, mc.coupling_tolerance,
                                           mc.coupling_max_iterations, mc.coupling_stabilization)
            self.coupling.refresh()  # the stress of the initial (or resumed) concentration
        if not resumed:
            self.last = p.state()
            self.sodium0 = self.latest.sodium
            first = self.row(self.last, None, 0.0, 0, None)
            guard.collectively(self.comm, "time series", lambda: self.series.write(first))
            rows.append(first)
            self.write_fields()
            self.next_output = case.protocol.output_interval
        return self._loop(rows)

    def _loop(self, rows: list[dict[str, Any]]) -> tuple[str, str]:
        p, pr, st = self.problem, self.case.protocol, self.state
        tol = pr.cutoff_tolerance
        total = sum(s.duration / (MAX_CAPACITY_FACTOR if s.galvanostatic_to_cutoff else 1.0)
                    for s in self.segments)
        n_cycles = self.segments[-1].cycle if self.segments else 0

        def describe() -> str:
            seg = self.segments[min(st.segment, len(self.segments) - 1)]
            return (f"cycle {seg.cycle}/{n_cycles} {self.segment_label(seg)}  t {st.time / 3600:.3f} h  "
                    f"V {self.latest.voltage:.4f} V  SOC {self.latest.soc:.3f}  steps {st.steps}")

        progress = Progress(total, "run", describe)
        applied = -1
        try:
            while st.segment < len(self.segments):
                if self.comm.allreduce(len(_STOP), op=MPI.MAX):
                    _STOP.clear()
                    self.save_checkpoint()
                    log.warning("stop requested: checkpoint written at t = %.6g s", st.time)
                    return "interrupted", "stop requested (signal)"
                seg = self.segments[st.segment]
                if applied != st.segment:
                    self.apply(seg)
                    applied = st.segment
                    log.info("t = %.6g s: %s", st.time, seg.label)
                    if self.history is not None and not self._history_restored:
                        settled = p.settle_potentials()  # the potentials jump with the switch
                        self.stats.record(settled)
                        log.debug("  potentials settled: %s in %d its", settled.reason, settled.iterations)
                        self.history.clear()  # the current switched: x' jumps, V belongs to the old one
                        self.history.push(self.unknown_arrays(), float(p.phi_ref.value), None, None)
                    self._history_restored = False
                dt = self.propose(seg)
                snap = p.snapshot()
                if self.history is not None and self.history.can_start_newton:
                    p.set_iterate(*self.history.predicted(dt))  # Newton starts from the predictor
                dt_solve = self.set_formula(dt)
                log.debug("t = %.9g s: try dt = %.9g s (order %d)", st.time, dt, self._formula[0])
                result = self.coupling.solve(dt_solve) if self.coupling is not None else p.solve(dt_solve)
                self.stats.record(result)
                if not result.converged:
                    p.restore(snap)  # a failed step is never accepted
                    self.count_retry("newton")
                    log.warning("t = %.6g s, %s: Newton failed (%s, %d its) with dt = %.4g s; retrying "
                                "with a smaller step", st.time, seg.label, result.reason, result.iterations,
                                dt)
                    depleted = self.depleted(seg)
                    # a depleted half-cycle is not retried with steps too small to add capacity
                    step_capacity = dt * pr.c_rate / SECONDS_PER_HOUR  # fraction of the capacity
                    worth_retrying = not depleted or step_capacity >= DEPLETION_STEP_CAPACITY
                    if worth_retrying and self.controller.failed(dt):
                        if depleted and self.error_control:
                            # no ladder of halvings at an emptied (filled) surface: retries with the
                            # largest step that would not be retried again, for the rest of the segment
                            last = (1.0 - 1e-6) * DEPLETION_STEP_CAPACITY * SECONDS_PER_HOUR / pr.c_rate
                            self.depletion_cap = max(last, self.controller.dt_min)  # applied in propose()
                        continue
                    if depleted:
                        self.end_at_depletion(seg, dt)
                        continue
                    reason = (f"Newton failed at t = {st.time:.6g} s in {seg.label} with dt = {dt:.4g} s "
                              f"({result.reason}); the next step would be below dt_min = "
                              f"{self.controller.dt_min:g} s")
                    log.error("run stopped: %s", reason)
                    return "failed", reason
                new = p.state()
                log.debug("  %s in %d its (%d Krylov): V = %.9g V", result.reason, result.iterations,
                          result.linear_iterations, new.voltage)
                error = self.judge_error(dt, new)
                if error is not None and not error[1]:
                    p.restore(snap)
                    self.count_retry("local_error")
                    log.debug("  local error %.3g x tolerance: retrying with dt = %.4g s", error[0].value,
                              self.controller.dt)
                    continue
                end_segment = False
                if seg.crossed(new.voltage):
                    before = self.latest.voltage
                    over = abs(new.voltage - seg.cutoff_voltage)
                    if (over > tol and st.cutoff_retries < MAX_CUTOFF_RETRIES and not seg.crossed(before)
                            and self.controller.land_on_cutoff(dt, secant_fraction(before, new.voltage,
                                                                                   seg.cutoff_voltage))):
                        p.restore(snap)
                        st.cutoff_retries += 1
                        self.count_retry("cutoff")
                        continue
                    end_segment = True
                self.accept(seg, new, dt, result.iterations, rows, error[0] if error else None,
                            end_segment=end_segment)
                progress.update(st.time)
                if end_segment or st.segment_time_done(seg):
                    if seg.galvanostatic_to_cutoff and not end_segment:
                        log.warning("%s: cut-off %.4g V not reached after %.4g h; going on", seg.label,
                                    seg.cutoff, seg.duration / 3600)
                    log.info("t = %.6g s: %s ends at %.4f V, %.4g mAh/g", st.time, seg.label, new.voltage,
                             mah_per_g(self.q_half, p.mass_nvp))
                    self.next_segment()
        finally:
            progress.close()
        if self.last_output_time != st.time:
            self.write_fields()
        return "completed", "protocol finished"

    @property
    def tol_time(self) -> float:
        """The time (s) by which a steep voltage curve may shift per step (``tol_capacity``)."""
        pr = self.case.protocol
        return pr.tol_capacity * SECONDS_PER_HOUR / pr.c_rate

    def count_retry(self, kind: str) -> None:
        """Count a step tried again, and apart when it started inside the plateau."""
        self.rejected[kind] += 1
        last, c_max = self.latest, self.params.c_max
        if PLATEAU_Y[0] * c_max < last.c_min and last.c_max < PLATEAU_Y[1] * c_max:
            self.rejected["in_plateau"] += 1
            log.info("t = %.6g s: a %s retry inside the plateau (y %.3f ... %.3f)", self.state.time,
                     kind.replace("_", " "), last.c_min / c_max, last.c_max / c_max)

    def unknown_arrays(self) -> list[Any]:
        """The problem's unknowns (field order, with ghosts), as they are."""
        return [u.x.array for u in self.problem.unknowns]

    def propose(self, seg: Segment) -> float:
        """The step to try in ``seg``: the controller's, cut at the segment's end and, with the
        error control, aimed at the cut-off the voltage is heading for."""
        remaining = self.state.remaining(seg)
        if isinstance(self.controller, ErrorController):
            assert self.history is not None
            to_event = (self.history.time_to_cutoff(seg.cutoff_voltage) if seg.galvanostatic_to_cutoff
                        else None)
            if self.depletion_cap is not None:
                self.controller.dt = min(self.controller.dt, self.depletion_cap)
            last = self.history.states[-1].dt if self.history.states else None
            if self.bdf2 and self.history.quadratic and last is not None:
                # the error law of a BDF2 step proposed it: stay within BDF2's step ratio
                self.controller.dt = min(self.controller.dt, BDF2_MAX_RATIO * last)
            return self.controller.propose(remaining, to_event)
        return self.controller.propose(remaining)

    def set_formula(self, dt: float) -> float:
        """Choose the formula of a step of ``dt`` (BDF2 where the history allows it, else backward
        Euler) and set the problem's old state for it; returns the backward-Euler step (s) the
        problem is solved with (dt/a0 for BDF2). The caller's snapshot restores c_old."""
        self._formula = (1, 1.0, 0.0)
        if not self.bdf2 or self.history is None or not self.history.bdf2_ready(dt):
            return dt
        c_hat, a0, a2 = self.history.bdf2_old_state(dt)
        self.problem.c_old.x.array[:] = c_hat
        self._formula = (2, a0, a2)
        return dt / a0

    def judge_error(self, dt: float, new: StepState) -> tuple[LocalError, bool] | None:
        """With the error control: the local error of the converged step and whether to accept
        it (the controller then holds the next step). None without error control."""
        if not isinstance(self.controller, ErrorController):
            return None
        assert self.history is not None
        pr = self.case.protocol
        own = self.controller.dt
        order = self._formula[0]
        error = self.history.local_error(dt, self.problem.c.x.array, new.voltage, pr.tol_concentration,
                                         pr.tol_voltage, self.tol_time, order=order)
        return error, self.controller.judge(dt, error, cut_short=dt < own * (1.0 - 1e-12), order=order)

    def accept(self, seg: Segment, new: StepState, dt: float, its: int, rows: list[dict[str, Any]],
               error: LocalError | None = None, end_segment: bool = False) -> None:
        p, st = self.problem, self.state
        _, a0, a2 = self._formula
        errors = self.conservation(new, dt / a0)  # the step's own balance: ∫ (c − c_old) vs (dt/a0) I
        p.accept()
        if self.history is not None:
            self.history.push(self.unknown_arrays(), float(p.phi_ref.value), new.voltage, dt)
        st.time += dt
        st.steps += 1
        half = half_of(self.segment_label(seg))
        if half is not None and (seg.cycle, half) != self.half:
            self.half, self.q_half = (seg.cycle, half), 0.0
        if half is not None:
            self.q_half += (1.0 if half == "charge" else -1.0) * new.current * dt
        # BDF2: S_{n+1} − S_n = (a2/a0)(S_n − S_{n−1}) − (dt/a0) I/F, so the moved charge is summed
        # with the same weights and the cumulative balance closes to round-off
        moved = new.interface_current * dt / a0 + a2 / a0 * self.last_moved
        self.flux_integral += moved
        self.last_moved = moved
        self.bdf2_steps += self._formula[0] == 2
        if self.damage_due(segment_end=end_segment or st.segment_time_done(seg)):
            self.update_damage()
        if not self.error_control:
            # the step controller judges Newton difficulty: per Newton solve, not summed over the
            # staggered iterations of a two-way step
            self.controller.succeeded(dt, self.coupling.step_newton_max if self.coupling is not None else its)
        self.last = new
        row = self.row(new, seg, dt, its, errors)
        row["local_error"] = error.value if error is not None and error.known else ""
        if self.damage is not None:
            row["debonded_fraction"] = self.damage["debonded_fraction"]
            row["active_interface_fraction"] = self.damage["active_interface_fraction"]
        guard.collectively(self.comm, "time series", lambda: self.series.write(row))
        rows.append(row)
        if st.time >= self.next_output * (1.0 - 1e-12):
            self.write_fields()
            while self.next_output <= st.time * (1.0 + 1e-12):
                self.next_output += self.case.protocol.output_interval
        if st.time >= self.next_checkpoint * (1.0 - 1e-12):
            self.save_checkpoint()
            while self.next_checkpoint <= st.time * (1.0 + 1e-12):
                self.next_checkpoint += self.case.output.checkpoint_interval

    def close(self) -> None:
        for name in ("series", "fields", "mech_writer"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.close()
        if self.mechanics is not None:
            self.mechanics.destroy()
        self.problem.close()


def fatigue_law(case: Case, mechanics: CohesiveMechanicsProblem) -> ParisFatigue:
    """The interface's Paris law of ``[materials]``; l_cz from the NVP plane-strain modulus and the
    mode-I toughness and strength of the cohesive law."""
    m, law = case.materials, mechanics.law
    zone = cohesive_zone_length(plane_strain_modulus(m.E_nvp, m.nu_nvp), law.toughness_normal,
                                law.strength_normal)
    return ParisFatigue(m.fatigue_paris_C, m.fatigue_paris_m, m.fatigue_threshold_ratio, zone)


def run(case: Case, out_dir: str | Path, *, mesh: str | Path | None = None, domain: Domain | None = None,
        comm: MPI.Comm = MPI.COMM_WORLD, resume: bool = False, handle_sigterm: bool = False,
        case_file: Path | None = None, overwrite: bool = False, force_mesh: bool = False) -> RunResult:
    """Run ``case`` into ``out_dir``; the domain is ``domain``, or read from ``mesh``, or built.
    ``handle_sigterm``: SIGTERM writes a checkpoint and returns status ``interrupted``;
    ``case_file``, ``overwrite``: see :func:`fem_electrode.run.guard.claim`; ``force_mesh``
    accepts a ``mesh`` built for another case."""
    check_case(case)
    held, resumed = guard.claim(RunFolder(Path(out_dir)), case, comm, case_file=case_file, resume=resume,
                                overwrite=overwrite)  # before meshing: a refusal costs nothing
    try:
        mesh_path = None
        if domain is None:
            domain, mesh_path = load_domain(case, comm, mesh, force_mesh=force_mesh)
        sim = Simulation(case, domain, out_dir, mesh_path)
        return sim.run(resumed=resumed, handle_sigterm=handle_sigterm)
    finally:
        held.release()


