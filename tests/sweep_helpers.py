"""Helpers of the sweep and Slurm tests: sweep files that run the STAND-IN solver
(``tests/stand_in_run.py``, no physics) and a check that a Slurm is answering."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
STAND_IN = TESTS / "stand_in_run.py"
SERIAL_REASON = "drives external processes; no MPI communicator to share"


def stand_in_command(steps: int = 4, dt: float = 0.05) -> str:
    """[run] command that runs the stand-in solver instead of ``fem-electrode run``."""
    return f"{{python}} {STAND_IN} {{case}} -o {{dir}} {{resume}} --steps {steps} --dt {dt}"


def write_sweep(folder: Path, body: str, *, name: str = "s", steps: int = 4, dt: float = 0.05,
                launcher: str = "mpiexec -n {ntasks}", sweep: str = "", run: str = "") -> Path:
    """A sweep file ``folder/<name>.toml``: an inline base, ``body`` (grid/list tables), the stand-in.

    ``sweep`` and ``run`` are extra lines for the [sweep] and [run] tables."""
    path = folder / f"{name}.toml"
    path.write_text(f"""
[sweep]
name = "{name}"
directory = "{folder / 'runs'}"
{sweep}

[base.case]
name = "base"

[run]
command = "{stand_in_command(steps, dt)}"
launcher = "{launcher}"
{run}

[slurm]
time = "00:05:00"
signal_seconds = 30

{body}
""")
    return path


def status(case_dir: Path) -> dict:
    return json.loads((case_dir / "status.json").read_text())


def wait_for(predicate, timeout: float, what: str, poll: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def checkpoint_step(case_dir: Path) -> int:
    try:
        return json.loads((case_dir / "checkpoint.json").read_text())["step"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def slurm_problem() -> str | None:
    """None when sbatch works against a Slurm with a usable node, else why not."""
    if shutil.which("sbatch") is None:
        return "sbatch not found: no Slurm here (scripts/slurm-local.sh start runs one on localhost)"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    states = out.stdout.split()
    if out.returncode != 0 or not any(s.rstrip("*~#").startswith(("idle", "mix", "alloc")) for s in states):
        return f"Slurm is not answering or has no usable node (sinfo: {(out.stdout + out.stderr).strip()!r})"
    return None


def require_slurm() -> None:
    """Skip without a Slurm, except in CI (CI=true) where that is a failure."""
    why = slurm_problem()
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI needs the local Slurm (.ci/run starts it): {why}", pytrace=False)
    pytest.skip(why)


def cli(*argv: str) -> int:
    """Run ``fem-electrode ARGV`` in this process; returns the exit code."""
    from fem_electrode.cli import main

    return main([str(a) for a in argv])


PYTHON = sys.executable
