"""Run a ParaView Python script headless: find ``pvpython``, provide a display, time out.

Rendering with Debian's ParaView 5.11 needs an X display. When ``DISPLAY`` is unset and
``Xvfb`` is installed, a private Xvfb (``-noreset``: without it about 1 run in 8 aborts) is
started on a free display number for the run and stopped by its PID afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path


class ParaViewError(RuntimeError):
    """pvpython is missing, no display could be provided, or the script failed."""


def pvpython() -> str | None:
    """Path of ``pvpython`` (``$PVPYTHON`` first), or None."""
    exe = os.environ.get("PVPYTHON") or shutil.which("pvpython")
    return exe if exe and os.access(exe, os.X_OK) else None


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise ParaViewError("no free X display number between :90 and :199")


@contextlib.contextmanager
def display() -> Iterator[dict[str, str]]:
    """An environment with a usable ``DISPLAY`` (the current one, or a private Xvfb)."""
    env = dict(os.environ)
    if env.get("DISPLAY"):
        yield env
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise ParaViewError("no DISPLAY and no Xvfb: install xvfb (apt-get install xvfb) to render")
    n = _free_display()
    proc = subprocess.Popen([xvfb, f":{n}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{n}").exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        if proc.poll() is not None:
            raise ParaViewError(f"Xvfb :{n} exited at start (code {proc.returncode})")
        env["DISPLAY"] = f":{n}"
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_script(script: str | os.PathLike[str], args: Sequence[str] = (), timeout: float = 600.0,
               render: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``pvpython script args`` (with a display when ``render``); raise on failure."""
    exe = pvpython()
    if exe is None:
        raise ParaViewError("pvpython not found (apt-get install paraview python3-paraview, or set PVPYTHON)")
    ctx = display() if render else contextlib.nullcontext(dict(os.environ))
    script = Path(script).resolve()  # it runs in its own folder, so a relative path would not be found
    with ctx as env:
        try:
            proc = subprocess.run([exe, str(script), *args], env=env, capture_output=True, text=True,
                                  timeout=timeout, cwd=script.parent)
        except subprocess.TimeoutExpired as exc:
            raise ParaViewError(f"pvpython {script} timed out after {timeout:g} s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ParaViewError(f"pvpython {script} failed (exit {proc.returncode}):\n{tail}")
    return proc
