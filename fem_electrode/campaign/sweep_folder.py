"""The sweep folder ``runs/<sweep>/``: one folder per case, ``sweep.json``, and their states.

``sweep.json`` lists the cases (id, folder, swept values), the run and Slurm settings, and
every submission (executor, job id, the cases in array-task order). Each case folder holds
``case.toml`` (resolved) and ``status.json`` (see :mod:`fem_electrode.campaign.status`).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fem_electrode.campaign import slurm
from fem_electrode.campaign import status as casestatus
from fem_electrode.campaign.sweep import Point, Sweep
from fem_electrode.config import ConfigError, load_case, write_case
from fem_electrode.run.folder import RunFolder
from fem_electrode.util import atomic

SWEEP_JSON = "sweep.json"


def read_info(sweep_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``sweep.json`` of ``sweep_dir``, or None when there is none."""
    path = Path(sweep_dir) / SWEEP_JSON
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def write_info(sweep_dir: str | os.PathLike[str], info: dict[str, Any]) -> None:
    atomic.write_json(Path(sweep_dir) / SWEEP_JSON, info)


def record_submission(sweep_dir: Path, record: dict[str, Any]) -> None:
    """Append a submission (executor, job id, cases in task order) to ``sweep.json``."""
    info = read_info(sweep_dir) or {}
    info.setdefault("submissions", []).append({"time": casestatus.now(), **record})
    write_info(sweep_dir, info)


@dataclass
class CaseState:
    """A case as ``status`` shows it: the folder's status joined with the queue."""

    id: str
    dir: Path
    state: str  #: a status state, or "lost" (queued/running but the job is gone)
    job: str = ""
    reason: str = ""
    status: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def _last_submission(info: dict[str, Any], case: str) -> tuple[dict[str, Any], int] | None:
    for sub in reversed(info.get("submissions", [])):
        if case in sub.get("cases", []):
            return sub, sub["cases"].index(case)
    return None


def _job_key(info: dict[str, Any], cid: str, status: dict[str, Any]) -> tuple[str, str | None] | None:
    """The Slurm job (array job id, task) this case last ran or was queued as."""
    if status["state"] != "queued" and (status.get("slurm_array_job_id") or status.get("slurm_job_id")):
        if status.get("slurm_array_job_id"):
            return (str(status["slurm_array_job_id"]), str(status.get("slurm_array_task_id")))
        return (str(status["slurm_job_id"]), None)
    found = _last_submission(info, cid)
    if found and found[0].get("executor") == "slurm":
        sub, index = found
        return (str(sub["job_id"]), str(index) if sub.get("array") else None)
    return None


def _local_alive(host: str | None, pid: Any) -> bool | None:
    """True/False for a process on this host; None when it ran elsewhere (cannot tell)."""
    if not pid or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fmt_job(key: tuple[str, str | None]) -> str:
    return key[0] if key[1] is None else f"{key[0]}_{key[1]}"


def states(sweep_dir: str | os.PathLike[str], query: bool = True) -> list[CaseState]:
    """Every case of the sweep with its effective state (the queue is asked first)."""
    sweep_dir = Path(sweep_dir)
    info = read_info(sweep_dir)
    if info is None:
        raise ConfigError([f"{sweep_dir} has no {SWEEP_JSON}: not a sweep folder"], str(sweep_dir))
    job_ids = {str(s["job_id"]) for s in info.get("submissions", []) if s.get("executor") == "slurm"}
    can_query = query and bool(job_ids) and slurm.squeue_available()
    in_queue = slurm.queue(job_ids) if can_query else {}
    rows, lost = [], []
    for entry in info.get("cases", []):
        cid, cdir = entry["id"], (sweep_dir / entry["dir"]).resolve()
        status = casestatus.read(cdir)
        row = CaseState(cid, cdir, status["state"], reason=status.get("reason", ""), status=status,
                        values=entry.get("values", {}))
        key = _job_key(info, cid, status)
        if key:
            row.job = _fmt_job(key)
        if status["state"] == "done":
            pass
        elif key and can_query:
            js = in_queue.get(key) or (in_queue.get((key[0], None)) if key[1] is None else None)
            if js and status["state"] not in casestatus.ACTIVE:  # requeued by Slurm
                row.state, row.reason = "queued", f"requeued by Slurm ({js.state} {js.reason})".strip()
            elif js and status["state"] == "queued":
                row.reason = f"{js.state} ({js.reason})" if js.reason else js.state
            elif not js and status["state"] in casestatus.ACTIVE:
                row.state = "lost"
                lost.append((row, key))
        elif status["state"] in casestatus.ACTIVE and not key:
            found = _last_submission(info, cid)
            host, pid = (status.get("host"), status.get("pid")) if status["state"] == "running" else (
                (found[0].get("host"), found[0].get("pid")) if found else (None, None))
            row.job = f"local pid {pid}" if pid else "local"
            if status["state"] == "queued" and not found:
                row.state, row.reason = "lost", "marked queued but never submitted"
            elif _local_alive(host, pid) is False:
                row.state, row.reason = "lost", f"process {pid} on {host} ended without a final status"
        rows.append(row)
    if lost:
        acct = slurm.accounting({k[0] for _, k in lost})
        for row, key in lost:
            js = acct.get(key)
            job = _fmt_job(key)
            if js:
                row.reason = f"Slurm: job {job} {js.state} (exit {js.exit_code}) without a final status"
            elif row.status["state"] == "queued":
                row.reason = f"job {job} left the queue before it started (cancelled?)"
            else:
                row.reason = f"job {job} ended without a final status (killed? out of memory?)"
            row.reason += "; see logs/ in the sweep folder"
    return rows


@dataclass
class Plan:
    """Which points run now and which are skipped (with why)."""

    run: list[Point]
    skipped: list[tuple[Point, str]]


def plan(sweep: Sweep, retry_failed: bool = False) -> Plan:
    """Decide per point; a folder holding a different case is an error (nothing is written)."""
    problems = []
    current = {}
    if read_info(sweep.directory) is not None:
        current = {r.id: r for r in states(sweep.directory)}
    todo, skipped = [], []
    for point in sweep.points:
        cdir = sweep.directory / point.dir
        if RunFolder(cdir).case.is_file():
            try:
                old = load_case(RunFolder(cdir).case).to_dict()
            except ConfigError as exc:
                problems.append(f"{cdir}/case.toml is not a valid case ({exc.problems[0]}); remove it")
                continue
            if old != point.case.to_dict():
                problems.append(f"{cdir} holds a different case (the base or the values changed); "
                                "use another sweep name or folder, or remove that folder")
                continue
        row = current.get(point.id)
        state = row.state if row else casestatus.read(cdir)["state"]
        if state == "done":
            skipped.append((point, "done"))
        elif state == "failed" and not retry_failed:
            skipped.append((point, f"failed ({row.reason if row else ''}); --retry-failed reruns it"))
        elif state in casestatus.ACTIVE:
            skipped.append((point, f"{state} as job {row.job if row else '?'}"))
        else:
            todo.append(point)
    if problems:
        raise ConfigError(problems, str(sweep.directory))
    return Plan(todo, skipped)


def prepare(sweep: Sweep) -> None:
    """Create the sweep folder, each case's folder with its ``case.toml``, and ``sweep.json``."""
    sweep.directory.mkdir(parents=True, exist_ok=True)
    info = read_info(sweep.directory) or {"name": sweep.name, "created": casestatus.now(),
                                          "submissions": []}
    known = {c["id"]: c for c in info.get("cases", [])}
    for point in sweep.points:
        known[point.id] = {"id": point.id, "dir": point.dir, "values": dict(point.values)}
    swept = list(dict.fromkeys([*info.get("swept", []), *sweep.swept]))
    info.update({"name": sweep.name, "source": str(Path(sweep.source).resolve()), "swept": swept,
                 "cases": list(known.values()), "run": asdict(sweep.run), "slurm": asdict(sweep.slurm)})
    for point in sweep.points:
        cdir = sweep.directory / point.dir
        if not RunFolder(cdir).case.is_file():
            write_case(point.case, RunFolder(cdir).case)
    write_info(sweep.directory, info)
