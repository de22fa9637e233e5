"""What a run survives on a cluster (the failure classes of issue 17), each as a real run:

- an error on one MPI rank ends every rank promptly with one message (no hang): bad
  ``--mesh`` files, an unwritable output folder, binary and empty case files, a bad PETSc
  option value, an exception on rank 1 only;
- checkpoints restore on any rank count, for meshes of every generated kind;
- a hard kill (SIGKILL) during a step, a field write or a checkpoint write resumes to the
  metrics of an uninterrupted run.

Each test here launches its own processes (``fem-electrode`` or ``mpiexec -n 2``), so it is
marked serial: under the MPI test run every rank would launch them again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.serial

BIN = Path(sys.executable).parent
MPIEXEC = str(BIN / "mpiexec")
CLI = [sys.executable, "-m", "fem_electrode.cli"]
#: Every subprocess ends well within this (s); a hang fails the test instead of the CI run.
TIMEOUT = 240

COLUMN = """[case]
name = "col"
[geometry]
kind = "column"
box = [1.0, 1.0, 3.0]
film_thickness = 1.0
[mesh]
size_max = 0.5
directory = "{meshes}"
[materials]
D_nvp = 1e-15
[mechanics]
coupling = "one_way"
[protocol]
c_rate = 2.0
hold_minutes = 0.0
dt_max = 100.0
output_interval = 300.0
[output]
checkpoint_interval = 200.0
[solver]
linear = "direct"
"""


def _case(folder: Path, **replace: str) -> Path:
    text = COLUMN.format(meshes=folder / "meshes")
    for old, new in replace.items():
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "case.toml"
    path.write_text(text)
    return path


def _run(args: list[str], ranks: int = 1, timeout: float = TIMEOUT, **kw) -> subprocess.CompletedProcess:
    cmd = [MPIEXEC, "-n", str(ranks), *CLI, *args] if ranks > 1 else [*CLI, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    """The column case, run uninterrupted (serially) once for the whole module."""
    folder = tmp_path_factory.mktemp("ref")
    case = _case(folder)
    done = _run(["run", str(case), "-o", str(folder / "run")])
    assert done.returncode == 0, done.stderr
    return folder, _metrics(folder / "run")


# ---- one message, every rank ends ----------------------------------------------------------------
def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error")]


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "foreign"])
def test_a_bad_mesh_ends_both_ranks_with_one_message(kind, tmp_path, reference):
    ref_folder, _ = reference
    case = _case(tmp_path)
    built = ref_folder / "meshes" / "col.msh"
    mesh = tmp_path / f"{kind}.msh"
    if kind == "empty":
        mesh.write_bytes(b"")
    elif kind == "text":
        mesh.write_text("this is not a mesh\n")
    elif kind == "truncated":
        mesh.write_bytes(built.read_bytes()[:2000])
    else:  # a mesh built for another case (its provenance differs)
        other = _case(tmp_path / "other", **{"film_thickness = 1.0": "film_thickness = 1.5"})
        assert _run(["mesh", str(other)]).returncode == 0
        mesh = tmp_path / "other" / "meshes" / "col.msh"
    proc = _run(["run", str(case), "-o", str(tmp_path / "out"), "--mesh", str(mesh)], ranks=2)
    assert proc.returncode == 2, proc.stderr
    errors = _errors(proc.stderr)
    assert len(errors) == 1, proc.stderr
    expected = {"empty": "the file is empty", "text": "does not start with $MeshFormat",
                "truncated": "gmsh cannot read it", "foreign": "was built for another case"}[kind]
    assert expected in proc.stderr
    assert not (tmp_path / "out").exists()
    if kind == "foreign":  # the user may insist
        forced = _run(["run", str(case), "-o", str(tmp_path / "forced"), "--mesh", str(mesh),
                       "--force-mesh"], ranks=2)
        assert forced.returncode == 0, forced.stderr


@pytest.mark.parametrize("kind", ["binary case", "empty case", "unwritable folder", "petsc value"])
def test_bad_input_ends_both_ranks_with_one_message_and_code_2(kind, tmp_path):
    case = _case(tmp_path)
    out = tmp_path / "out"
    expected = {"binary case": "not a text (UTF-8) file", "empty case": "the case file is empty",
                "unwritable folder": "cannot write there", "petsc value": "PETSc rejected an option"}[kind]
    if kind == "binary case":
        case.write_bytes(bytes(range(256)))
    elif kind == "empty case":
        case.write_text("")
    elif kind == "unwritable folder":
        (tmp_path / "a_file").write_text("x")
        out = tmp_path / "a_file" / "out"  # not creatable, whoever runs the test (root included)
    else:
        case.write_text(case.read_text().replace('linear = "direct"', 'linear = "iterative"\n'
                                                 'petsc = { fieldsplit_c_pc_gamg_threshold = "xyz" }'))
    proc = _run(["run", str(case), "-o", str(out)], ranks=2)
    assert proc.returncode == 2, proc.stderr
    assert len(_errors(proc.stderr)) == 1, proc.stderr
    assert expected in proc.stderr


def test_an_error_on_one_rank_only_ends_every_rank(tmp_path):
    """Rank 1 raises in its third Newton solve while rank 0 goes on into a collective call: the
    job must end (MPI_Abort) with the message of rank 1 instead of hanging."""
    case = _case(tmp_path)
    cmd = [MPIEXEC, "-n", "2", sys.executable, str(ROOT / "tests" / "kill_driver.py"), "raise-rank1", "3",
           "--", "run", str(case), "-o", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 1, proc.stderr
    errors = _errors(proc.stderr)
    assert len(errors) == 1 and "injected failure on rank 1 only" in errors[0], proc.stderr
    assert "rank 1 of 2" in errors[0]


# ---- checkpoints on any rank count -------------------------------------------------------------
KINDS = {
    "infiltrated": 'kind = "infiltrated"\nbox = [3.0, 3.0, 3.0]\npore_radius_mean = 0.6\n'
                   'pore_radius_min = 0.45\npore_radius_max = 0.75\nseed = 4',
    "cosintered": 'kind = "cosintered"\nbox = [3.0, 3.0, 3.0]\npore_radius_mean = 0.5\n'
                  'pore_radius_min = 0.3\npore_radius_max = 0.7\nresidual_pore_radius = 0.3',
    "sphere_inclusion": 'kind = "sphere_inclusion"\nbox = [3.0, 3.0, 3.0]\ninclusion_radius = 1.0',
    "coated_cavity": 'kind = "coated_cavity"\nbox = [3.0, 3.0, 3.0]\ninclusion_radius = 1.0\n'
                     'coating_thickness = 0.3',
    "film": 'kind = "film"\nbox = [2.0, 2.0, 2.0]\nfilm_thickness = 0.6',
    "column": 'kind = "column"\nbox = [1.0, 1.0, 3.0]\nfilm_thickness = 1.0',
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_checkpoints_restore_on_any_rank_count(kind, tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(f'[case]\nname = "m"\n[geometry]\n{KINDS[kind]}\n[mesh]\nsize_max = 0.6\n'
                    f'elements_across_layer = 1\ndirectory = "{tmp_path}"\n')
    assert _run(["mesh", str(case)]).returncode == 0
    script = str(ROOT / "tests" / "checkpoint_roundtrip.py")
    for written, read in ((2, 1), (1, 2), (2, 2)):
        path = tmp_path / f"ckpt-{written}.npz"
        mesh = str(tmp_path / "m.msh")
        w = subprocess.run([MPIEXEC, "-n", str(written), sys.executable, script, "write", mesh, str(path)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert w.returncode == 0, w.stderr
        r = subprocess.run([MPIEXEC, "-n", str(read), sys.executable, script, "read", mesh, str(path)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, (written, read, r.stdout, r.stderr)
        assert f"written on {written} rank(s), read on {read}" in r.stdout


@pytest.mark.parametrize(("written", "read"), [(2, 1), (2, 2), (1, 2)])
def test_a_real_run_resumes_on_another_rank_count(written, read, tmp_path, reference):
    """Run on ``written`` ranks, stopped by SIGTERM after its first checkpoint, resumed on ``read``
    ranks (2 -> 2 is the requeue of a multi-rank job, which failed on ghost dofs)."""
    import signal
    import time

    _, ref = reference
    case = _case(tmp_path)
    out = tmp_path / "run"
    first = [MPIEXEC, "-n", str(written), *CLI] if written > 1 else CLI
    proc = subprocess.Popen([*first, "run", str(case), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and not (out / "checkpoint.npz").is_file():
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    log, _ = proc.communicate(timeout=TIMEOUT)
    assert not (out / "metrics.json").exists(), log  # stopped before the end
    done = _run(["run", str(case), "-o", str(out), "--resume"], ranks=read)
    assert done.returncode == 0, done.stderr
    got = _metrics(out)
    assert "resumed from" in (out / "run.log").read_text()
    for key in ("capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g", "polarization_V"):
        assert got[key] == pytest.approx(ref[key], rel=1e-6), key


# ---- hard kills -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("where", "n"), [("step", 25), ("fields", 18), ("checkpoint", 2)])
def test_a_hard_kill_resumes_to_the_same_metrics(where, n, tmp_path, reference):
    _, ref = reference
    case = _case(tmp_path)
    out = tmp_path / "run"
    driver = [sys.executable, str(ROOT / "tests" / "kill_driver.py"), where, str(n), "--"]
    killed = subprocess.run([*driver, "run", str(case), "-o", str(out)], capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert killed.returncode == -9, killed.stderr  # SIGKILL
    assert not (out / "metrics.json").exists()
    assert (out / "checkpoint.npz").is_file()  # the previous checkpoint, whole
    import numpy as np

    with np.load(out / "checkpoint.npz") as npz:
        assert "state" in npz.files
    done = _run(["run", str(case), "-o", str(out), "--resume"])
    assert done.returncode == 0, done.stderr
    _assert_same_metrics(_metrics(out), ref)
    shutil.rmtree(out)


def _assert_same_metrics(got: dict, ref: dict) -> None:
    assert got["status"] == "completed"
    # the same steps; round-off of the factorisation (threaded BLAS in MUMPS) reaches ~1e-12
    # over a cycle, a state not restored would show as >= 1e-6
    for key in ("capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g", "polarization_V",
                "coulombic_efficiency"):
        assert got[key] == pytest.approx(ref[key], rel=1e-9), key
    assert got["steps"] == ref["steps"]
    # the mechanics solve (CG, rtol 1e-10) starts from another initial guess after a restart
    assert got["mechanics"]["phases"]["NVP"]["von_mises"]["p95"] == pytest.approx(
        ref["mechanics"]["phases"]["NVP"]["von_mises"]["p95"], rel=1e-9)


@pytest.mark.parametrize(("where", "n"), [("step-rank1", 25), ("fields", 18), ("checkpoint", 2)])
def test_a_hard_kill_on_two_ranks_resumes_to_the_same_metrics(where, n, tmp_path, reference):
    """A 2-rank job with one rank SIGKILLed (rank 1 in a Newton solve; rank 0 writing the
    checkpoint) or both (in the middle of a collective field write): the launcher ends the whole
    job (hydra: exit code 9, no hang), and the run resumes on 2 ranks to the metrics of the
    uninterrupted (serial) run; the 2-rank partition changes them by ~1e-13 only."""
    _, ref = reference
    case = _case(tmp_path)
    out = tmp_path / "run"
    driver = [sys.executable, str(ROOT / "tests" / "kill_driver.py"), where, str(n), "--"]
    killed = subprocess.run([MPIEXEC, "-n", "2", *driver, "run", str(case), "-o", str(out)],
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert killed.returncode == 9, (killed.returncode, killed.stdout, killed.stderr)  # SIGKILL
    assert not (out / "metrics.json").exists()
    import numpy as np

    with np.load(out / "checkpoint.npz") as npz:  # the previous checkpoint, whole
        assert "state" in npz.files
    done = _run(["run", str(case), "-o", str(out), "--resume"], ranks=2)
    assert done.returncode == 0, done.stderr
    assert "resumed from" in (out / "run.log").read_text()
    _assert_same_metrics(_metrics(out), ref)
