"""``DIR/status.json``: the state of one case folder of a sweep, written atomically.

The job step (:mod:`fem_electrode.campaign.job`), not the solver, owns this file. States:

- ``created``: folder and resolved case written, never submitted
- ``queued``: handed to an executor (Slurm job id in ``sweep.json``)
- ``running``: the job step started the run command
- ``interrupted``: stopped by a signal (time limit, preemption, ``scancel``); resumable
- ``done``: the run command exited 0
- ``failed``: it exited non-zero; ``reason`` is the last error line of ``job.log``
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fem_electrode.run import folder
from fem_electrode.util import atomic

STATUS_FILE = folder.STATUS
JOB_LOG = folder.JOB_LOG
STATES = ("created", "queued", "running", "interrupted", "done", "failed")
#: States in which a job may still be alive (checked against the queue or the PID).
ACTIVE = ("queued", "running")


def now() -> str:
    """The current time, ISO 8601 with seconds, UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def read(case_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The case's status; ``{"state": "created"}`` when no status was written yet."""
    path = Path(case_dir) / STATUS_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"state": "created"}
    except (OSError, json.JSONDecodeError) as exc:  # never expected: writes are atomic
        return {"state": "failed", "reason": f"unreadable {path}: {exc}"}
    return data if isinstance(data, dict) and data.get("state") in STATES else {
        "state": "failed", "reason": f"{path} has no valid state"}


def write(case_dir: str | os.PathLike[str], state: str, **fields: Any) -> dict[str, Any]:
    """Replace the status with ``state`` and ``fields`` (plus the update time)."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; states: {', '.join(STATES)}")
    data = {"state": state, **fields, "updated": now()}
    atomic.write_json(Path(case_dir) / STATUS_FILE, data)
    return data


def update(case_dir: str | os.PathLike[str], state: str, **fields: Any) -> dict[str, Any]:
    """Like :func:`write` but keep the fields of the previous status not given here."""
    old = read(case_dir)
    old.pop("updated", None)
    old.pop("state", None)
    return write(case_dir, state, **{**old, **fields})


_ERROR = re.compile(r"error|exception|fail|fatal|abort|killed|denied|not found|no such", re.IGNORECASE)


def last_error_line(text: str) -> str:
    """The last line of ``text`` that reads like an error, else its last non-empty line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if _ERROR.search(line):
            return line[:300]
    return lines[-1][:300] if lines else ""
