"""The job step around one case: ``python -m fem_electrode.campaign.job CASE_DIR [options]``.

It owns ``CASE_DIR/status.json``: ``running`` before the run command starts, then ``done``,
``failed`` (exit code and the last error line of ``job.log`` as the reason) or
``interrupted`` (a signal arrived: Slurm's ``--signal`` before the time limit, preemption,
``scancel``, Ctrl-C). A signal is forwarded to the run as SIGTERM so that it writes a
checkpoint and exits; the next attempt gets the resume flag when a checkpoint is present.

The run command and the launcher are templates (split like a shell line, never run
through a shell) with the fields ``{case}`` (the resolved case file), ``{dir}`` (the case
folder), ``{resume}`` (the resume flag or nothing), ``{ntasks}``, ``{id}`` and ``{python}``.
The run's own log goes to ``CASE_DIR/job.log`` (appended, one header per attempt).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fem_electrode.campaign import status as casestatus
from fem_electrode.run.folder import RunFolder
from fem_electrode.util.tables import doc

DEFAULT_COMMAND = "fem-electrode run {case} -o {dir} {resume}"
#: A case folder holds a checkpoint when this glob matches (the run's own checkpoint file).
CHECKPOINT_GLOB = RunFolder(Path(".")).checkpoint.stem + "*"
DEFAULT_LAUNCHER = "mpiexec -n {ntasks}"
FIELDS = ("case", "dir", "resume", "ntasks", "id", "python")
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
EXIT_CANNOT_START = 127


@dataclass(frozen=True)
class RunSpec:
    """How to run one case: the ``[run]`` table of a sweep file."""

    command: str = field(default=DEFAULT_COMMAND, metadata=doc(
        "run command template; fields {case} {dir} {resume} {ntasks} {id} {python}"))
    launcher: str = field(default=DEFAULT_LAUNCHER, metadata=doc(
        "MPI launcher put before the command ('' = none; 'srun --mpi=pmi2' on a cluster)"))
    ntasks: int = field(default=1, metadata=doc("MPI ranks per case (also Slurm --ntasks)", lo=1))
    resume_flag: str = field(default="--resume", metadata=doc(
        "what {resume} expands to when the case folder holds a checkpoint"))
    checkpoint: str = field(default=CHECKPOINT_GLOB, metadata=doc(
        "glob (in the case folder) that means 'a checkpoint exists'; '' = always resume"))

    def problems(self) -> list[str]:
        """Template errors: unknown fields, bad quoting, an empty command."""
        out = []
        dummy = dict.fromkeys(FIELDS, "x")
        for name in ("command", "launcher"):
            template = getattr(self, name)
            try:
                for token in shlex.split(template):
                    token.format(**dummy)
            except KeyError as exc:
                out.append(f"run.{name} = {template!r}: unknown field {{{exc.args[0]}}}; fields: "
                           + " ".join("{" + f + "}" for f in FIELDS))
            except (ValueError, IndexError) as exc:
                out.append(f"run.{name} = {template!r}: {exc}")
        if not self.command.strip():
            out.append("run.command is empty")
        return out

    def as_args(self) -> list[str]:
        """Command-line options of ``python -m fem_electrode.campaign.job`` that reproduce this."""
        return [f"--command={self.command}", f"--launcher={self.launcher}", f"--ntasks={self.ntasks}",
                f"--resume-flag={self.resume_flag}", f"--checkpoint={self.checkpoint}"]


def has_checkpoint(case_dir: Path, spec: RunSpec) -> bool:
    """True when the case folder holds something matching ``spec.checkpoint``."""
    return not spec.checkpoint or any(case_dir.glob(spec.checkpoint))


def build_argv(case_dir: Path, spec: RunSpec) -> list[str]:
    """The launcher + command argv for ``case_dir`` (empty fields are dropped)."""
    case_dir = case_dir.resolve()
    resume = spec.resume_flag if has_checkpoint(case_dir, spec) else ""
    fields = {"case": str(RunFolder(case_dir).case), "dir": str(case_dir), "resume": resume,
              "ntasks": str(spec.ntasks), "id": case_dir.name, "python": sys.executable}
    argv: list[str] = []
    for template in (spec.launcher, spec.command):
        for token in shlex.split(template):
            value = token.format(**fields)
            if value:
                argv.append(value)
    return argv


def _slurm_fields() -> dict[str, Any]:
    env = os.environ
    out: dict[str, Any] = {}
    for key, var in (("slurm_job_id", "SLURM_JOB_ID"), ("slurm_array_job_id", "SLURM_ARRAY_JOB_ID"),
                     ("slurm_array_task_id", "SLURM_ARRAY_TASK_ID"),
                     ("restart_count", "SLURM_RESTART_COUNT")):
        if var in env:
            out[key] = env[var]
    return out


def _child_env() -> dict[str, str]:
    """This environment with this Python's bin/ first on PATH (as if its venv were active)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def run_case(case_dir: str | os.PathLike[str], spec: RunSpec) -> int:
    """Run one case, maintaining its status; returns the exit code (0 done)."""
    case_dir = Path(case_dir).resolve()
    previous = casestatus.read(case_dir)
    attempt = int(previous.get("attempt", 0)) + 1
    history = list(previous.get("history", []))[-19:]  # earlier finished attempts
    argv = build_argv(case_dir, spec)
    resumed = bool(spec.resume_flag) and spec.resume_flag in argv
    base = {"attempt": attempt, "started": casestatus.now(), "host": socket.gethostname(),
            "pid": os.getpid(), "command": shlex.join(argv), "resumed": resumed,
            **_slurm_fields()}
    casestatus.write(case_dir, "running", **base, history=history)

    def finish(state: str, exit_code: int, reason: str) -> int:
        ended = casestatus.now()
        entry = {"attempt": attempt, "state": state, "exit_code": exit_code, "reason": reason,
                 "started": base["started"], "ended": ended, **_slurm_fields()}
        casestatus.write(case_dir, state, **base, ended=ended, exit_code=exit_code, reason=reason,
                         history=[*history, entry])
        return exit_code

    log_path = case_dir / casestatus.JOB_LOG
    received: list[int] = []
    children: list[subprocess.Popen] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        if children and children[0].poll() is None:
            children[0].send_signal(signal.SIGTERM)

    main_thread = threading.current_thread() is threading.main_thread()
    saved = {s: signal.signal(s, forward) for s in FORWARDED} if main_thread else {}
    try:
        with open(log_path, "a") as log:
            log.write(f"\n=== attempt {attempt} {base['started']} on {base['host']}: {base['command']}\n")
            log.flush()
            offset = log.tell()
            try:
                children.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                 env=_child_env(), start_new_session=True))
            except OSError as exc:
                reason = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
                log.write(reason + "\n")
                return finish("failed", EXIT_CANNOT_START, reason)
            if received:  # a signal arrived while starting: pass it on now
                children[0].send_signal(signal.SIGTERM)
            rc = children[0].wait()
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)

    if rc == 0:
        return finish("done", 0, "")
    exit_code = rc if rc > 0 else 128 - rc
    if received:
        name = signal.Signals(received[0]).name
        return finish("interrupted", exit_code,
                      f"{name} received; resumes from the last checkpoint when resubmitted")
    with open(log_path) as fh:
        fh.seek(offset)
        reason = casestatus.last_error_line(fh.read()) or f"exit code {exit_code}"
    return finish("failed", exit_code, reason)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fem_electrode.campaign.job", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case_dir", help="case folder holding case.toml")
    parser.add_argument("--command", default=DEFAULT_COMMAND)
    parser.add_argument("--launcher", default=DEFAULT_LAUNCHER)
    parser.add_argument("--ntasks", type=int, default=1)
    parser.add_argument("--resume-flag", default="--resume")
    parser.add_argument("--checkpoint", default=CHECKPOINT_GLOB)
    args = parser.parse_args(argv)
    spec = RunSpec(command=args.command, launcher=args.launcher, ntasks=args.ntasks,
                   resume_flag=args.resume_flag, checkpoint=args.checkpoint)
    return run_case(args.case_dir, spec)


if __name__ == "__main__":
    sys.exit(main())
