"""One run per folder, no run or input case overwritten unasked, and a full disk or a failing
write that stops the run cleanly and resumes to the same metrics. Serially and on 2 ranks."""

from __future__ import annotations

import errno
import fcntl
from collections import namedtuple

import pytest
from test_run import column, make_case

from fem_electrode.config import ConfigError, dumps_case, validate
from fem_electrode.outputs import snapshots
from fem_electrode.outputs.timeseries import TimeseriesWriter
from fem_electrode.run import guard, simulation
from fem_electrode.run.folder import RunFolder

PROTOCOL = {"hold_minutes": 0.0, "rest_minutes": 0.0}


def test_a_second_run_into_a_held_folder_is_refused(comm, mpi_tmp_path):
    folder = RunFolder(mpi_tmp_path / "run")
    case = make_case()
    held, resumed = guard.claim(folder, case, comm)
    assert not resumed
    if comm.rank == 0:  # the lock is a real flock: another process could not take it either
        with open(folder.lock) as fh, pytest.raises(BlockingIOError):
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        other = guard._lock(folder)
        assert other[0] is None and "another run is writing into" in other[1]
    held.release()
    held, _ = guard.claim(folder, case, comm)  # released: free again
    held.release()


def test_another_cases_run_is_refused_unless_overwrite(comm, mpi_tmp_path):
    out = mpi_tmp_path / "run"
    first = simulation.run(make_case(protocol=PROTOCOL), out, domain=column(comm))
    assert first.status == "completed"
    other = make_case(protocol={**PROTOCOL, "c_rate": 1.0})
    with pytest.raises(ConfigError, match=r"holds a run of another case \(\[protocol\] 'c_rate = 2.0' vs "
                                          r"'c_rate = 1.0'\); pass --overwrite"):
        simulation.run(other, out, domain=column(comm))
    with pytest.raises(ConfigError, match=r"--resume: .* holds a run of another case"):
        simulation.run(other, out, domain=column(comm), resume=True)
    with pytest.raises(ConfigError, match="contradict"):
        simulation.run(other, out, domain=column(comm), resume=True, overwrite=True)
    comm.Barrier()
    if comm.rank == 0:  # refused runs changed nothing
        assert dumps_case(make_case(protocol=PROTOCOL)).splitlines()[1:] == \
            (out / "case.toml").read_text().splitlines()[1:]
    second = simulation.run(other, out, domain=column(comm), overwrite=True)
    assert second.status == "completed"
    assert second.metrics["capacity_charge_mAh_per_g"] != first.metrics["capacity_charge_mAh_per_g"]


def test_a_fresh_start_deletes_the_previous_attempts_outputs(comm, mpi_tmp_path):
    """The same case started again (no --resume): no stale snapshot survives beside the new ones."""
    case = make_case(protocol={**PROTOCOL, "output_interval": 300.0})
    out = mpi_tmp_path / "run"
    assert simulation.run(case, out, domain=column(comm)).status == "completed"
    stale = out / "concentration" / "c_9999.npz"
    if comm.rank == 0:
        stale.write_bytes((out / "concentration" / "c_0000.npz").read_bytes())
    comm.Barrier()
    again = simulation.run(case, out, domain=column(comm))
    assert again.status == "completed"
    if comm.rank == 0:
        assert not stale.exists()
        names = sorted(p.name for p in (out / "concentration").iterdir())
        assert names == [f"c_{i:04d}.npz" for i in range(len(names))]
        assert len(snapshots.available(out / "concentration")) == len(names)


def test_the_input_case_folder_and_foreign_folders_are_refused(comm, mpi_tmp_path):
    case = make_case()
    user = mpi_tmp_path / "mine"
    if comm.rank == 0:
        user.mkdir()
        (user / "case.toml").write_text('[case]\nname = "column"\n')  # the user's own, short file
        (mpi_tmp_path / "docs").mkdir()
        (mpi_tmp_path / "docs" / "thesis.tex").write_text("...")
    comm.Barrier()
    with pytest.raises(ConfigError, match=r"is the folder of the input case file case.toml"):
        simulation.run(case, user, domain=column(comm), case_file=user / "case.toml")
    with pytest.raises(ConfigError, match=r"holds files that are not a run's \(thesis.tex\)"):
        simulation.run(case, mpi_tmp_path / "docs", domain=column(comm))
    comm.Barrier()
    if comm.rank == 0:
        assert (user / "case.toml").read_text() == '[case]\nname = "column"\n'
        assert sorted(p.name for p in (mpi_tmp_path / "docs").iterdir()) == ["thesis.tex"]
    # the job step's pattern: the folder's own resolved case as input is fine
    job = mpi_tmp_path / "job"
    if comm.rank == 0:
        job.mkdir()
        (job / "case.toml").write_text(dumps_case(case))
    comm.Barrier()
    held, _ = guard.claim(RunFolder(job), case, comm, case_file=job / "case.toml")
    held.release()


@pytest.mark.parametrize("name", [".", "..", "-_-"])
def test_case_names_that_name_no_folder_are_refused(name):
    with pytest.raises(ConfigError, match="at least one letter or digit"):
        validate({"case": {"name": name}})


Usage = namedtuple("Usage", "total used free")


def _stop_when(monkeypatch, step: int, mode: str) -> None:
    """From accepted step ``step`` on: no free disk space (mode "space"), or the next time-series
    row fails with ENOSPC on rank 0 (mode "enospc")."""
    real_accept = simulation.Simulation.accept
    real_write = TimeseriesWriter.write

    def accept(self, *args, **kwargs):
        if self.state.steps + 1 >= step:
            if mode == "space":
                monkeypatch.setattr(guard.shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 0))
            else:
                def full(writer, row):
                    if writer.rank0:
                        raise OSError(errno.ENOSPC, "No space left on device", str(writer.path))
                monkeypatch.setattr(TimeseriesWriter, "write", full)
        real_accept(self, *args, **kwargs)

    monkeypatch.setattr(simulation.Simulation, "accept", accept)
    monkeypatch.setattr(TimeseriesWriter, "write", real_write)


@pytest.mark.parametrize("mode", ["space", "enospc"])
def test_a_full_disk_stops_the_run_cleanly_and_it_resumes(comm, mpi_tmp_path, monkeypatch, mode):
    case = make_case(protocol={**PROTOCOL, "output_interval": 300.0}, output={"checkpoint_interval": 200.0})
    ref = simulation.run(case, mpi_tmp_path / "ref", domain=column(comm))
    out = mpi_tmp_path / "run"
    _stop_when(monkeypatch, 30, mode)
    stopped = simulation.run(case, out, domain=column(comm))
    assert stopped.status == "failed"
    expected = "no space left for the next" if mode == "space" else "cannot write the time series"
    assert expected in stopped.reason
    assert "--resume" in stopped.reason
    monkeypatch.undo()
    if comm.rank == 0:
        assert (out / "checkpoint.npz").is_file()
    resumed = simulation.run(case, out, domain=column(comm), resume=True)
    assert resumed.status == "completed", resumed.reason
    for key in ("capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g", "polarization_V"):
        assert resumed.metrics[key] == pytest.approx(ref.metrics[key], rel=1e-8), key
    assert resumed.metrics["steps"] == ref.metrics["steps"]


class _Messages:
    def __init__(self):
        import logging

        self.handler = logging.Handler()
        self.messages: list[str] = []
        self.handler.emit = lambda record: self.messages.append(record.getMessage())


def test_unused_petsc_options_are_reported(comm):
    import logging

    from builders import electro_params, solver_settings
    from layered import layered_box

    from fem_electrode.problems.electrochemistry import ElectrochemistryProblem

    seen = _Messages()
    logger = logging.getLogger("fem_electrode")
    logger.addHandler(seen.handler)
    try:
        domain = layered_box(comm, (1e-6, 1e-6, 3e-6), (1, 1, 3), z_interface=2e-6)
        settings = solver_settings("direct", petsc={"ksp_rtool": 1e-9, "ksp_rtol": 1e-12,
                                                    "mechanics_ksp_rtol": 1e-9})
        prob = ElectrochemistryProblem(domain, electro_params(), settings, c_rate=1.0)
        prob.set_galvanostatic(1e-12)
        assert prob.solve(1.0).converged
        prob.close()
    finally:
        logger.removeHandler(seen.handler)
    if comm.rank == 0:
        reports = [m for m in seen.messages if "not used" in m]
        assert len(reports) == 1 and "ksp_rtool" in reports[0], seen.messages
        assert "ksp_rtol," not in reports[0] and "mechanics_" not in reports[0]  # used / not this solver's


def test_check_prints_the_size_estimate(comm, mpi_tmp_path, capsys):
    from fem_electrode import cli

    case = mpi_tmp_path / "huge.toml"
    if comm.rank == 0:
        case.write_text('[case]\nname = "huge"\n[geometry]\nbox = [1000.0, 1000.0, 1000.0]\n')
    comm.Barrier()
    assert cli.main(["check", str(case)]) == 0
    err = capsys.readouterr().err
    if comm.rank == 0:  # the log prints on rank 0
        assert "estimated size: ~2.9e+11 tetrahedra, ~1.3e+11 coupled dofs" in err


def test_checkpoint_matching_tolerates_coordinates_a_grid_step_apart(comm, mpi_tmp_path):
    """Dof coordinates of the same node can differ in the last bits between two partitions (the
    push-forward runs in another cell). A checkpoint whose coordinates are 0.6e-9 x the box size
    off still restores every dof; rounding both to a 1e-9 grid (the old matching) splits most of
    them into neighbouring bins."""
    import numpy as np
    from layered import layered_box

    from fem_electrode.fem.fenicsx import dolfinx
    from fem_electrode.outputs import checkpoint

    domain = layered_box(comm, (1e-6, 1e-6, 3e-6), (2, 2, 6), z_interface=2e-6)
    V = dolfinx.fem.functionspace(domain.submesh("NZSP").mesh, ("Lagrange", 1))
    f = dolfinx.fem.Function(V, name="phi_e")
    n = V.dofmap.index_map.size_local
    x = V.tabulate_dof_coordinates()[:n]
    xs = np.concatenate(comm.allgather(x))
    values = np.arange(len(xs), dtype=float)
    size = float(np.max(xs.max(axis=0) - xs.min(axis=0)))
    shifted = xs + np.array([0.6 * checkpoint.MATCH_TOLERANCE * size, 0.0, 0.0])
    path = mpi_tmp_path / "shifted.npz"
    if comm.rank == 0:
        np.savez(path, **{"phi_e.x": shifted, "phi_e.v": values, "state": np.array('{"t": 1}')})
    comm.Barrier()
    assert checkpoint.read(path, [f], comm) == {"t": 1}
    # the node each dof sits on (nearest written coordinate; a ghost's may differ in the last bits)
    here = V.tabulate_dof_coordinates()
    want = values[np.argmin(np.linalg.norm(here[:, None, :] - xs[None, :, :], axis=2), axis=1)]
    assert np.array_equal(f.x.array, want)
    far = mpi_tmp_path / "far.npz"  # beyond the tolerance: refused, not matched to a neighbour
    if comm.rank == 0:
        np.savez(far, **{"phi_e.x": xs + 2e-3 * size, "phi_e.v": values, "state": np.array("{}")})
    comm.Barrier()
    with pytest.raises(ValueError, match="do not match the mesh"):
        checkpoint.read(far, [f], comm)


#: The estimate of the default case (10 µm infiltrated box, iterative solver), by hand from the
#: rates in fem_electrode/run/estimate.py: bulk 80.5 x 1000 µm³ / (1 µm)³ = 80 500 tets; NVP
#: layer t = 1 µm x (1 - (1 - 0.155/0.2)^(1/3)) = 0.392 µm, h = t / 2 / 1.5 = 0.131 µm, 3 x 155 µm³ /
#: h³ = 2.09e5 tets; 2.9e5 tets x 0.44 = 1.27e5 dofs x 5 kB = 0.59 GiB.
DEFAULT_SIZE = "~2.9e+05 tetrahedra, ~1.3e+05 coupled dofs, ~0.59 GiB"


def test_run_announces_its_size_from_the_default_size_on(comm, capsys):
    """`run` prints the estimate (dofs, memory, time) of a case at least as large as the default
    case, and stays quiet for a smaller one."""
    from fem_electrode.commands import run as run_command
    from fem_electrode.util.log import setup_logging

    setup_logging(0)  # as the command line does: info on rank 0's stderr
    announced = {}
    for name, data in (("default", {}), ("huge", {"geometry": {"box": [1000.0, 1000.0, 1000.0]}}),
                       ("smaller", {"geometry": {"box": [9.5, 10.0, 10.0]}})):
        capsys.readouterr()
        run_command.announce_size(validate(data))
        announced[name] = [line for line in capsys.readouterr().err.splitlines() if "estimated size" in line]
    if comm.rank == 0:
        assert len(announced["default"]) == 1, announced
        line = announced["default"][0]
        assert DEFAULT_SIZE in line and "per cycle" in line and f"on {comm.size} rank(s)" in line
        assert len(announced["huge"]) == 1 and "~1.3e+11 coupled dofs" in announced["huge"][0]
    assert announced["smaller"] == []
    capsys.readouterr()  # the tiny column of the survival tests
    run_command.announce_size(validate({"geometry": {"kind": "column", "box": [1.0, 1.0, 3.0],
                                                     "film_thickness": 1.0}, "mesh": {"size_max": 0.5}}))
    assert "estimated size" not in capsys.readouterr().err


def test_run_prints_the_estimate_before_it_starts(comm, mpi_tmp_path, capsys):
    """`run EMPTY --defaults` accepts the empty case file, prints its estimate, and only then claims
    the run folder (here not creatable: exit 2 before any meshing)."""
    from fem_electrode import cli

    empty = mpi_tmp_path / "empty.toml"
    if comm.rank == 0:
        empty.write_text("")
        (mpi_tmp_path / "a_file").write_text("x")
    comm.Barrier()
    out = mpi_tmp_path / "a_file" / "out"
    capsys.readouterr()
    assert cli.main(["run", str(empty), "-o", str(out)]) == 2  # without --defaults: refused at once
    err = capsys.readouterr().err
    if comm.rank == 0:
        assert "the case file is empty" in err and "estimated size" not in err
    assert cli.main(["run", str(empty), "--defaults", "-o", str(out)]) == 2
    lines = capsys.readouterr().err.splitlines()
    if comm.rank == 0:
        errors = [i for i, line in enumerate(lines) if line.startswith("error")]
        sizes = [i for i, line in enumerate(lines) if "estimated size" in line]
        assert len(errors) == 1 and "cannot write there" in "\n".join(lines[errors[0]:]), lines
        assert len(sizes) == 1 and sizes[0] < errors[0], lines
        assert DEFAULT_SIZE in lines[sizes[0]]
    assert sorted(p.name for p in mpi_tmp_path.iterdir()) == ["a_file", "empty.toml"]
