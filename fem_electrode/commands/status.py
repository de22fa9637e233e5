"""`fem-electrode status runs/<sweep>`: each case's state, job and reason."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import datetime

from fem_electrode.campaign.sweep_folder import CaseState, states

NAME = "status"
HELP = "show the state of each case of a sweep (or submitted case) folder, with Slurm's view"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="sweep folder (runs/<sweep>) or a submitted case's folder")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _elapsed(row: CaseState) -> str:
    start, end = row.status.get("started"), row.status.get("ended")
    if not start or row.state in ("queued", "created"):
        return ""
    t0 = datetime.fromisoformat(start)
    t1 = datetime.fromisoformat(end) if end and row.state != "running" else datetime.now(t0.tzinfo)
    s = int((t1 - t0).total_seconds())
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def table(rows: list[CaseState]) -> str:
    """The status table as text (one line per case, then the counts)."""
    head = ("case", "state", "job", "attempt", "elapsed", "reason")
    body = [(r.id, r.state, r.job, str(r.status.get("attempt", "")), _elapsed(r), r.reason) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(x[:-1], widths, strict=True)) + "  " + x[-1]
             for x in [head, *body]]
    counts = Counter(r.state for r in rows)
    lines.append(f"{len(rows)} case(s): " + ", ".join(f"{n} {s}" for s, n in counts.most_common()))
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    rows = states(args.folder)
    if args.json:
        print(json.dumps([{"case": r.id, "dir": str(r.dir), "state": r.state, "job": r.job,
                           "reason": r.reason, "values": r.values, "status": r.status} for r in rows],
                         indent=2))
    else:
        print(table(rows))
    return 0
