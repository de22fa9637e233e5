"""The cycle-based Paris fatigue law of the cohesive interface, alone (numpy) and on the FE laminate.

Law (Turon et al., Mech. Mater. 39 (2007) 1079, bilinear form), written out here:

    dD/dN = a²/(δf δ0) · (C/l) · (ΔG/G_c)^m,   a = δf (1 − D) + D δ0,   ΔG = (1 − R²) G_max,

G_max the work of the bilinear envelope up to the cycle's peak jump, no growth below G_th. The
closed form for a constant load is checked against a numerical integration of that ODE
(scipy), and the FE laminate (uniform: every facet alike, closed forms of
tests/test_cohesive_interface.py) against the same formulas. Serial and 2 ranks.
"""

from __future__ import annotations

import numpy as np
import pytest
from layered import layered_box
from scipy.integrate import solve_ivp
from test_cohesive_interface import ETA, G_I, G_II, L1, L2, LX, C, K, N, S, params, y_of_drive

from fem_electrode.fem.fenicsx import MPI
from fem_electrode.physics.cohesive import CohesiveLaw
from fem_electrode.physics.fatigue import ParisFatigue, cohesive_zone_length, envelope_work
from fem_electrode.problems.cohesive_mechanics import CohesiveMechanicsProblem

LAW = CohesiveLaw(N, S, G_I, G_II, K, ETA)
D0, DF = N / K, 2 * G_I / N  # pure opening, m
PARIS_C, PARIS_M, ZONE = 1e-6, 2.0, 1e-6  # m/cycle, -, m: chosen to grow D visibly, not sourced


def envelope(delta: float) -> float:
    """The bilinear traction envelope (Pa) in pure opening."""
    if delta <= D0:
        return K * delta
    return max(N * (DF - delta) / (DF - D0), 0.0)


def work(delta: float) -> float:
    """∫_0^δ envelope (J/m²), by quadrature."""
    s = np.linspace(0.0, delta, 20001)
    return float(np.trapezoid([envelope(x) for x in s], s))


def ode_damage(d_start: float, ratio: float, cycles: float, exponent: float = PARIS_M) -> float:
    """D after ``cycles`` of dD/dN = a²/(δf δ0) (C/l) ratio^m, integrated numerically (capped at 1)."""

    def rate(_n: float, y: np.ndarray) -> list[float]:
        d = min(y[0], 1.0)
        a = DF * (1 - d) + d * D0
        return [a**2 / (DF * D0) * PARIS_C / ZONE * ratio**exponent if d < 1.0 else 0.0]

    sol = solve_ivp(rate, (0.0, cycles), [d_start], rtol=1e-11, atol=1e-13)
    return min(float(sol.y[0, -1]), 1.0)


def test_the_envelope_work_is_the_area_under_the_law():
    for delta in (0.3 * D0, D0, 0.5 * (D0 + DF), 0.9 * DF, 1.5 * DF):
        assert envelope_work(LAW, delta, 0.0) == pytest.approx(work(delta), rel=1e-6)
    assert envelope_work(LAW, 2 * DF, 0.0) == pytest.approx(G_I, rel=1e-12)
    assert envelope_work(LAW, -D0, 0.0) == 0.0  # compression: no work


def test_constant_cyclic_load_follows_the_integrated_law():
    fatigue = ParisFatigue(PARIS_C, PARIS_M, 0.0, ZONE)
    peak = 0.6 * D0  # below the onset: only fatigue grows D
    ratio = 0.5 * K * peak**2 / G_I  # R = 0 (unloaded to zero)
    d = 0.0
    per_cycle = [0.0]
    for _ in range(40):
        d = float(fatigue.advance(LAW, d, peak, 0.0, 0.0, 1.0))
        per_cycle.append(d)
    assert per_cycle[10] == pytest.approx(ode_damage(0.0, ratio, 10), rel=1e-7)
    assert float(fatigue.advance(LAW, 0.0, peak, 0.0, 0.0, 25.0)) == pytest.approx(per_cycle[25], rel=1e-12)
    # closed form of the ODE: 1/a = 1/a0 + (δf − δ0) k N
    k = PARIS_C / ZONE * ratio**PARIS_M / (DF * D0)
    a = 1 / (1 / DF + (DF - D0) * k * 10)
    assert per_cycle[10] == pytest.approx((DF - a) / (DF - D0), rel=1e-12)
    assert 0.05 < per_cycle[10] < 0.9  # visible, not complete
    steps = np.diff(per_cycle)
    assert np.all(steps >= 0.0) and max(per_cycle) <= 1.0
    # complete failure (a = δ0) after N1 = (1/δ0 − 1/δf)/((δf − δ0) k) cycles, and D stays at 1
    n1 = (1 / D0 - 1 / DF) / ((DF - D0) * k)
    assert float(fatigue.advance(LAW, 0.0, peak, 0.0, 0.0, 0.999 * n1)) < 1.0
    assert float(fatigue.advance(LAW, 0.0, peak, 0.0, 0.0, 1.001 * n1)) == 1.0
    assert float(fatigue.advance(LAW, 1.0, peak, 0.0, 0.0, 5.0)) == 1.0
    # the cycles to a given increment invert the closed form
    n = float(fatigue.cycles_to_increment(LAW, 0.1, peak, 0.0, 0.0, 0.2))
    assert float(fatigue.advance(LAW, 0.1, peak, 0.0, 0.0, n)) == pytest.approx(0.3, rel=1e-10)


def test_the_range_ratio_and_the_threshold_stop_growth():
    peak = 0.6 * D0
    ratio = 0.5 * K * peak**2 / G_I
    below = ParisFatigue(PARIS_C, PARIS_M, 1.01 * ratio, ZONE)
    above = ParisFatigue(PARIS_C, PARIS_M, 0.99 * ratio, ZONE)
    assert float(below.advance(LAW, 0.2, peak, 0.0, 0.0, 100.0)) == 0.2
    assert float(above.advance(LAW, 0.2, peak, 0.0, 0.0, 1.0)) > 0.2
    # a load that does not vary over the cycle (R = 1) does not fatigue; R = 1/2 by (1 - R²)^m
    fatigue = ParisFatigue(PARIS_C, PARIS_M, 0.0, ZONE)
    assert float(fatigue.advance(LAW, 0.2, peak, 0.0, peak, 100.0)) == 0.2
    half = float(fatigue.advance(LAW, 0.0, peak, 0.0, 0.5 * peak, 7.0))
    assert half == pytest.approx(ode_damage(0.0, 0.75 * ratio, 7.0), rel=1e-7)
    # compression closes the interface: no effective jump, no growth
    assert float(fatigue.advance(LAW, 0.2, -peak, 0.0, 0.0, 100.0)) == 0.2
    assert float(fatigue.cycles_to_increment(LAW, 0.2, -peak, 0.0, 0.0, 0.1)) == np.inf


def test_a_growing_load_is_summed_over_the_block():
    """slope s: the block's cycles have k + s, k + 2s, …: the sum k n + s n (n + 1)/2."""
    fatigue = ParisFatigue(PARIS_C, PARIS_M, 0.0, ZONE)
    ks = [3.0 + 0.5 * i for i in range(1, 8)]
    assert float(fatigue.rate_sum(3.0, 0.5, 7)) == pytest.approx(sum(ks), rel=1e-14)
    peak = 0.6 * D0
    k = float(fatigue.rate_constant(LAW, peak, 0.0, 0.0))
    grown = float(fatigue.advance(LAW, 0.0, peak, 0.0, 0.0, 4.0, slope=0.25 * k))
    a = 1 / (1 / DF + (DF - D0) * (4 * k + 0.25 * k * 10))
    assert grown == pytest.approx((DF - a) / (DF - D0), rel=1e-12)
    n = float(fatigue.cycles_to_increment(LAW, 0.0, peak, 0.0, 0.0, grown, slope=0.25 * k))
    assert n == pytest.approx(4.0, rel=1e-9)


def test_bad_parameters_are_refused():
    for kw in ({"coefficient": 0.0}, {"exponent": -1.0}, {"zone_length": 0.0}, {"threshold_ratio": 1.0}):
        args = {"coefficient": PARIS_C, "exponent": PARIS_M, "threshold_ratio": 0.0, "zone_length": ZONE,
                **kw}
        with pytest.raises(ValueError):
            ParisFatigue(**args)
    assert cohesive_zone_length(80e9, 10.0, 100e6) == pytest.approx(80e9 * 10.0 / 1e16, rel=1e-14)


# ---- on the FE laminate ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def laminate():
    return layered_box(MPI.COMM_WORLD, (LX, LX, L1 + L2), (1, 1, 4), L1)


def one_cycle(problem: CohesiveMechanicsProblem, y_low: float, y_high: float) -> None:
    """Load to y_low, back to y_high, the extremes tracked after each solve."""
    for y in (y_high, y_low, y_high):
        problem.solve_y(y)
        problem.track_cycle()


def facet_damage(problem: CohesiveMechanicsProblem) -> tuple[float, float]:
    comm = problem.domain.mesh.comm
    n = problem.iface.topology.index_map(2).size_local
    d = problem.damage.x.array[:n]
    return (comm.allreduce(float(np.min(d, initial=np.inf)), op=MPI.MIN),
            comm.allreduce(float(np.max(d, initial=-np.inf)), op=MPI.MAX))


def test_a_cycle_with_fatigue_grows_the_damage_of_opened_facets_only(laminate):
    fatigue = ParisFatigue(PARIS_C, PARIS_M, 0.0, ZONE)
    # opened to 60 % of the onset (elastic: δ = d/(1 + CK)) and unloaded to zero
    d_drive = 0.6 * D0 * (1 + C * K)
    opened = CohesiveMechanicsProblem(laminate, params(), LAW, tolerance=1e-10)
    one_cycle(opened, y_of_drive(d_drive), 1.0)
    assert facet_damage(opened) == (0.0, 0.0)  # the static law: nothing
    grown = opened.apply_fatigue(fatigue, 1.0)
    delta = d_drive / (1 + C * K)
    ratio = 0.5 * K * delta**2 / G_I
    want = ode_damage(0.0, ratio, 1.0)
    lo, hi = facet_damage(opened)
    assert lo == pytest.approx(want, rel=1e-6) and hi == pytest.approx(want, rel=1e-6)
    assert grown == pytest.approx(want, rel=1e-6)
    # the next cycle starts afresh and sees the softened interface
    opened.end_fatigue_cycle(consecutive=True, fatigue=fatigue)
    assert opened.cycles_to_increment(fatigue, 0.1) == np.inf  # nothing tracked yet
    # NVP swelling (y above y_ref) presses the faces together: no growth
    pressed = CohesiveMechanicsProblem(laminate, params(y_ref=0.5), LAW, tolerance=1e-10)
    one_cycle(pressed, 0.5, 0.9)
    assert pressed.apply_fatigue(fatigue, 1.0) == 0.0
    assert facet_damage(pressed) == (0.0, 0.0)
