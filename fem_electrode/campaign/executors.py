"""Executors of a sweep: ``local`` (one case after another here) and ``slurm`` (one job array).

Both run each case through the same job step (:func:`fem_electrode.campaign.job.run_case`), so
status files, logs and resume behave the same. ``check`` runs before any folder exists.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from fem_electrode.campaign import job as casejob
from fem_electrode.campaign import slurm
from fem_electrode.campaign import status as casestatus
from fem_electrode.campaign.sweep import Point, Sweep
from fem_electrode.campaign.sweep_folder import plan, prepare, read_info, record_submission
from fem_electrode.config import ConfigError
from fem_electrode.util import atomic
from fem_electrode.util.log import get_logger

log = get_logger("sweep")


class Executor(Protocol):
    name: str

    def check(self, sweep: Sweep) -> list[str]:
        """Problems that stop the launch before anything is created."""

    def launch(self, sweep: Sweep, points: list[Point]) -> int:
        """Run or submit ``points`` (folders exist); returns an exit code."""


def _which(exe: str) -> str | None:
    """``exe`` on PATH, this Python's bin/ first (the job step puts it first too)."""
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return shutil.which(exe, path=path)


class LocalExecutor:
    """One case after another on this machine, each under the launcher (``mpiexec -n N``)."""

    name = "local"

    def check(self, sweep: Sweep) -> list[str]:
        argv = casejob.build_argv(Path("/nonexistent/case"), sweep.run)
        if argv and _which(argv[0]) is None:
            return [f"{argv[0]!r} (from run.launcher / run.command) is not on PATH"]
        return []

    def launch(self, sweep: Sweep, points: list[Point]) -> int:
        record_submission(sweep.directory, {"executor": "local", "host": socket.gethostname(),
                                            "pid": os.getpid(), "cases": [p.id for p in points]})
        for p in points:
            casestatus.update(sweep.directory / p.dir, "queued", queued=casestatus.now(), reason="")
        worst = 0
        for i, p in enumerate(points, 1):
            cdir = sweep.directory / p.dir
            log.info("[%d/%d] %s ...", i, len(points), p.id)
            rc = casejob.run_case(cdir, sweep.run)
            status = casestatus.read(cdir)
            log.info("[%d/%d] %s: %s%s", i, len(points), p.id, status["state"],
                     f" ({status.get('reason')})" if status.get("reason") else "")
            if status["state"] == "interrupted":
                log.warning("interrupted: the remaining cases stay queued; run the sweep again to go on")
                for rest in points[i:]:
                    casestatus.update(sweep.directory / rest.dir, "created", reason="not started")
                return 130
            worst = max(worst, 1 if rc else 0)
        return worst


class SlurmExecutor:
    """One job array (one task per case) rendered from a template and submitted with sbatch."""

    name = "slurm"

    def __init__(self, array: bool = True):
        self.array = array
        self.job_id: str | None = None

    def check(self, sweep: Sweep) -> list[str]:
        why = slurm.available()
        problems = [why] if why else []
        try:  # template errors before anything exists
            self.script(sweep, sweep.points[:1], Path("cases.txt"), 0)
        except (OSError, KeyError) as exc:
            problems.append(f"job template {sweep.slurm.template_path()}: {exc.args[0] if exc.args else exc}")
        return problems

    def script(self, sweep: Sweep, points: Sequence[Point], cases_file: Path, number: int) -> str:
        name = sweep.slurm.job_name or f"fem-{sweep.name}"
        logs = sweep.directory.resolve() / "logs"
        output = str(logs / ("%x-%A_%a.out" if self.array else "%x-%j.out"))
        origin = (f"{'sweep' if self.array else 'case'} {sweep.name} from {sweep.source}, "
                  f"submission {number}, {len(points)} case(s)")
        return slurm.job_script(sweep.slurm, sweep.run, cases_file=cases_file, job_name=name,
                                output=output, array_size=len(points) if self.array else None,
                                origin=origin)

    def launch(self, sweep: Sweep, points: list[Point]) -> int:
        number = len((read_info(sweep.directory) or {}).get("submissions", [])) + 1
        jobs = sweep.directory.resolve() / "jobs"
        (sweep.directory / "logs").mkdir(parents=True, exist_ok=True)
        cases_file = jobs / f"{number:03d}-cases.txt"
        script = jobs / f"{number:03d}-job.sh"
        atomic.write_text(cases_file, "".join(f"{(sweep.directory / p.dir).resolve()}\n" for p in points))
        atomic.write_text(script, self.script(sweep, points, cases_file, number))
        for p in points:
            casestatus.update(sweep.directory / p.dir, "queued", queued=casestatus.now(), reason="")
        try:
            job_id = slurm.submit(script)
        except slurm.SlurmError as exc:
            for p in points:
                casestatus.update(sweep.directory / p.dir, "created", reason=str(exc))
            raise
        record_submission(sweep.directory, {"executor": "slurm", "job_id": job_id, "array": self.array,
                                            "cases": [p.id for p in points], "script": str(script)})
        self.job_id = job_id
        log.info("submitted %d case(s) of %s as Slurm job %s; script %s", len(points), sweep.name,
                 job_id, script)
        return 0


def make(name: str, array: bool = True) -> Executor:
    """The executor called ``name``."""
    if name == "local":
        return LocalExecutor()
    if name == "slurm":
        return SlurmExecutor(array=array)
    raise ValueError(f"unknown executor {name!r}; executors: local, slurm")


def submission_ids(sweep_dir: Path) -> list[str]:
    """Slurm job ids of every submission of the sweep (for waiting on them)."""
    info = read_info(sweep_dir) or {}
    return [str(s["job_id"]) for s in info.get("submissions", []) if s.get("executor") == "slurm"]


def start(sweep: Sweep, executor: Executor, *, retry_failed: bool = False, dry_run: bool = False,
          wait: bool = False) -> int:
    """Check, plan, create the folders and launch; ConfigError (nothing created) on bad input."""
    problems = executor.check(sweep)
    if problems:
        raise ConfigError(problems, sweep.source)
    todo = plan(sweep, retry_failed)
    for point, why in todo.skipped:
        log.info("skip %s: %s", point.id, why)
    log.info("%s: %d case(s), %d to run, %d skipped -> %s", sweep.name, len(sweep.points), len(todo.run),
             len(todo.skipped), sweep.directory)
    if dry_run:
        for point in todo.run:
            argv = casejob.build_argv(sweep.directory / point.dir, sweep.run)
            print(f"would run {sweep.directory / point.dir}: {shlex.join(argv)}")
        if isinstance(executor, SlurmExecutor) and todo.run:
            print(executor.script(sweep, todo.run, sweep.directory.resolve() / "jobs" / "NNN-cases.txt", 0))
        return 0
    if not todo.run:
        log.info("nothing to run")
        return 0
    prepare(sweep)
    rc = executor.launch(sweep, todo.run)
    if wait and isinstance(executor, SlurmExecutor) and executor.job_id:
        slurm.wait([executor.job_id], timeout=float("inf"), poll=5.0)
        final = [casestatus.read(sweep.directory / p.dir)["state"] for p in todo.run]
        rc = 0 if all(s == "done" for s in final) else 1
    return rc
