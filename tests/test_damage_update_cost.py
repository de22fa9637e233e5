"""Cost of a damage update (issue 15: a cycle with damage ≤ 2× one without): the secant iteration
of :class:`CohesiveMechanicsProblem` does no more work than it must.

On the laminate of ``tests/test_cohesive_interface.py`` (uniform solution, closed forms there):

- an update with no new damage and no contact change costs one secant iteration and one linear
  solve with the kept factorization and the kept matrix (no refactorization, no assembly);
- facets whose open/closed state cycles from iteration to iteration (a synthetic period-2 cycle
  imposed on the jumps of one facet) are held open after a few switches, so the update converges
  instead of running to ``max_iterations``.

Serial and 2 ranks.
"""

from __future__ import annotations

import numpy as np
import pytest
from layered import layered_box
from test_cohesive_interface import D0, DF, ETA, G_I, G_II, L1, L2, LX, C, K, N, S, params, y_of_drive

from fem_electrode.fem.fenicsx import MPI
from fem_electrode.physics.cohesive import CohesiveLaw
from fem_electrode.problems import cohesive_mechanics as cm
from fem_electrode.problems.cohesive_mechanics import CohesiveMechanicsProblem

TOL = 1e-8


@pytest.fixture(scope="module")
def laminate():
    return layered_box(MPI.COMM_WORLD, (LX, LX, L1 + L2), (1, 1, 4), L1)


def make(domain, **kw) -> CohesiveMechanicsProblem:
    law = CohesiveLaw(N, S, G_I, G_II, K, ETA)
    return CohesiveMechanicsProblem(domain, params(), law, tolerance=TOL, **kw)


def d_peak() -> float:
    return 0.5 * (D0 * (1 + C * K) + DF)


def test_an_update_without_new_damage_costs_one_linear_solve(laminate):
    p = make(laminate)
    p.solve_y(y_of_drive(d_peak()))  # on the softening branch
    assert p.interface_state().max_damage > 0.1
    p.solve_y(y_of_drive(0.9 * d_peak()))  # unloading a little: same contact set, no new damage
    damage = p.interface_state().max_damage
    solves, factorizations, assemblies = p.linear_solves, p.factorizations, p.assemblies
    p.solve_y(y_of_drive(0.8 * d_peak()))  # further unloading: nothing changes but the jump
    assert p.last_iterations == 1
    assert p.linear_solves - solves == 1
    assert p.factorizations == factorizations  # the kept LU solved it
    assert p.assemblies == assemblies  # with the stiffness of the last solve: not assembled again
    assert p.interface_state().max_damage == damage


def test_a_facet_whose_contact_cycles_is_held_open(laminate, monkeypatch):
    """One facet's normal jump is made to flip sign on every evaluation (as facets with δ_n ≈ 0
    do on the demo RVE, where the contact of their neighbours decides their sign): without the
    switch rule the update runs to max_iterations, with it the facet is held open and the
    update converges."""
    comm = laminate.mesh.comm

    def run(legacy: bool) -> CohesiveMechanicsProblem:
        monkeypatch.setattr(cm, "LEGACY", legacy)
        p = make(laminate, max_iterations=40)
        p.solve_y(y_of_drive(0.5 * D0 * (1 + C * K)))  # elastic, open
        calls = {"n": 0}
        jumps = p.facet_jumps

        def flipping() -> tuple[np.ndarray, np.ndarray]:
            dn, ds = jumps()
            calls["n"] += 1
            if comm.rank == 0 and dn.size:
                dn = dn.copy()
                dn[0] = (-1.0 if calls["n"] % 2 else 1.0) * abs(dn[0])
            return dn, ds

        monkeypatch.setattr(p, "facet_jumps", flipping)
        p.solve_y(y_of_drive(0.6 * D0 * (1 + C * K)))
        return p

    legacy = run(True)
    assert legacy.unconverged_solves == 1 and legacy.last_iterations == 40
    fixed = run(False)
    assert fixed.unconverged_solves == 0
    assert fixed.last_iterations <= cm.CONTACT_FREEZE + cm.CHATTER_SWITCHES + 1
    assert comm.allreduce(int(np.count_nonzero(fixed.closed)), op=MPI.SUM) == 0  # held open
    fixed.solve_y(y_of_drive(0.7 * D0 * (1 + C * K)))  # the next update: converges again
    assert fixed.unconverged_solves == 0
