"""Slurm helpers: job scripts rendered from ``slurm/*.sh.tmpl``, ``sbatch``, ``squeue``, ``sacct``.

Templates use ``{{name}}`` placeholders (bash's own ``${...}`` is left alone); an unknown
placeholder is an error. Queue and accounting queries return ``{}`` when the tools are
missing or answer with an error, so ``status`` works on a machine without Slurm too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal as _signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from fem_electrode.campaign.job import RunSpec
from fem_electrode.util.tables import doc

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "slurm"
DEFAULT_TEMPLATE = "job.sh.tmpl"
_TIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
#: Control characters (a newline would end a #SBATCH or comment line and start a shell command).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def control_character_problem(name: str, value: str) -> str | None:
    """A problem when ``value`` (rendered into a job script as ``name``) holds a control character."""
    m = _CONTROL.search(value)
    if m is None:
        return None
    return (f"{name} = {value!r}: control character {m.group()!r} at position {m.start()} (a newline would "
            "become a command in the job script); allowed: printable characters only")


class SlurmError(RuntimeError):
    """sbatch (or another Slurm tool) is missing or refused the job."""


def _current_venv() -> str:
    return sys.prefix if sys.prefix != sys.base_prefix else ""


@dataclass(frozen=True)
class SlurmOptions:
    """The ``[slurm]`` table: what goes into the job script. Empty strings are left out."""

    template: str = field(default="", metadata=doc(
        f"job-script template (default slurm/{DEFAULT_TEMPLATE} of this project)"))
    job_name: str = field(default="", metadata=doc("job name (default fem-<sweep name>)"))
    account: str = field(default="", metadata=doc("--account to charge"))
    partition: str = field(default="", metadata=doc("--partition"))
    qos: str = field(default="", metadata=doc("--qos"))
    nodes: int = field(default=1, metadata=doc("--nodes per case", lo=1))
    cpus_per_task: int = field(default=1, metadata=doc("--cpus-per-task (threads per rank)", lo=1))
    time: str = field(default="01:00:00", metadata=doc("--time limit per case, [D-]HH:MM:SS"))
    mem: str = field(default="", metadata=doc("--mem per node, e.g. 8G"))
    signal: str = field(default="TERM", metadata=doc(
        "signal sent to the job step before the time limit (it checkpoints and stops)"))
    signal_seconds: int = field(default=300, metadata=doc(
        "seconds before the time limit at which the signal is sent", lo=0))
    requeue: bool = field(default=True, metadata=doc("--requeue: Slurm may requeue after preemption"))
    max_running: int = field(default=0, metadata=doc("array tasks running at once (0 = no limit)", lo=0))
    modules: tuple[str, ...] = field(default=(), metadata=doc("modules to `module load`, in order"))
    venv: str = field(default_factory=_current_venv, metadata=doc(
        "virtual environment to activate ('' = none; default: the one running fem-electrode)"))
    python: str = field(default="", metadata=doc(
        "Python that runs the job step (default: the venv's, else python3)"))
    setup: tuple[str, ...] = field(default=(), metadata=doc("extra shell lines run before the case"))
    sbatch: tuple[str, ...] = field(default=(), metadata=doc(
        "extra sbatch options, e.g. ['--constraint=skylake', '--exclusive']"))

    def problems(self) -> list[str]:
        """Values sbatch would reject, or that could inject commands into the job script,
        reported before anything is created."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            for item in (value if isinstance(value, tuple) else (value,)):
                if isinstance(item, str) and (problem := control_character_problem(f"slurm.{f.name}", item)):
                    out.append(problem)
        limit = time_seconds(self.time)
        if limit is None:
            out.append(f"slurm.time = {self.time!r}: use minutes, HH:MM:SS or D-HH:MM:SS")
        elif self.signal_seconds >= limit:
            out.append(f"slurm.signal_seconds = {self.signal_seconds} is not below the time limit "
                       f"{self.time!r} ({limit} s): the run would be told to stop at once")
        if "SIG" + self.signal.removeprefix("SIG") not in _signal.Signals.__members__:
            out.append(f"slurm.signal = {self.signal!r}: not a signal name (TERM, USR1, ...)")
        if self.template and not self.template_path().is_file():
            out.append(f"slurm.template = {self.template!r}: no such file")
        return out

    def template_path(self) -> Path:
        return Path(self.template) if self.template else TEMPLATE_DIR / DEFAULT_TEMPLATE

    def python_exe(self) -> str:
        if self.python:
            return self.python
        if self.venv:
            return str(Path(self.venv) / "bin" / "python")
        return "python3" if self.modules else sys.executable


def time_seconds(text: str) -> int | None:
    """Slurm's ``--time`` (``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``) in seconds."""
    if not _TIME.match(text):
        return None
    days, _, rest = text.rpartition("-")
    parts = [int(x) for x in rest.split(":")]
    if days:
        parts += [0] * (3 - len(parts))  # D-H, D-H:M
        h, m, sec = parts
    else:
        h, m, sec = [0, parts[0], 0] if len(parts) == 1 else [0, *parts] if len(parts) == 2 else parts
    return ((int(days or 0) * 24 + h) * 60 + m) * 60 + sec


def render(template: str, values: Mapping[str, str]) -> str:
    """Replace every ``{{name}}``; unknown names raise :class:`KeyError` listing the known."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise KeyError(f"template placeholder {{{{{name}}}}} unknown; known: {', '.join(values)}")
        return values[name]
    return _PLACEHOLDER.sub(sub, template)


def directives(opts: SlurmOptions, run: RunSpec, job_name: str, output: str,
               array_size: int | None) -> list[str]:
    """The ``#SBATCH`` lines for one job (an array when ``array_size`` is given)."""
    lines = [f"--job-name={job_name}", f"--nodes={opts.nodes}", f"--ntasks={run.ntasks}",
             f"--cpus-per-task={opts.cpus_per_task}", f"--time={opts.time}",
             f"--output={output}", "--open-mode=append"]
    if opts.signal_seconds > 0:
        lines.append(f"--signal=B:{opts.signal.removeprefix('SIG')}@{opts.signal_seconds}")
    if array_size is not None:
        limit = f"%{opts.max_running}" if opts.max_running else ""
        lines.append(f"--array=0-{array_size - 1}{limit}")
    for name in ("account", "partition", "qos", "mem"):
        if getattr(opts, name):
            lines.append(f"--{name}={getattr(opts, name)}")
    lines.append("--requeue" if opts.requeue else "--no-requeue")
    lines.extend(opts.sbatch)
    return [f"#SBATCH {shlex.quote(x) if ' ' in x or "'" in x else x}" for x in lines]


def setup_lines(opts: SlurmOptions) -> list[str]:
    """Shell lines that prepare the environment: modules, venv, extra setup."""
    lines = [f"module load {shlex.quote(m)}" for m in opts.modules]
    if opts.venv:
        lines.append(f"source {shlex.quote(str(Path(opts.venv) / 'bin' / 'activate'))}")
    lines.extend(opts.setup)
    return lines or ["# (no modules, no venv)"]


def job_script(opts: SlurmOptions, run: RunSpec, *, cases_file: Path, job_name: str, output: str,
               array_size: int | None, origin: str) -> str:
    """The rendered job script for the cases listed in ``cases_file`` (one per array task)."""
    template = opts.template_path().read_text()
    rendered = {"origin": origin, "template": str(opts.template_path()), "job name": job_name,
                "output": output, "cases file": str(cases_file), "python": opts.python_exe(),
                **{f"run.{k}": v for k, v in vars(run).items() if isinstance(v, str)}}
    bad = [p for name, value in rendered.items() if (p := control_character_problem(name, value))]
    bad += opts.problems()
    if bad:
        raise SlurmError("the job script would carry unsafe values: " + "; ".join(bad))
    casejob = [opts.python_exe(), "-m", "fem_electrode.campaign.job", '"$CASE_DIR"', *run.as_args()]
    values = {
        "origin": origin,
        "template": str(opts.template_path()),
        "sbatch": "\n".join(directives(opts, run, job_name, output, array_size)),
        "setup": "\n".join(setup_lines(opts)),
        "cases_file": shlex.quote(str(cases_file)),
        "casejob": " ".join(x if x == '"$CASE_DIR"' else shlex.quote(x) for x in casejob),
    }
    return render(template, values)


def available() -> str | None:
    """None when ``sbatch`` can be used, else the reason why not."""
    if shutil.which("sbatch") is None:
        return "sbatch not found on PATH (is this a Slurm login node? load the slurm module)"
    return None


def submit(script: Path, cwd: Path | None = None) -> str:
    """``sbatch --parsable SCRIPT``; returns the job id (raises :class:`SlurmError`)."""
    why = available()
    if why:
        raise SlurmError(why)
    proc = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)
    if proc.returncode != 0:
        raise SlurmError(f"sbatch refused {script}: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout.strip().split(";")[0]


def _run(argv: list[str], timeout: float = 30) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


@dataclass(frozen=True)
class JobState:
    """One job (or array task) as the queue or accounting sees it."""

    job_id: str  #: the array job id for array tasks
    task: str | None  #: array task index, None for a plain job
    state: str  #: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    reason: str = ""
    exit_code: str = ""

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.job_id, self.task)


def parse_squeue(text: str) -> dict[tuple[str, str | None], JobState]:
    """Parse ``squeue -h -r -o '%F|%K|%T|%r'`` (one line per array task)."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4:
            continue
        job, task, state, reason = parts[:4]
        task_id = None if task in ("N/A", "") else task
        js = JobState(job, task_id, state, "" if reason == "None" else reason)
        out[js.key] = js
    return out


def queue(job_ids: Iterable[str]) -> dict[tuple[str, str | None], JobState]:
    """Queued and running jobs among ``job_ids`` (array tasks one by one); {} without squeue."""
    wanted = {str(j) for j in job_ids}
    if not wanted:
        return {}
    text = _run(["squeue", "-h", "-r", "-o", "%F|%K|%T|%r"])
    if text is None:
        return {}
    return {k: v for k, v in parse_squeue(text).items() if v.job_id in wanted}


def squeue_available() -> bool:
    return _run(["squeue", "-h", "-o", "%i"]) is not None


def parse_sacct(text: str) -> dict[tuple[str, str | None], JobState]:
    """Parse ``sacct -X -n -P -o JobID,State,ExitCode,Reason`` (``JobID`` like ``12_3``)."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 3 or not parts[0]:
            continue
        job, _, task = parts[0].partition("_")
        if task.startswith("["):  # a pending array range: nothing to report per task
            continue
        js = JobState(job, task or None, parts[1].split()[0], parts[3] if len(parts) > 3 else "",
                      parts[2])
        out[js.key] = js
    return out


def parse_jobcomp(text: str) -> dict[tuple[str, str | None], JobState]:
    """Parse a ``jobcomp/filetxt`` log (``JobId=.. JobState=.. ArrayJobId=.. ArrayTaskId=..``)."""
    out = {}
    for line in text.splitlines():
        kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
        if "JobId" not in kv or "JobState" not in kv:
            continue
        job = kv.get("ArrayJobId") or kv["JobId"]
        task = kv.get("ArrayTaskId") if kv.get("ArrayJobId") else None
        js = JobState(job, task, kv["JobState"], "", kv.get("ExitCode", ""))
        out[js.key] = js  # later lines (requeues) win
    return out


def _jobcomp_file() -> Path | None:
    text = _run(["scontrol", "show", "config"])
    if text is None:
        return None
    m = re.search(r"^JobCompLoc\s*=\s*(\S+)", text, re.MULTILINE)
    if not m:
        return None
    path = Path(m.group(1))
    return path if path.is_file() and os.access(path, os.R_OK) else None


def accounting(job_ids: Iterable[str]) -> dict[tuple[str, str | None], JobState]:
    """Final states of finished jobs: ``sacct``, else the jobcomp file; {} when neither works."""
    wanted = sorted({str(j) for j in job_ids})
    if not wanted:
        return {}
    text = _run(["sacct", "-X", "-n", "-P", "-j", ",".join(wanted), "-o", "JobID,State,ExitCode,Reason"])
    if text is not None:
        found = parse_sacct(text)
    else:
        path = _jobcomp_file()
        found = parse_jobcomp(path.read_text(errors="replace")) if path else {}
    return {k: v for k, v in found.items() if v.job_id in wanted}


def wait(job_ids: Iterable[str], timeout: float, poll: float = 0.5) -> None:
    """Block until none of ``job_ids`` is queued or running; :class:`TimeoutError` after ``timeout``."""
    ids = list(job_ids)
    deadline = time.monotonic() + timeout
    while queue(ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Slurm jobs {', '.join(ids)} still queued after {timeout:.0f} s")
        time.sleep(poll)
