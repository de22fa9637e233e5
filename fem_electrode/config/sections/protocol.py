"""[protocol]: cycling protocol and time stepping."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fem_electrode.config.spec import Section, key


def _checks(v: Mapping[str, Any]) -> list[str]:
    problems = []
    if v["cutoff_low"] >= v["cutoff_high"]:
        problems.append(f"cutoff_low = {v['cutoff_low']} V must be below cutoff_high = {v['cutoff_high']} V")
    if not v["dt_min"] <= v["dt_initial"] <= v["dt_max"]:
        problems.append(
            f"need dt_min <= dt_initial <= dt_max, got {v['dt_min']} / {v['dt_initial']} / {v['dt_max']} s"
        )
    return problems


@dataclass(frozen=True)
class ProtocolConfig:
    """Galvanostatic cycling with cut-offs, optional CV holds and rests; adaptive dt."""

    c_rate: float = key(
        0.1, "1/h", "C-rate; 1 C from the NVP mass in the RVE", lo=0.0, hi=100.0, lo_open=True
    )
    start: str = key("charge", "-", "first half-cycle", choices=("charge", "discharge"))
    cycles: int = key(1, "-", "number of charge + discharge cycles", lo=1, hi=10000)
    cutoff_low: float = key(2.8, "V", "discharge cut-off voltage", lo=0.0, hi=10.0)
    cutoff_high: float = key(3.8, "V", "charge cut-off voltage", lo=0.0, hi=10.0)
    hold_minutes: float = key(0.0, "min", "constant-voltage hold at each cut-off (paper: 20 min)", lo=0.0)
    rest_minutes: float = key(0.0, "min", "open-circuit rest after each half-cycle", lo=0.0)
    time_stepping: str = key(
        "error",
        "-",
        "step-size control: 'error', backward Euler with a local error estimate of every step "
        "(tol_voltage, tol_concentration) and cut-offs located as events; 'bdf2', the same control "
        "with second-order BDF2 steps from the fourth state of each segment on (error ∝ dt³; closer "
        "to a reference in voltage, not faster on the default cycle: docs/electrochemistry.md); "
        "'newton', the Newton-count rule (grow by dt_growth after an easy Newton solve, shrink after "
        "a hard one; backward Euler without error estimate, so its accuracy rests on dt_max = 600 s)",
        choices=("error", "bdf2", "newton"),
    )
    tol_voltage: float = key(
        5e-4,
        "V",
        "error-controlled steps ('error', 'bdf2'): local error allowed per step in the cell voltage",
        lo=0.0,
        lo_open=True,
    )
    tol_capacity: float = key(
        1e-3,
        "-",
        "error-controlled steps ('error', 'bdf2'): where the voltage is steep, its local error may "
        "also amount to a shift of the curve by this fraction of the nominal half-cycle (1 h / C-rate) "
        "in time: the error is judged against tol_voltage + |dV/dt| tol_capacity / C-rate",
        lo=0.0,
        hi=1.0,
    )
    tol_concentration: float = key(
        5e-3,
        "-",
        "error-controlled steps ('error', 'bdf2'): local error allowed per step in the NVP "
        "concentration, as a fraction of c_max (largest over the nodes)",
        lo=0.0,
        hi=1.0,
        lo_open=True,
    )
    dt_initial: float = key(10.0, "s", "first time step of every protocol segment", lo=0.0, lo_open=True)
    dt_min: float = key(0.001, "s", "below this the run stops cleanly", lo=0.0, lo_open=True)
    dt_max: float = key(
        3600.0,
        "s",
        "largest time step (the error control chooses the steps below it; with time_stepping = "
        "'newton' use 600 s: that rule has no error estimate and this bound sets its accuracy)",
        lo=0.0,
        lo_open=True,
    )
    dt_growth: float = key(
        2.0,
        "-",
        "largest factor between two steps ('error'; 'bdf2' also at most 2.4), or the factor after an "
        "easy Newton solve (<= 4 iterations, 'newton'; its benchmarks use 1.5)",
        lo=1.0,
        hi=10.0,
        lo_open=True,
    )
    dt_shrink: float = key(
        0.5,
        "-",
        "dt factor after a failed (retried) Newton solve",
        lo=0.0,
        hi=1.0,
        lo_open=True,
        hi_open=True,
    )
    cutoff_tolerance: float = key(
        0.001,
        "V",
        "a step overshooting a cut-off by more is retried with a shorter step",
        lo=0.0,
        lo_open=True,
    )
    depletion_end: float = key(
        0.02,
        "-",
        "a galvanostatic half-cycle whose steps fail (below dt_min, or worth < 1e-3 of the capacity) while "
        "some NVP node is within this fraction of c_max of empty (charge) or full (discharge) ends there, "
        "logged and counted in metrics (a diffusion-limited end: the cut-off is a few mV away), instead of "
        "failing the run; 0 disables",
        lo=0.0,
        hi=0.5,
    )
    output_interval: float = key(1800.0, "s", "time between ParaView field outputs", lo=0.0, lo_open=True)


SECTION = Section.from_config("protocol", ProtocolConfig, checks=(_checks,))
