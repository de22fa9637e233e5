"""Slurm: job scripts from the template, queue/accounting parsing, and a real Slurm on localhost.

The real-Slurm tests need ``sbatch`` and a usable node (``scripts/slurm-local.sh start``); they
skip without one on a developer machine and fail in CI (CI=true). The cases run the STAND-IN
SOLVER ``tests/stand_in_run.py`` (no physics) so that the machinery is tested in seconds.
All of them are ``serial``: they drive external processes; no MPI communicator to share.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from sweep_helpers import checkpoint_step, cli, require_slurm, status, wait_for, write_sweep

from fem_electrode.campaign import slurm
from fem_electrode.campaign.collect import collect
from fem_electrode.campaign.executors import submission_ids
from fem_electrode.campaign.job import RunSpec
from fem_electrode.campaign.slurm import SlurmOptions
from fem_electrode.campaign.sweep import load_sweep
from fem_electrode.campaign.sweep_folder import states
from fem_electrode.commands.status import table
from fem_electrode.config import ConfigError

TIMEOUT = 60  # seconds any one Slurm job may take here


def _script(opts: SlurmOptions, array: int | None = 4, tmp=None) -> str:
    return slurm.job_script(opts, RunSpec(ntasks=2), cases_file=tmp or "/x/cases.txt", job_name="fem-s",
                            output="/x/logs/%x-%A_%a.out", array_size=array, origin="test")


def test_job_script_has_the_options_and_leaves_out_empty_ones():
    text = _script(SlurmOptions(venv="/opt/venv", time="02:00:00", signal_seconds=120, max_running=2))
    for line in ("#SBATCH --job-name=fem-s", "#SBATCH --ntasks=2", "#SBATCH --time=02:00:00",
                 "#SBATCH --signal=B:TERM@120", "#SBATCH --array=0-3%2", "#SBATCH --requeue",
                 "source /opt/venv/bin/activate", "exec /opt/venv/bin/python -m fem_electrode.campaign.job "
                 '"$CASE_DIR"'):
        assert line in text, line
    assert "--account" not in text and "--partition" not in text and "module load" not in text
    assert "{{" not in text and "'--launcher=mpiexec -n {ntasks}'" in text

    text = _script(SlurmOptions(account="proj1", partition="short", modules=("gcc/13", "dolfinx/0.11"),
                                venv="", sbatch=("--exclusive",), requeue=False, signal="USR1"), array=None)
    for line in ("#SBATCH --account=proj1", "#SBATCH --partition=short", "#SBATCH --exclusive",
                 "#SBATCH --no-requeue", "#SBATCH --signal=B:USR1@300", "module load gcc/13",
                 "module load dolfinx/0.11", "exec python3 -m fem_electrode.campaign.job"):
        assert line in text, line
    assert "--array" not in text and "activate" not in text
    subprocess.run([shutil.which("bash") or "/bin/bash", "-n"], input=text, text=True, check=True)  # valid


@pytest.mark.parametrize("field", ["partition", "account", "mem", "job_name", "qos", "modules", "setup",
                                   "sbatch"])
def test_control_characters_in_slurm_values_are_refused(field, tmp_path):
    hostile = "short\ntouch /tmp/fem_electrode_pwned"
    value = (hostile,) if field in ("modules", "setup", "sbatch") else hostile
    opts = SlurmOptions(venv="", **{field: value})
    assert any(f"slurm.{field} = " in p and "control character '\\n'" in p for p in opts.problems())
    with pytest.raises(slurm.SlurmError, match="unsafe values"):
        _script(opts)
    path = write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.2]")
    literal = hostile.replace("\n", "\\n")  # a TOML string holding a newline
    key = {"job_name": "job_name"}.get(field, field)
    as_toml = f'["{literal}"]' if field in ("modules", "setup", "sbatch") else f'"{literal}"'
    path.write_text(path.read_text().replace('time = "00:05:00"', f'time = "00:05:00"\n{key} = {as_toml}'))
    with pytest.raises(ConfigError, match=f"slurm.{field} = .*control character"):
        load_sweep(path)
    with pytest.raises(slurm.SlurmError, match="output = .*control character"):
        slurm.job_script(SlurmOptions(venv=""), RunSpec(), cases_file=tmp_path / "c.txt", job_name="j",
                         output="/x/logs\n/bin/sh", array_size=None, origin="test")


def test_printable_hostile_values_stay_quoted_when_the_script_runs(tmp_path, monkeypatch):
    """Spaces, quotes, $(...) and backticks reach the job step as literal text: the rendered script,
    submitted to a stand-in sbatch that runs it with bash (stand-in module and python commands),
    creates none of the marker files."""
    marker = tmp_path / "pwned"
    evil = f"x $(touch {marker}) `touch {marker}` ';touch {marker}'"
    cases = tmp_path / "cases.txt"
    cases.write_text(f"{tmp_path / 'case dir'}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_ins = {
        "python": '#!/bin/bash\nprintf "%s\\n" "$@" > "$STANDIN_ARGS"\n',  # the job step: records its argv
        "sbatch": ('#!/bin/bash\nshift\n(module() { :; }; export -f module; bash "$1") >&2 || exit 1\n'
                   'echo 4242\n'),
    }
    for name, text in stand_ins.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_ARGS", str(tmp_path / "args.txt"))
    opts = SlurmOptions(venv="", partition=evil, account=evil, job_name=evil, modules=(evil,),
                        python=str(bin_dir / "python"))
    run = RunSpec(command=f"fem-electrode run {{case}} -o {{dir}} --note '{evil}'", ntasks=1)
    script = tmp_path / "job.sh"
    script.write_text(slurm.job_script(opts, run, cases_file=cases, job_name=evil,
                                       output=str(tmp_path / "o.log"), array_size=None, origin=evil))
    assert slurm.submit(script) == "4242"
    assert not marker.exists(), script.read_text()
    args = (tmp_path / "args.txt").read_text().splitlines()
    assert args[:3] == ["-m", "fem_electrode.campaign.job", str(tmp_path / "case dir")]
    assert any(evil in a for a in args), args  # the run command arrived intact, as one argument


def test_template_placeholders_must_be_known(tmp_path):
    bad = tmp_path / "bad.sh.tmpl"
    bad.write_text("#!/bin/bash\n{{sbatch}}\n{{nonsense}}\n")
    with pytest.raises(KeyError, match=r"\{\{nonsense\}\} unknown; known: origin"):
        _script(SlurmOptions(template=str(bad)))
    path = write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.2]")
    path.write_text(path.read_text().replace('time = "00:05:00"', 'time = "00:05:00"\nsignal = "TREM"'))
    with pytest.raises(ConfigError, match="slurm.signal = 'TREM': not a signal name"):
        load_sweep(path)


def test_queue_and_accounting_parsing():
    q = slurm.parse_squeue("12|0|RUNNING|None\n12|3|PENDING|Resources\n15|N/A|PENDING|Priority\n")
    assert q[("12", "0")].state == "RUNNING" and q[("12", "3")].reason == "Resources"
    assert q[("15", None)].reason == "Priority"
    a = slurm.parse_sacct("12_0|COMPLETED|0:0|None\n12_1|CANCELLED by 0|0:15|\n12_[2-3]|PENDING|0:0|\n")
    assert a[("12", "1")].state == "CANCELLED" and a[("12", "1")].exit_code == "0:15"
    assert ("12", "[2-3]") not in a and len(a) == 2
    j = slurm.parse_jobcomp("JobId=4 UserId=root(0) JobState=FAILED ArrayJobId=1 ArrayTaskId=2 ExitCode=5:0\n"
                            "JobId=9 JobState=TIMEOUT ExitCode=0:15\n")
    assert j[("1", "2")].state == "FAILED" and j[("1", "2")].exit_code == "5:0"
    assert j[("9", None)].state == "TIMEOUT"


@pytest.fixture
def slurm_up():
    require_slurm()


def _wait(sweep_dir) -> None:
    slurm.wait(submission_ids(sweep_dir), timeout=TIMEOUT, poll=0.25)


@pytest.mark.serial
def test_array_of_four_runs_to_completion_and_collect_gathers_it(tmp_path, slurm_up):
    """Serial: drives external processes; no MPI communicator to share."""
    path = write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.2, 0.3]\nprotocol.c_rate = [0.5, 1.0]")
    assert cli("sweep", path, "--executor", "slurm") == 0
    root = tmp_path / "runs" / "s"
    info = json.loads((root / "sweep.json").read_text())
    (sub,) = info["submissions"]
    assert sub["executor"] == "slurm" and sub["array"] and len(sub["cases"]) == 4
    assert "#SBATCH --array=0-3" in (root / "jobs" / "001-job.sh").read_text()
    _wait(root)

    rows = states(root)
    assert [r.state for r in rows] == ["done"] * 4, table(rows)
    for i, r in enumerate(rows):  # each case ran as its own array task
        assert r.job == f"{sub['job_id']}_{i}"
        assert r.status["slurm_array_task_id"] == str(i) and r.status["slurm_array_job_id"] == sub["job_id"]
    res = collect(root)
    assert [r["state"] for r in res.rows] == ["done"] * 4
    assert {(r["geometry.porosity"], r["protocol.c_rate"]) for r in res.rows} == {
        (0.2, 0.5), (0.2, 1.0), (0.3, 0.5), (0.3, 1.0)}
    assert "capacity" in res.metrics and len(res.plots) == 4  # capacity, voltage.final x 2 params
    assert cli("sweep", path, "--executor", "slurm") == 0  # all done: nothing submitted again
    assert len(json.loads((root / "sweep.json").read_text())["submissions"]) == 1


@pytest.mark.serial
def test_scancel_then_resubmit_resumes_from_the_checkpoint_with_the_same_metrics(tmp_path, slurm_up):
    """Serial: drives external processes; no MPI communicator to share."""
    path = write_sweep(tmp_path, "[grid]\ngeometry.porosity = [0.25]", steps=20, dt=0.1)
    root = tmp_path / "runs" / "s"
    assert cli("sweep", path, "--executor", "slurm") == 0
    case = root / "porosity-0.25"
    wait_for(lambda: checkpoint_step(case) >= 3, TIMEOUT, "the job's third checkpoint")
    (job,) = submission_ids(root)
    subprocess.run(["scancel", job], check=True)
    _wait(root)
    st = status(case)
    assert st["state"] == "interrupted", st
    assert st["reason"].startswith("SIGTERM received")
    stopped_at = checkpoint_step(case)
    assert 3 <= stopped_at < 20

    assert cli("sweep", path, "--executor", "slurm") == 0  # interrupted is not finished: resubmitted
    _wait(root)
    st = status(case)
    assert st["state"] == "done" and st["resumed"] is True and st["attempt"] == 2
    assert "--resume" in st["command"]
    assert [h["state"] for h in st["history"]] == ["interrupted", "done"]
    starts = (case / "starts.log").read_text().splitlines()
    assert starts == ["start step=0 resume=False", f"start step={stopped_at} resume=True"]

    reference = tmp_path / "reference"  # the same case run without interruption (here, no Slurm)
    assert cli("sweep", path, "-o", reference) == 0
    assert (case / "metrics.json").read_text() == (reference / case.name / "metrics.json").read_text()


@pytest.mark.serial
def test_a_failing_case_is_reported_with_its_reason_and_the_rest_completes(tmp_path, slurm_up, capsys):
    """Serial: drives external processes; no MPI communicator to share."""
    path = write_sweep(tmp_path, '[list]\n"case.description" = ["a", "fail", "b", "c"]')
    root = tmp_path / "runs" / "s"
    assert cli("sweep", path, "--executor", "slurm") == 0
    _wait(root)
    rows = {r.id: r for r in states(root)}
    assert [rows[f"description-{d}"].state for d in ("a", "fail", "b", "c")] == [
        "done", "failed", "done", "done"]
    bad = rows["description-fail"]
    assert bad.status["exit_code"] == 1
    assert bad.reason == "RuntimeError: stand-in solver diverged at step 1 (requested by case.description)"
    capsys.readouterr()
    assert cli("status", root) == 0
    out = capsys.readouterr().out
    assert "description-fail  failed" in out and "RuntimeError: stand-in solver diverged" in out
    assert out.splitlines()[-1] == "4 case(s): 3 done, 1 failed"
    assert slurm.accounting(submission_ids(root))  # sacct or the jobcomp log saw the tasks


@pytest.mark.serial
def test_submit_runs_one_case_as_a_one_task_job(tmp_path, slurm_up):
    """Serial: drives external processes; no MPI communicator to share."""
    case = tmp_path / "one.toml"
    case.write_text('[case]\nname = "one"\n[output]\ndirectory = "%s"\n' % (tmp_path / "runs"))
    opts = write_sweep(tmp_path, "", name="site")  # a [run] + [slurm] file
    assert cli("submit", case, "--options", opts) == 0
    folder = tmp_path / "runs" / "one"
    script = (folder / "jobs" / "001-job.sh").read_text()
    assert "--array" not in script and "#SBATCH --time=00:05:00" in script
    _wait(folder)
    (row,) = states(folder)
    assert row.state == "done" and row.dir == folder and row.status.get("slurm_array_task_id") is None
    assert json.loads((folder / "metrics.json").read_text())["steps"] == 4


def test_time_limits_and_the_warning_signal():
    assert [slurm.time_seconds(t) for t in ("30", "30:15", "01:00:00", "2-12", "1-00:00:05", "1 hour")] == [
        1800, 1815, 3600, 216000, 86405, None]
    assert SlurmOptions(time="00:05:00", signal_seconds=60).problems() == []
    (problem,) = SlurmOptions(time="5", signal_seconds=300).problems()
    assert "signal_seconds = 300 is not below the time limit '5' (300 s)" in problem
