"""Protocol segments, adaptive time steps and cut-off landing (pure Python)."""

from __future__ import annotations

import pytest

from fem_electrode.config import validate
from fem_electrode.run.protocol import (
    EASY_ITERATIONS,
    HARD_ITERATIONS,
    MAX_CAPACITY_FACTOR,
    ProtocolState,
    StepController,
    build_segments,
    secant_fraction,
)


def test_segments_of_two_cycles_with_holds_and_rests():
    case = validate({"protocol": {"cycles": 2, "hold_minutes": 20.0, "rest_minutes": 5.0, "c_rate": 0.5}})
    segs = build_segments(case.protocol)
    kinds = [(s.kind, s.cycle, s.half_cycle) for s in segs]
    assert kinds == [
        ("charge", 1, "charge"), ("hold", 1, "charge"), ("rest", 1, None),
        ("discharge", 1, "discharge"), ("hold", 1, "discharge"), ("rest", 1, None),
        ("charge", 2, "charge"), ("hold", 2, "charge"), ("rest", 2, None),
        ("discharge", 2, "discharge"), ("hold", 2, "discharge"), ("rest", 2, None),
    ]
    charge, hold, rest, discharge = segs[:4]
    assert charge.current_sign == 1 and charge.cutoff == 3.8
    assert charge.duration == pytest.approx(MAX_CAPACITY_FACTOR * 3600 / 0.5)
    assert hold.potentiostatic and hold.voltage == 3.8 and hold.duration == 1200.0
    assert rest.current_sign == 0 and rest.duration == 300.0
    assert discharge.current_sign == -1 and discharge.cutoff == 2.8
    assert segs[4].voltage == 2.8
    assert charge.crossed(3.8) and not charge.crossed(3.79)
    assert discharge.crossed(2.79) and not discharge.crossed(2.81)
    assert not hold.crossed(10.0) and not rest.crossed(-10.0)


def test_start_with_discharge_and_no_holds():
    case = validate({"protocol": {"start": "discharge"}})
    assert [s.kind for s in build_segments(case.protocol)] == ["discharge", "charge"]


def test_step_controller_grows_shrinks_and_stops():
    c = StepController(dt=10.0, dt_min=1.0, dt_max=40.0, growth=2.0, shrink=0.5)
    c.succeeded(10.0, EASY_ITERATIONS)
    assert c.dt == 20.0
    c.succeeded(20.0, EASY_ITERATIONS)
    c.succeeded(40.0, EASY_ITERATIONS)
    assert c.dt == 40.0  # capped at dt_max
    c.succeeded(40.0, HARD_ITERATIONS + 1)
    assert c.dt == 20.0  # a hard step shrinks the next one
    assert c.failed(20.0) and c.dt == 10.0
    assert c.failed(2.0) and c.dt == 1.0
    assert not c.failed(1.0)  # 0.5 s would be below dt_min
    with pytest.raises(ValueError, match="dt_min <= dt_max"):
        StepController(dt=1.0, dt_min=2.0, dt_max=1.0, growth=1.5, shrink=0.5)


def test_propose_lands_on_segment_ends_without_slivers():
    c = StepController(dt=10.0, dt_min=1.0, dt_max=100.0, growth=1.5, shrink=0.5)
    assert c.propose(None) == 10.0
    assert c.propose(25.0) == 10.0
    assert c.propose(7.0) == 7.0  # last step of a timed segment
    assert c.propose(10.5) == 10.5  # 0.5 s left over would be below dt_min: take it now
    c.succeeded(7.0, EASY_ITERATIONS)
    assert c.dt == 15.0  # a step cut short by a segment end does not shrink dt


def test_cutoff_landing_by_secant():
    assert secant_fraction(3.70, 3.90, 3.80) == pytest.approx(0.5)
    c = StepController(dt=100.0, dt_min=1.0, dt_max=100.0, growth=1.5, shrink=0.5)
    assert c.land_on_cutoff(100.0, 0.5) and c.dt == 50.0
    assert c.land_on_cutoff(100.0, 1e-6) and c.dt == pytest.approx(5.0)  # clamped fraction
    assert c.land_on_cutoff(10.0, 0.05) and c.dt == pytest.approx(0.5)  # may go below dt_min
    assert not c.land_on_cutoff(1e-2, 0.05)  # below 1e-3 dt_min: accept the crossing instead


def test_protocol_state_timing():
    case = validate({"protocol": {"rest_minutes": 1.0}})
    rest = build_segments(case.protocol)[1]
    st = ProtocolState(segment=1, time=100.0, segment_start=100.0)
    assert st.remaining(rest) == 60.0
    st.time = 160.0
    assert st.segment_time_done(rest)
    st.advance_segment()
    assert st.segment == 2 and st.segment_start == 160.0 and st.cutoff_retries == 0
    assert ProtocolState(**st.as_dict()) == st
