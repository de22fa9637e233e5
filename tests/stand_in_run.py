"""STAND-IN FOR THE SOLVER (tests of the sweep / Slurm machinery only; no physics).

Behaves like ``fem-electrode run CASE -o DIR [--resume]`` as far as the job machinery can
tell: reads the case, advances ``--steps`` steps of ``--dt`` seconds of wall time, writes
an atomic ``checkpoint.json`` after every step, resumes from it with ``--resume``,
on SIGTERM writes the checkpoint and exits 143, fails on demand (``case.description``
containing "fail"), and writes ``metrics.json`` + ``timeseries.csv`` at the end. The
metrics depend only on the case, so an interrupted + resumed run ends with the same
metrics as an uninterrupted one. Every start is appended to ``DIR/starts.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import tomllib
from pathlib import Path

from fem_electrode.util import atomic

stop = []


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("case")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--dt", type=float, default=0.1)
    args = p.parse_args()
    rank0 = os.environ.get("PMI_RANK", "0") == "0"
    signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))

    case = tomllib.loads(Path(args.case).read_text())
    porosity = case.get("geometry", {}).get("porosity", 0.2)
    c_rate = case.get("protocol", {}).get("c_rate", 0.1)
    seed = case.get("geometry", {}).get("seed", 1)
    out = Path(args.output)
    ckpt = out / "checkpoint.json"
    state = {"step": 0, "charge": 0.0, "series": []}
    if args.resume and ckpt.is_file():
        state = json.loads(ckpt.read_text())
    if rank0:
        with open(out / "starts.log", "a") as fh:
            fh.write(f"start step={state['step']} resume={args.resume}\n")
    print(f"stand-in run: {args.case} from step {state['step']} of {args.steps}", flush=True)

    while state["step"] < args.steps:
        if "fail" in case.get("case", {}).get("description", "") and state["step"] == 1:
            raise RuntimeError("stand-in solver diverged at step 1 (requested by case.description)")
        t_end = time.monotonic() + args.dt
        while time.monotonic() < t_end and not stop:
            time.sleep(min(0.02, max(t_end - time.monotonic(), 0)))
        if stop:
            print(f"stand-in run: SIGTERM at step {state['step']}; checkpoint written", flush=True)
            return 143
        k = state["step"] + 1
        state["charge"] += porosity * c_rate / k + 1e-3 * seed
        state["series"].append(state["charge"])
        state["step"] = k
        if rank0:
            atomic.write_json(ckpt, state)
    if rank0:
        atomic.write_json(out / "metrics.json", {
            "capacity": state["charge"], "voltage": {"final": 3.0 + state["charge"], "min": 2.9},
            "steps": state["step"], "solver": "stand-in", "series_ignored": state["series"]})
        atomic.write_text(out / "timeseries.csv", "step,charge\n" + "".join(
            f"{i + 1},{q!r}\n" for i, q in enumerate(state["series"])))
    print("stand-in run: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
