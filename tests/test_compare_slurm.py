"""`compare --executor slurm`: every variant (design x seed) as one task of ONE job array, through
the sweep's Slurm executor, and `compare --report-only` on the folder the array filled; plus dry
runs of the shipped cluster presets.

No Slurm is needed: a STAND-IN ``sbatch`` (a bash script put first on PATH) runs every array task
of the submitted script here, one after another, and prints a job id; the tasks run the STAND-IN
solver ``tests/stand_in_run.py`` (no physics; made-up metrics) through the real job step. Nothing
here is a simulation result.

Serial: drives external processes; no MPI communicator to share.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sweep_helpers import cli, stand_in_command, status

from fem_electrode.campaign import compare
from fem_electrode.campaign.sweep_folder import states
from fem_electrode.config import load_case

pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parents[1]
JOB_ID = "4242"
SEEDS = 3
#: Stand-in sbatch: runs each task of the script's ``--array=0-N`` here with the task's Slurm
#: variables (like Slurm would, but in sequence); the tasks' output goes to sbatch's stderr.
SBATCH = f"""#!/bin/bash
script="${{@: -1}}"
echo "$script" >> "$(dirname "$0")/submitted.txt"
last=$(sed -n 's/^#SBATCH --array=0-\\([0-9]*\\).*/\\1/p' "$script")
for ((i = 0; i <= ${{last:-0}}; i++)); do
    SLURM_JOB_ID={JOB_ID} SLURM_ARRAY_JOB_ID={JOB_ID} SLURM_ARRAY_TASK_ID=$i bash "$script" >&2
done
echo {JOB_ID}
"""
@pytest.fixture
def sbatch(tmp_path, monkeypatch) -> Path:
    """A stand-in sbatch first on PATH; returns its folder (``submitted.txt`` lists the scripts)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return bin_dir


def write_case(folder: Path) -> Path:
    path = folder / "tiny.toml"
    path.write_text(f'[case]\nname = "tiny"\n[geometry]\nseed = 3\n'
                    f'[output]\ndirectory = "{folder / "runs"}"\n')
    return path


def write_options(folder: Path) -> Path:
    """An options file: [run] with the stand-in solver, a short [slurm] time."""
    path = folder / "site.toml"
    path.write_text(f'[run]\ncommand = "{stand_in_command(steps=2, dt=0.01)}"\n\n'
                    '[slurm]\ntime = "00:05:00"\nsignal_seconds = 30\n')
    return path


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def script_of(out: str) -> str:
    """The job script printed by a dry run (from its shebang to the end)."""
    return out[out.index("#!/bin/bash"):]


def bash_n(script: str) -> None:
    subprocess.run([shutil.which("bash") or "/bin/bash", "-n"], input=script, text=True, check=True)


def test_dry_run_renders_one_array_of_every_design_and_seed(tmp_path, sbatch, capsys):
    case, out = write_case(tmp_path), tmp_path / "cmp"
    assert cli("compare", case, "-o", out, "--seeds", SEEDS, "--executor", "slurm", "--dry-run",
               "--time", "02:00:00") == 0
    printed = capsys.readouterr()
    script = script_of(printed.out)
    assert f"#SBATCH --array=0-{2 * SEEDS - 1}\n" in script and "#SBATCH --time=02:00:00" in script
    assert "fem_electrode.campaign.job" in script and "fem_electrode.cli run" in script
    bash_n(script)
    tasks = re.findall(r"^would run array task (\d+) in (\S+): (.*)$", printed.out, re.MULTILINE)
    items = compare.variants(load_case(case), out, seeds=SEEDS)
    assert [(int(k), Path(d)) for k, d, _ in tasks] == [(k, out / v.folder) for k, v in enumerate(items)]
    for (_, _, argv), v in zip(tasks, items, strict=True):  # each runs its own folder's case
        assert f"run {(out / v.folder).resolve()}/case.toml -o {(out / v.folder).resolve()}" in argv
    assert "fem-electrode status" in printed.err and "--report-only" in printed.err
    assert not out.exists() and not (sbatch / "submitted.txt").exists()  # nothing written or submitted


def test_array_fills_the_folder_that_report_only_reads(tmp_path, sbatch, capsys):
    case, out = write_case(tmp_path), tmp_path / "cmp"
    options = write_options(tmp_path)
    assert cli("compare", case, "-o", out, "--seeds", SEEDS, "--executor", "slurm", "--options", options) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == JOB_ID
    assert f"fem-electrode compare {case} --report-only -o {out} --seeds {SEEDS}" in printed.err
    assert f"fem-electrode status {out}" in printed.err
    (submitted,) = (sbatch / "submitted.txt").read_text().splitlines()  # one submission
    assert f"#SBATCH --array=0-{2 * SEEDS - 1}\n" in Path(submitted).read_text()
    info = json.loads((out / "sweep.json").read_text())
    items = compare.variants(load_case(case), out, seeds=SEEDS)
    assert info["submissions"][0]["cases"] == [v.folder for v in items]
    rows = states(out)
    assert [(r.id, r.state, r.job) for r in rows] == [
        (v.folder, "done", f"{JOB_ID}_{k}") for k, v in enumerate(items)], [r.reason for r in rows]
    for v in items:  # the run folder a local compare would have written, with this variant's case
        assert compare.is_done(v, out / v.folder)
        assert status(out / v.folder)["slurm_array_task_id"] == str(items.index(v))
        assert (out / v.folder / "starts.log").is_file()  # the stand-in solver ran through the job step

    assert cli("compare", case, "-o", out, "--seeds", SEEDS, "--report-only", "--no-screenshots") == 0
    block = json.loads((out / "comparison.json").read_text())["protocols"][0]["seeds"]
    assert block["n"] == SEEDS
    capacity = {r["key"]: r for r in block["metrics"]}["capacity"]  # the stand-in's metric, per seed
    for design in compare.DESIGNS:
        assert capacity[design]["values"] == [json.loads((out / v.folder / "metrics.json").read_text())[
            "capacity"] for v in items if v.design == design]

    local = tmp_path / "local"  # the same comparison run here: the same run folders, file for file
    runner = compare.job_runner(command=stand_in_command(steps=2, dt=0.01))
    compare.compare(load_case(case), local, runner=runner, jobs=1, screenshots=False, seeds=SEEDS)
    for v in items:
        assert listing(local / v.folder) == listing(out / v.folder)
        assert (local / v.folder / "case.toml").read_text().replace(str(local.resolve()), "OUT") == (
            out / v.folder / "case.toml").read_text().replace(str(out.resolve()), "OUT")

    capsys.readouterr()  # all finished: nothing is submitted again
    assert cli("compare", case, "-o", out, "--seeds", SEEDS, "--executor", "slurm", "--options", options) == 0
    assert "nothing to submit" in capsys.readouterr().err
    assert len((sbatch / "submitted.txt").read_text().splitlines()) == 1
    assert len(json.loads((out / "sweep.json").read_text())["submissions"]) == 1


@pytest.mark.parametrize("flags, expected", [
    (["--executor", "slurm", "--report-only"], "--report-only with --executor slurm"),
    (["--executor", "pbs"], "--executor 'pbs': unknown; allowed: local, slurm"),
    (["--dry-run"], "--dry-run with --executor local"),
    (["--time", "01:00:00"], "--time with --executor local"),
    (["--executor", "slurm", "--time", "1 hour"], "slurm.time = '1 hour': use minutes, HH:MM:SS"),
    (["--executor", "slurm", "--options", "missing.toml"], "--options 'missing.toml': cannot read it"),
])
def test_bad_executor_input_is_one_message_and_exit_2(tmp_path, sbatch, capsys, flags, expected):
    case, out = write_case(tmp_path), tmp_path / "cmp"
    assert cli("compare", case, "-o", out, *flags) == 2
    assert one_error(capsys.readouterr().err, expected)
    assert not out.exists() and not (sbatch / "submitted.txt").exists()


def one_error(err: str, expected: str) -> bool:
    """True when ``err`` holds one error message, and it names ``expected``."""
    assert err.count("error:") == 1 and expected in err, err
    return True


def test_a_bad_slurm_table_in_the_options_file_is_exit_2(tmp_path, sbatch, capsys):
    case, out = write_case(tmp_path), tmp_path / "cmp"
    options = tmp_path / "site.toml"
    options.write_text('[slurm]\npartiton = "short"\n')
    assert cli("compare", case, "-o", out, "--executor", "slurm", "--options", options, "--dry-run") == 2
    assert one_error(capsys.readouterr().err, "[slurm] unknown key 'partiton'; did you mean 'partition'?")
    assert not out.exists()


def test_without_sbatch_the_submission_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", os.path.dirname(os.__file__))  # no sbatch there
    case, out = write_case(tmp_path), tmp_path / "cmp"
    assert cli("compare", case, "-o", out, "--executor", "slurm") == 2
    assert one_error(capsys.readouterr().err, "sbatch not found on PATH")
    assert not out.exists()


@pytest.mark.parametrize("preset, tasks", [("design-map-cluster", 125), ("damage-fade-cluster", 2)])
def test_cluster_presets_render_one_array(tmp_path, sbatch, capsys, preset, tasks):
    """The presets' header: `fem-electrode sweep examples/<preset>.toml --executor slurm --dry-run`."""
    assert cli("sweep", ROOT / "examples" / f"{preset}.toml", "--executor", "slurm", "--dry-run",
               "-o", tmp_path / preset) == 0
    out = capsys.readouterr().out
    script = script_of(out)
    assert f"#SBATCH --array=0-{tasks - 1}\n" in script
    assert len(re.findall(r"^would run ", out, re.MULTILINE)) == tasks
    bash_n(script)
    assert not (tmp_path / preset).exists()
