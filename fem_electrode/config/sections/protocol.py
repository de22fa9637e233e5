"""[protocol]: cycling protocol and time stepping."""

from collections.abc import Mapping
from typing import Any

from fem_electrode.config.spec import Key, Section


def _checks(v: Mapping[str, Any]) -> list[str]:
    problems = []
    if v["cutoff_low"] >= v["cutoff_high"]:
        problems.append(
            f"cutoff_low = {v['cutoff_low']} V must be below cutoff_high = {v['cutoff_high']} V"
        )
    if not v["dt_min"] <= v["dt_initial"] <= v["dt_max"]:
        problems.append(
            f"need dt_min <= dt_initial <= dt_max, got {v['dt_min']} / {v['dt_initial']} / "
            f"{v['dt_max']} s"
        )
    return problems


SECTION = Section(
    name="protocol",
    doc="Galvanostatic cycling with cut-offs, optional CV holds and rests; adaptive dt.",
    keys=(
        Key("c_rate", "float", 0.1, "1/h", "C-rate; 1 C from the NVP mass in the RVE",
            lo=0.0, lo_open=True, hi=100.0),
        Key("start", "str", "charge", "-", "first half-cycle", choices=("charge", "discharge")),
        Key("cycles", "int", 1, "-", "number of charge + discharge cycles", lo=1, hi=10000),
        Key("cutoff_low", "float", 2.8, "V", "discharge cut-off voltage", lo=0.0, hi=10.0),
        Key("cutoff_high", "float", 3.8, "V", "charge cut-off voltage", lo=0.0, hi=10.0),
        Key("hold_minutes", "float", 0.0, "min",
            "constant-voltage hold at each cut-off (paper: 20 min)", lo=0.0),
        Key("rest_minutes", "float", 0.0, "min", "open-circuit rest after each half-cycle",
            lo=0.0),
        Key("dt_initial", "float", 10.0, "s", "first time step", lo=0.0, lo_open=True),
        Key("dt_min", "float", 1e-3, "s", "below this the run stops cleanly", lo=0.0,
            lo_open=True),
        Key("dt_max", "float", 600.0, "s", "largest time step", lo=0.0, lo_open=True),
        Key("dt_growth", "float", 1.5, "-", "dt factor after an easy Newton solve (<= 4 iterations)",
            lo=1.0, hi=10.0),
        Key("dt_shrink", "float", 0.5, "-", "dt factor after a failed (retried) Newton solve",
            lo=0.0, hi=1.0, lo_open=True, hi_open=True),
        Key("cutoff_tolerance", "float", 1e-3, "V",
            "a step overshooting a cut-off by more is retried with a shorter step", lo=0.0,
            lo_open=True),
        Key("depletion_end", "float", 0.02, "-",
            "a galvanostatic half-cycle whose steps fail (below dt_min, or worth < 1e-3 of the "
            "capacity) while some NVP node is within this fraction of c_max of empty (charge) or "
            "full (discharge) ends there, logged and "
            "counted in metrics (a diffusion-limited end: the cut-off is a few mV away), instead of "
            "failing the run; 0 disables", lo=0.0, hi=0.5),
        Key("output_interval", "float", 1800.0, "s", "time between ParaView field outputs",
            lo=0.0, lo_open=True),
    ),
    checks=(_checks,),
)
