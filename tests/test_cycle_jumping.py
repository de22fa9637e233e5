"""Fatigue over cycles and cycle jumping on the damage tests' column (tests/test_damage_run.py).

The fatigue parameters (C, m, no threshold), the interface strength (above the misfit stress: no
static damage, only fatigue), the exchange current and the voltage window are chosen to make
the column fade visibly within 20 cycles, not sourced. Serial and 2 ranks.
"""

from __future__ import annotations

import csv
import time

import pytest
from builders import case_from, run_until
from layered import column

from fem_electrode.config import ConfigError
from fem_electrode.run import simulation

BASE = {
    "case": {"name": "column"},
    "materials": {"D_nvp": 1e-15, "strength_interface": 3e9, "strength_interface_shear": 3e9,
                  "fatigue_paris_C": 2e-8, "fatigue_paris_m": 1.0, "fatigue_threshold_ratio": 0.0},
    "electrochemistry": {"i0_ref": 0.05},
    "mechanics": {"coupling": "one_way", "interface": "cohesive", "collector_bc": "rollers",
                  "fatigue": "paris"},
    "protocol": {"c_rate": 2.0, "hold_minutes": 0.0, "rest_minutes": 0.0, "dt_max": 200.0,
                 "output_interval": 1800.0, "cutoff_low": 3.0, "cutoff_high": 3.7, "cycles": 20},
    "output": {"fields": "none"},
}
#: the jump tolerance of the check: with the default 0.02 this column (ΔD ≈ 0.03 per cycle) never jumps
JUMP = {"cycle_jump": True, "cycle_jump_max_dD": 0.1, "cycle_jump_min_cycles": 2}


def make_case(**overrides):
    return case_from(BASE, **overrides)


def retention(result) -> list[float]:
    return [c["capacity_retention"] for c in result.metrics["cycles"]]


def test_fatigue_fades_the_capacity_and_cycle_jumping_keeps_the_retention(comm, mpi_tmp_path):
    t0 = time.perf_counter()
    full = simulation.run(make_case(), mpi_tmp_path / "full", domain=column(comm))
    t1 = time.perf_counter()
    jumped = simulation.run(make_case(mechanics=JUMP), mpi_tmp_path / "jump", domain=column(comm))
    t2 = time.perf_counter()
    assert full.status == jumped.status == "completed", (full.reason, jumped.reason)
    r_full, r_jump = retention(full), retention(jumped)
    assert len(r_full) == len(r_jump) == 20
    # fatigue fades: the active interface shrinks every cycle, the retention falls visibly
    active = [c["active_interface_fraction"] for c in full.metrics["cycles"]]
    assert all(b < a for a, b in zip(active, active[1:], strict=False))
    assert r_full[-1] < 0.97
    # the jumps skipped cycles and marked them; the retention after 20 cycles within 1 % absolute
    d = jumped.metrics["interface_damage"]
    assert d["cycle_jumps"] >= 2 and d["cycles_extrapolated"] >= 5
    flags = [c["extrapolated"] for c in jumped.metrics["cycles"]]
    assert sum(flags) == d["cycles_extrapolated"] and not flags[0] and not flags[-1]
    assert "extrapolated" not in full.metrics["cycles"][0]
    error = abs(r_jump[-1] - r_full[-1])
    print(f"retention after 20 cycles: full {r_full[-1]:.4f}, jumped {r_jump[-1]:.4f}, error {error:.4f}; "
          f"wall time {t1 - t0:.1f} s vs {t2 - t1:.1f} s (x{(t1 - t0) / (t2 - t1):.2f})")
    assert error <= 0.01
    if comm.rank == 0:
        with open(mpi_tmp_path / "jump" / "cycles.csv") as fh:
            rows = list(csv.DictReader(fh))
        assert [r["extrapolated"] for r in rows] == [str(f) for f in flags]


def test_a_resumed_run_keeps_its_jumps(comm, mpi_tmp_path, monkeypatch):
    """Stopped in a cycle after the first jump and resumed, the run makes the jumps and ends with
    the retention of an uninterrupted one (the jump state and the cycle's extremes came back)."""
    case = make_case(mechanics=JUMP, protocol={"cycles": 10}, output={"checkpoint_interval": 300.0})
    ref = simulation.run(case, mpi_tmp_path / "ref", domain=column(comm))
    assert ref.status == "completed", ref.reason
    first_jump = ref.metrics["interface_damage"]["jumps"][0]
    stop_cycle = first_jump["after_cycle"] + first_jump["skipped"] + 1
    out = mpi_tmp_path / "run"
    first = run_until(monkeypatch, case, out, column(comm),
                      lambda sim, seg: seg.cycle == stop_cycle and seg.label.startswith("discharge"))
    assert first.status == "interrupted"
    second = simulation.run(case, out, domain=column(comm), resume=True)
    assert second.status == "completed", second.reason
    assert second.metrics["interface_damage"]["jumps"] == ref.metrics["interface_damage"]["jumps"]
    assert [c["extrapolated"] for c in second.metrics["cycles"]] == [c["extrapolated"]
                                                                    for c in ref.metrics["cycles"]]
    assert retention(second)[-1] == pytest.approx(retention(ref)[-1], abs=2e-3)


@pytest.mark.parametrize("change, message", [
    ({"mechanics": {"interface": "bonded"}}, "interface = 'cohesive'"),
    ({"mechanics": {"fatigue": "off", "cycle_jump": True}}, "cycle_jump = true needs"),
    ({"materials": {"fatigue_paris_C": 0.0}}, "fatigue_paris_C"),
    ({"materials": {"fatigue_paris_m": -2.0}}, "fatigue_paris_m"),
    ({"mechanics": {"cycle_jump_max_dD": 0.0}}, "cycle_jump_max_dD"),
])
def test_bad_fatigue_input_is_refused_before_any_work(change, message):
    with pytest.raises(ConfigError, match=message):
        make_case(**change)
