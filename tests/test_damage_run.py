"""Runs with a cohesive NVP|NZSP interface on a layered column: damage reaches the
electrochemistry, is reported per cycle, survives a resume; bad damage input is refused.

The column (NZSP 2 µm below NVP 1 µm, lateral rollers, the collector held in z) is pulled open
as NVP shrinks on charge. Serial and 2 ranks.
"""

from __future__ import annotations

import pytest
from builders import case_from, run_until
from layered import column

from fem_electrode.config import ConfigError
from fem_electrode.outputs.timeseries import read_rows
from fem_electrode.run import simulation

BASE = {
    "case": {"name": "column"},
    "materials": {"D_nvp": 1e-15},
    "mechanics": {"coupling": "one_way", "interface": "cohesive", "collector_bc": "rollers"},
    "protocol": {"c_rate": 2.0, "hold_minutes": 0.0, "rest_minutes": 0.0, "dt_max": 200.0,
                 "output_interval": 1800.0},
    "output": {"fields": "none"},
}
#: An interface that cannot fail under these loads (strength far above the misfit stress).
UNBREAKABLE = {"strength_interface": 50e9, "strength_interface_shear": 50e9, "toughness_interface": 1e9}


def make_case(**overrides):
    return case_from(BASE, **overrides)


def test_an_interface_that_does_not_fail_changes_nothing(comm, mpi_tmp_path):
    bonded = simulation.run(make_case(mechanics={"interface": "bonded"}), mpi_tmp_path / "b",
                            domain=column(comm))
    strong = simulation.run(make_case(materials=UNBREAKABLE), mpi_tmp_path / "s", domain=column(comm))
    assert bonded.status == strong.status == "completed"
    d = strong.metrics["interface_damage"]
    assert d["max_damage"] == 0.0 and d["active_interface_fraction"] == 1.0
    for key in ("capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g", "polarization_V"):
        assert strong.metrics[key] == pytest.approx(bonded.metrics[key], rel=1e-12), key
    assert "interface_damage" not in bonded.metrics


def test_debonding_cuts_the_current_path_and_is_reported_per_cycle(comm, mpi_tmp_path):
    out = mpi_tmp_path / "weak"
    weak = simulation.run(make_case(protocol={"cycles": 2}), out, domain=column(comm))
    strong = simulation.run(make_case(materials=UNBREAKABLE, protocol={"cycles": 2}), mpi_tmp_path / "s",
                            domain=column(comm))
    assert weak.status == "completed", weak.reason
    d = weak.metrics["interface_damage"]
    assert 0.0 < d["active_interface_fraction"] < 0.5 and d["max_damage"] > 0.5
    assert d["dissipated_energy_J"] > 0.0
    per_cycle = d["per_cycle"]
    assert [c["cycle"] for c in per_cycle] == [1, 2]
    # the damage never heals: the active interface shrinks or stays, cycle after cycle and step by step
    assert per_cycle[1]["active_interface_fraction"] <= per_cycle[0]["active_interface_fraction"]
    rows = comm.bcast(read_rows(out / "timeseries.csv") if comm.rank == 0 else None, root=0)
    active = [r["active_interface_fraction"] for r in rows if r["segment"] != "initial"]
    assert all(b <= a + 1e-12 for a, b in zip(active, active[1:], strict=False))
    assert active[-1] == pytest.approx(d["active_interface_fraction"], rel=1e-12)
    # the current crosses less interface: more polarization than the unbroken column
    assert weak.metrics["polarization_V"] > strong.metrics["polarization_V"] + 0.01
    assert weak.metrics["cycles"][0]["capacity_retention"] == 1.0


@pytest.mark.parametrize("change, message", [
    ({"mechanics": {"coupling": "two_way"}}, "coupling = 'one_way'"),
    ({"mechanics": {"coupling": "off"}}, "coupling = 'one_way'"),
    ({"mechanics": {"lateral_bc": "free"}}, "lateral_bc = 'rollers'"),
    ({"materials": {"penalty_interface": 1e10}}, "penalty_interface"),
    ({"materials": {"strength_interface_shear": 0.0}}, "strength_interface_shear"),
    ({"mechanics": {"damage_tolerance": 0.0}}, "damage_tolerance"),
])
def test_bad_damage_input_is_refused_before_any_work(change, message):
    with pytest.raises(ConfigError, match=message):
        make_case(**change)


def test_a_resumed_run_goes_on_with_its_damage(comm, mpi_tmp_path, monkeypatch):
    """Stopped in the discharge (the interface damaged at the end of the charge, now unloading)
    and resumed from the checkpoint, the run ends where an uninterrupted one does: the damage
    history came back. Without it the resumed run would load an intact interface to the
    partly refilled state only, and end with more contact. Updates after every step and tight
    secant iterations, so that both runs update at the same states to round-off."""
    case = make_case(mechanics={"damage_update_dy": 0.0, "damage_tolerance": 1e-9,
                                "damage_max_iterations": 500}, output={"checkpoint_interval": 300.0})
    ref = simulation.run(case, mpi_tmp_path / "ref", domain=column(comm))
    out = mpi_tmp_path / "run"
    first = run_until(monkeypatch, case, out, column(comm),
                      lambda sim, seg: seg.label.startswith("discharge") and sim.state.time > 0.0)
    assert first.status == "interrupted"
    second = simulation.run(case, out, domain=column(comm), resume=True)
    assert second.status == "completed", second.reason
    got, want = second.metrics["interface_damage"], ref.metrics["interface_damage"]
    # 2e-3: on 2 ranks two uninterrupted runs already differ by 1e-4 ... 2e-4 (round-off of the
    # parallel assembly decides which facets at δ_n ≈ 0 end up closed); without the restored
    # history the active fraction is off by 1.3 %
    assert got["active_interface_fraction"] == pytest.approx(want["active_interface_fraction"], rel=2e-3)
    assert got["max_damage"] == pytest.approx(want["max_damage"], rel=1e-6)
    for key in ("capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g", "polarization_V"):
        assert second.metrics[key] == pytest.approx(ref.metrics[key], rel=2e-3), key
