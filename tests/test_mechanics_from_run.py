"""Mechanics on the concentration of a finished run (``[mechanics] concentration_from``):
the snapshot a run writes at each output reproduces the run's own one-way mechanics
metrics, the snapshot choice (most strained / nearest time), and bad input. Runs serially
and on 2 ranks."""

from __future__ import annotations

import pytest
from test_run import column, make_case

from fem_electrode.config import ConfigError, validate
from fem_electrode.fem.fenicsx import dolfinx
from fem_electrode.outputs import snapshots
from fem_electrode.run import simulation
from fem_electrode.run.folder import RunFolder
from fem_electrode.run.mechanics_only import nvp_state, solve_prescribed


@pytest.fixture
def finished_run(comm, mpi_tmp_path):
    case = make_case(mechanics={"coupling": "one_way"},
                     protocol={"hold_minutes": 0.0, "rest_minutes": 0.0, "output_interval": 1200.0})
    out = mpi_tmp_path / "run"
    result = simulation.run(case, out, domain=column(comm))
    assert result.status == "completed", result.reason
    return case, out, result.metrics


def test_snapshot_reproduces_the_runs_mechanics(comm, mpi_tmp_path, finished_run):
    case, run_dir, metrics = finished_run
    found = snapshots.available(RunFolder(run_dir).concentration)
    assert len(found) >= 3 and found[0].time_s == 0.0
    state = nvp_state(case.replace(mechanics={"concentration_from": str(run_dir)}), None, "test")
    assert state.time_s == metrics["mechanics"]["time_s"]  # the most strained, like the run
    data = solve_prescribed(case, mpi_tmp_path / "mech", state, domain=column(comm))
    got, ref = data["mechanics"], metrics["mechanics"]
    assert got["y_mean"] == ref["y_mean"]
    for phase in ("NVP", "NZSP"):
        for q in ("von_mises", "hydrostatic", "max_principal"):
            for stat in ("mean", "p99", "max"):
                assert got["phases"][phase][q][stat] == pytest.approx(ref["phases"][phase][q][stat],
                                                                       rel=1e-9, abs=1e-3), (phase, q, stat)
    assert got["elastic_energy"]["total"] == pytest.approx(ref["elastic_energy"]["total"], rel=1e-9)
    # not a uniform state: the run's concentration is graded through the film
    uniform = solve_prescribed(case, mpi_tmp_path / "uniform", state.y_mean, domain=column(comm))
    assert uniform["mechanics"]["phases"]["NVP"]["von_mises"]["max"] != pytest.approx(
        got["phases"]["NVP"]["von_mises"]["max"], rel=1e-3)


def test_snapshot_choice_and_bad_input(comm, mpi_tmp_path, finished_run):
    case, run_dir, _ = finished_run
    found = snapshots.available(RunFolder(run_dir).concentration)
    near = nvp_state(case, None, "test", from_run=str(run_dir), time_s=found[1].time_s + 1.0)
    assert near == found[1]
    with pytest.raises(ConfigError, match=r"--from-run = '.*nowhere': no concentration snapshots"):
        nvp_state(case, None, "test", from_run=str(mpi_tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"--time = 10.0 needs --from-run"):
        nvp_state(case.replace(mechanics={"prescribed_y": 0.5}), None, "test", time_s=10.0)
    with pytest.raises(ConfigError, match=r"prescribed_y = 0.5 and concentration_from = 'runs/x' both set"):
        validate({"mechanics": {"prescribed_y": 0.5, "concentration_from": "runs/x"}})
    with pytest.raises(ConfigError, match=r"concentration_time = 5.0 needs concentration_from"):
        validate({"mechanics": {"concentration_time": 5.0}})


def test_resume_truncates_later_snapshots(comm, mpi_tmp_path, finished_run):
    """A resumed run deletes the snapshots after its checkpoint and numbers on from there."""
    import shutil

    _, run_dir, _ = finished_run
    copy = mpi_tmp_path / "copy"
    if comm.rank == 0:
        shutil.copytree(RunFolder(run_dir).concentration, copy)
        found = snapshots.available(copy)
        assert snapshots.truncate_after(copy, found[1].time_s) == len(found) - 2
        assert [s.time_s for s in snapshots.available(copy)] == [s.time_s for s in found[:2]]
    comm.Barrier()
    domain = column(comm)
    c = dolfinx.fem.Function(dolfinx.fem.functionspace(domain.submesh("NVP").mesh, ("Lagrange", 1)), name="c")
    path = snapshots.write(copy, c, 1e6, 0.5, comm)
    if comm.rank == 0:
        assert path.name == "c_0002.npz"
        assert snapshots.available(copy)[-1].time_s == 1e6
