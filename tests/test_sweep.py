"""Sweep files: expansion (grid product, list zip, replicates), validation of every case before
any folder exists, skip-finished / retry-failed, status and collect.

Runs use the STAND-IN SOLVER ``tests/stand_in_run.py`` (no physics; it behaves like
``fem-electrode run`` towards the job machinery: metrics, checkpoints, SIGTERM, failures).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from sweep_helpers import checkpoint_step, cli, status, wait_for, write_sweep

from fem_electrode.campaign import status as casestatus
from fem_electrode.campaign.collect import collect
from fem_electrode.campaign.job import RunSpec
from fem_electrode.campaign.slurm import SlurmOptions
from fem_electrode.campaign.sweep import SweepSettings, case_id, load_sweep
from fem_electrode.campaign.sweep_folder import plan, prepare, states
from fem_electrode.commands.status import table
from fem_electrode.config import ConfigError

GRID = """
[grid]
geometry.porosity = [0.2, 0.3]
"protocol.c_rate" = [0.1, 1, 2]

[list]
"geometry.pore_radius_mean" = [0.8, 1.0]
"geometry.pore_radius_min" = [0.5, 0.6]
"""


def test_grid_is_a_product_and_list_a_zip(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, GRID))
    assert len(sweep.points) == 2 * 3 * 2
    assert sweep.swept == ("geometry.porosity", "protocol.c_rate", "geometry.pore_radius_mean",
                           "geometry.pore_radius_min")
    combos = {tuple(p.values.values()) for p in sweep.points}
    assert (0.3, 2.0, 1.0, 0.6) in combos and (0.3, 2.0, 1.0, 0.5) not in combos  # zipped, not crossed
    p = sweep.points[-1]
    assert p.id == "porosity-0.3__c_rate-2.0__pore_radius_mean-1.0__pore_radius_min-0.6"
    assert p.case.geometry.porosity == 0.3 and p.case.protocol.c_rate == 2.0  # int 2 validated to 2.0
    assert p.case.case.name == p.id  # meshes and run files are named per case
    assert p.case.mesh.directory == str((sweep.directory / p.id).resolve())
    assert sweep.directory == tmp_path / "runs" / "s"
    assert not sweep.directory.exists()  # loading creates nothing


def test_replicates_add_a_seed_axis(tmp_path):
    path = write_sweep(tmp_path, "[base.geometry]\nseed = 5\n", sweep="replicates = 3")
    sweep = load_sweep(path)
    assert [p.case.geometry.seed for p in sweep.points] == [5, 6, 7]
    assert [p.id for p in sweep.points] == ["seed-5", "seed-6", "seed-7"]


def test_case_ids_are_unique_and_safe():
    assert case_id({"geometry.box": [10.0, 5.0, 5.0], "case.description": "a b/c"}) == \
        "box-10.0x5.0x5.0__description-a-b-c"
    assert case_id({"geometry.seed": 1, "mesh.seed": 2}) == "geometry_seed-1__mesh_seed-2"
    long = case_id({"case.description": "x" * 300})
    assert len(long) <= 96


@pytest.mark.parametrize("body, expected", [
    ('[grid]\ngeometry.porsity = [0.2]', "did you mean 'geometry.porosity'?"),
    ('[grid]\nporosity = [0.2]', "give the section: 'geometry.porosity'"),
    ('[grid]\n"protocol.crate" = [1.0]', "did you mean 'protocol.c_rate'?"),
    ('[grd]\ngeometry.porosity = [0.2]', "unknown table [grd]; did you mean [grid]?"),
    ('[grid]\ngeometry.porosity = [0.2]', "[run] unknown key 'comand'; did you mean 'command'?"),
])
def test_unknown_keys_suggest_the_closest_and_create_nothing(tmp_path, body, expected):
    path = write_sweep(tmp_path, body, run='comand = "x"' if "comand" in expected else "")
    assert cli("sweep", path) == 2
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    assert expected in str(err.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("body, flags, expected", [
    ("[grid]\ngeometry.porosity = []", (), "geometry.porosity = []: an empty list gives no cases"),
    ("", (), "nothing to sweep"),
    ("[grid]\ngeometry.porosity = 0.2", (), "give a list of values"),
    ('[list]\n"geometry.porosity" = [0.2, 0.3]\n"protocol.c_rate" = [1.0]', (), "need equal lengths"),
    ("[grid]\ngeometry.porosity = [0.2]\n[list]\ngeometry.porosity = [0.3]", (), "in both [grid] and [list]"),
    ("[grid]\ngeometry.porosity = [0.2]", ("--command", "x {bogus}"), "unknown field {bogus}"),
    ("[grid]\ngeometry.porosity = [0.2]", ("--time", "1 hour"), "slurm.time = '1 hour'"),
    ("[grid]\ngeometry.porosity = [0.2]", ("-n", "0"), "run.ntasks = 0: must be >= 1"),
])
def test_bad_sweeps_are_errors_before_any_folder(tmp_path, body, flags, expected):
    path = write_sweep(tmp_path, body)
    assert cli("sweep", path, *flags) == 2
    assert not (tmp_path / "runs").exists()
    over = dict(zip(flags[::2], flags[1::2], strict=True))
    run = {"command": over["--command"]} if "--command" in over else {}
    run |= {"ntasks": int(over["-n"])} if "-n" in over else {}
    with pytest.raises(ConfigError) as err:
        load_sweep(path, run=run, slurm={"time": over["--time"]} if "--time" in over else {})
    assert expected in str(err.value)


def test_every_expanded_case_is_validated_first(tmp_path):
    path = write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.1, 0.2, 0.9]")
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    text = str(err.value)
    assert "case geometry.porosity = 0.9: geometry.porosity = 0.9" in text and "(0, 0.6]" in text
    assert "case geometry.porosity = 0.1: geometry: nvp_fraction = 0.155 must be below porosity" in text
    assert len(err.value.problems) == 2
    assert cli("sweep", path) == 2
    assert not (tmp_path / "runs").exists()


def test_more_cases_than_the_limit_need_yes(tmp_path):
    body = "[grid]\ngeometry.seed = [1, 2, 3, 4]\nprotocol.c_rate = [0.1, 0.2, 0.3]"
    path = write_sweep(tmp_path, body, sweep="max_cases = 10")
    with pytest.raises(ConfigError, match="expands to 12 cases, more than max_cases = 10.*--yes"):
        load_sweep(path)
    assert cli("sweep", path) == 2
    assert len(load_sweep(path, yes=True).points) == 12
    assert cli("sweep", path, "--yes", "--dry-run") == 0
    assert not (tmp_path / "runs").exists()  # a dry run creates nothing


def test_missing_sbatch_is_an_error_before_any_folder(tmp_path, monkeypatch):
    path = write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.2, 0.3]")
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # the venv's bin/ has no sbatch
    assert cli("sweep", path, "--executor", "slurm") == 2
    assert not (tmp_path / "runs").exists()
    case = tmp_path / "case.toml"
    case.write_text('[case]\nname = "one"\n')
    assert cli("submit", case, "-o", tmp_path / "one") == 2
    assert not (tmp_path / "one").exists()


def test_a_folder_holding_a_different_case_is_an_error(tmp_path):
    path = write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.2, 0.3]")
    prepare(load_sweep(path))
    path.write_text(path.read_text().replace('name = "base"', 'name = "base"\n[base.protocol]\nc_rate = 3.0'))
    with pytest.raises(ConfigError, match="holds a different case"):
        plan(load_sweep(path))


def _fake_results(sweep, metrics_of):
    """Mark cases done with hand-written metrics (what a finished run leaves behind)."""
    for p in sweep.points:
        cdir = sweep.directory / p.dir
        m = metrics_of(p)
        if m is None:
            casestatus.write(cdir, "failed", exit_code=1, reason="RuntimeError: diverged", attempt=1)
        else:
            (cdir / "metrics.json").write_text(json.dumps(m))
            casestatus.write(cdir, "done", exit_code=0, attempt=1)


def test_collect_writes_results_csv_and_one_plot_per_metric_and_parameter(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, '[grid]\ngeometry.porosity = [0.2, 0.3]\n'
                                   'protocol.c_rate = [0.5, 1.0, 2.0]'))
    prepare(sweep)

    def metrics(p):
        if p.values["protocol.c_rate"] == 2.0 and p.values["geometry.porosity"] == 0.3:
            return None  # one failed case
        por, rate = p.values["geometry.porosity"], p.values["protocol.c_rate"]
        return {"capacity": por / rate, "stress": {"max": 10 * por, "mean": 1.0}, "series": [1, 2],
                "solver": "x"}

    _fake_results(sweep, metrics)
    res = collect(sweep.directory)
    lines = (sweep.directory / "results.csv").read_text().splitlines()
    assert lines[0] == ("case,state,geometry.porosity,protocol.c_rate,capacity,stress.max,stress.mean,"
                        "solver,note")
    assert len(lines) == 1 + 6
    failed = [ln for ln in lines if ",failed," in ln]
    assert failed == ["porosity-0.3__c_rate-2.0,failed,0.3,2.0,,,,,RuntimeError: diverged"]
    assert "porosity-0.2__c_rate-0.5,done,0.2,0.5,0.4,2.0,1.0,x," in lines
    # stress.mean is constant and solver not numeric: no plots of them
    names = sorted(p.name for p in res.plots)
    assert names == ["capacity--vs--geometry.porosity.png", "capacity--vs--protocol.c_rate.png",
                     "stress.max--vs--geometry.porosity.png", "stress.max--vs--protocol.c_rate.png"]
    assert all(p.stat().st_size > 5000 for p in res.plots)


def test_status_table_shows_state_and_reason(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.2, 0.3]"))
    prepare(sweep)
    _fake_results(sweep, lambda p: None if p.values["geometry.porosity"] == 0.3 else {"c": 1.0})
    text = table(states(sweep.directory))
    assert "porosity-0.3  failed" in text and "RuntimeError: diverged" in text
    assert text.splitlines()[-1] == "2 case(s): 1 done, 1 failed"
    assert cli("status", sweep.directory) == 0
    assert cli("status", tmp_path) == 2  # not a sweep folder


@pytest.mark.serial
def test_local_sweep_skips_finished_and_retries_failed_only_when_asked(tmp_path):
    """Serial: drives external processes; no MPI communicator to share."""
    path = write_sweep(tmp_path, '[list]\n"case.description" = ["ok", "fail", "fine"]')
    assert cli("sweep", path, "-n", "1") == 1  # one case failed
    root = tmp_path / "runs" / "s"
    ok, bad, fine = (root / f"description-{d}" for d in ("ok", "fail", "fine"))
    assert status(ok)["state"] == "done" and status(fine)["state"] == "done"
    assert status(bad)["state"] == "failed" and status(bad)["exit_code"] == 1
    assert status(bad)["reason"] == ("RuntimeError: stand-in solver diverged at step 1 "
                                     "(requested by case.description)")
    assert "mpiexec -n 1" in status(ok)["command"]
    assert json.loads((ok / "metrics.json").read_text())["steps"] == 4

    assert cli("sweep", path) == 0  # all skipped: done, and failed without --retry-failed
    assert [status(d)["attempt"] for d in (ok, bad, fine)] == [1, 1, 1]

    assert cli("sweep", path, "--retry-failed") == 1
    assert [status(d)["attempt"] for d in (ok, bad, fine)] == [1, 2, 1]
    assert status(bad)["history"][0]["state"] == "failed"


@pytest.mark.serial
def test_sigterm_interrupts_and_a_rerun_resumes_with_the_same_metrics(tmp_path):
    """The job step forwards SIGTERM (as Slurm's --signal sends it); the stand-in checkpoints.

    Serial: drives external processes; no MPI communicator to share."""
    path = write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.2]", steps=12, dt=0.1)
    sweep = load_sweep(path)
    prepare(sweep)
    first = sweep.directory / sweep.points[0].dir
    proc = subprocess.Popen([sys.executable, "-m", "fem_electrode.casejob", str(first), *sweep.run.as_args()])
    wait_for(lambda: checkpoint_step(first) >= 3, 30, "the stand-in's third checkpoint")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    st = status(first)
    assert st["state"] == "interrupted" and st["reason"].startswith("SIGTERM received")
    stopped_at = checkpoint_step(first)
    assert 3 <= stopped_at < 12

    assert cli("sweep", path) == 0  # the interrupted case is not finished: it runs again and resumes
    assert status(first)["state"] == "done" and status(first)["resumed"] is True
    assert status(first)["attempt"] == 2
    starts = (first / "starts.log").read_text().splitlines()
    assert starts == ["start step=0 resume=False", f"start step={stopped_at} resume=True"]

    reference = tmp_path / "reference"  # the same case, uninterrupted
    assert cli("sweep", path, "-o", reference) == 0
    assert (first / "metrics.json").read_text() == (reference / first.name / "metrics.json").read_text()


def test_docs_describe_every_sweep_option():
    text = (Path(__file__).resolve().parents[1] / "docs" / "cluster.md").read_text()
    missing = [f"{cls.__name__}.{f.name}" for cls in (SweepSettings, RunSpec, SlurmOptions)
               for f in fields(cls) if f"`{f.name}`" not in text]
    assert not missing, f"docs/cluster.md does not describe {missing}"


@pytest.mark.serial
def test_input_files_of_the_base_case_are_found_from_every_case_folder(tmp_path):
    """Serial: file handling only. A relative geometry.image in the base case file is relative
    to that file's folder, one in the sweep file's inline [base] to the sweep file's folder;
    each expanded case (written into its own folder) holds the absolute path."""
    import numpy as np

    cases, sweeps = tmp_path / "cases", tmp_path / "sweeps"
    cases.mkdir()
    sweeps.mkdir()
    labels = np.ones((4, 4, 4), dtype=np.uint8)  # NZSP, an NVP layer at the top, a pore in it
    labels[3] = 2
    labels[3, 1, 1] = 0
    np.save(cases / "a.npy", labels)
    np.save(sweeps / "b.npy", labels)
    (cases / "base.toml").write_text('[case]\nname = "img"\n[geometry]\nkind = "image"\nimage = "a.npy"\n'
                                     'image_voxel_size = [0.5, 0.5, 0.5]\n')
    (sweeps / "s.toml").write_text('[sweep]\nname = "s"\nbase = "../cases/base.toml"\n'
                                   '[grid]\n"protocol.c_rate" = [1.0, 2.0]\n')
    (sweeps / "t.toml").write_text('[sweep]\nname = "t"\nbase = "../cases/base.toml"\n'
                                   '[base.geometry]\nimage = "b.npy"\n[grid]\n"protocol.c_rate" = [1.0]\n')
    for name, expected in (("s.toml", cases / "a.npy"), ("t.toml", sweeps / "b.npy")):
        sweep = load_sweep(sweeps / name, directory=tmp_path / "out" / name)
        for point in sweep.points:
            assert point.case.geometry.image == str(expected.resolve()), name
