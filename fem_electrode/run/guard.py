"""Before a run writes into its folder: one run per folder, no run replaced unasked, no input
case overwritten, the folder writable; and while it runs, room on the disk for the next write.

:func:`claim` is collective: rank 0 looks at the folder, takes its lock and cleans up a fresh
start; every rank gets the same verdict, so a refusal is one ``ConfigError`` (exit code 2)
on every rank before anything is written. The lock (``flock`` on ``run.lock``) is released
when the run closes it, and by the operating system when the process dies in any way.

Rules, in order:

- the folder may hold the input case file only when that file is the folder's own resolved
  case (the job step of a sweep or comparison writes it there and runs ``run case.toml -o
  .``); any other input case in the run folder would be replaced by the resolved case;
- a folder that holds files other than a run's is refused (``-o`` pointed at a folder of the
  user's);
- a folder that holds a run of another case is refused unless ``overwrite`` (its outputs and
  case are deleted first); ``resume`` needs a run of this very case;
- a fresh start (no ``resume``, or no checkpoint to resume from) deletes the outputs of an
  earlier attempt of the same case first (no stale snapshot can be mistaken for a new one).

:class:`SpaceGuard` checks before each large write that the disk has room for it (twice the
size of the previous write of that kind plus a margin): HDF5 aborts the process (exit 134)
and leaves corrupt files when the disk fills in the middle of a write, so the run stops
cleanly before that happens, with its checkpoint and completed outputs intact.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fem_electrode.config import Case, ConfigError, dumps_case
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.run.folder import JOB_FILES, LOCK, OUTPUTS, RunFolder
from fem_electrode.util.log import get_logger

log = get_logger("run")

#: Free space kept beyond the expected size of the next write (bytes).
SPACE_MARGIN = 64 * 2**20
#: The next write of a kind is expected to be at most this many times the previous one.
SPACE_FACTOR = 2.0


class DiskFullError(OSError):
    """Not enough room on the disk for the next write; the run stops before writing it."""

    expected = True

    def __init__(self, message: str):
        super().__init__(errno.ENOSPC, message)

    def __str__(self) -> str:
        return str(self.args[1])


def _body(text: str) -> str:
    """A resolved case file without its comment lines (the header names the source)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


def _differences(old: str, new: str) -> str:
    """The first few lines in which two resolved case files differ."""
    a, b = _body(old).splitlines(), _body(new).splitlines()
    section, out = "", []
    for x, y in zip(a, b, strict=False):
        if x.startswith("["):
            section = x
        if x != y:
            out.append(f"{section} {x!r} vs {y!r}")
    if len(a) != len(b):
        out.append("different sections")
    return "; ".join(out[:4]) + (" ..." if len(out) > 4 else "")


@dataclass
class Claim:
    """The folder a run holds: its lock file (rank 0), released by :meth:`release`."""

    folder: RunFolder
    handle: IO[str] | None = None
    cleaned: list[str] = field(default_factory=list)
    created: bool = False  #: the claim made the folder (removed again if the run wrote nothing)

    def release(self) -> None:
        if self.handle is None:
            return
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        self.handle = None
        path = self.folder.path
        if self.created and [p.name for p in path.iterdir()] == [LOCK]:  # nothing written: leave no trace
            self.folder.lock.unlink()
            path.rmdir()


def _lock(folder: RunFolder) -> tuple[IO[str] | None, str | None]:
    """Take the folder's lock; (handle, None) or (None, why not)."""
    handle = open(folder.lock, "a+")  # noqa: SIM115  (held for the whole run)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        return None, (f"another run is writing into {folder.path} ({holder}); wait for it to end, or "
                      "choose another folder")
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    return handle, None


def _inspect(folder: RunFolder, case: Case, case_file: Path | None, resume: bool,
             overwrite: bool) -> list[str]:
    """The reasons not to run into ``folder`` (rank 0; nothing is changed)."""
    out = folder.path
    new = dumps_case(case)
    if resume and overwrite:
        return ["--resume and --overwrite contradict each other: resume continues the run in the folder, "
                "overwrite deletes it"]
    if case_file is not None and case_file.resolve().parent == out.resolve():
        own = case_file.resolve() == folder.case.resolve() and _body(case_file.read_text()) == _body(new)
        if not own:
            return [f"-o {str(out)!r} is the folder of the input case file {case_file.name}: the run would "
                    "write its outputs beside it (and replace case.toml); choose another folder, e.g. "
                    f"-o runs/{case.case.name}"]
    if not out.exists():
        return []
    if not out.is_dir():
        return [f"-o {str(out)!r} exists and is not a folder"]
    known = {*OUTPUTS, *JOB_FILES, LOCK, folder.case.name}
    strangers = sorted(p.name for p in out.iterdir() if p.name not in known and not p.name.startswith("."))
    if strangers and not folder.case.is_file():
        return [f"-o {str(out)!r} holds files that are not a run's ({', '.join(strangers[:5])}"
                f"{', ...' if len(strangers) > 5 else ''}); choose an empty or new folder"]
    if folder.case.is_file():
        old = folder.case.read_text(errors="replace")
        if _body(old) != _body(new):
            what = _differences(old, new)
            if resume:
                return [f"--resume: {out} holds a run of another case ({what}); resume with the case it was "
                        "run with, or start this case in another folder"]
            if not overwrite:
                return [f"-o {str(out)!r} holds a run of another case ({what}); pass --overwrite to replace "
                        "it (its outputs are deleted first), or choose another folder"]
    return []


def _clean(folder: RunFolder, keep_case: bool) -> list[str]:
    """Delete the outputs of an earlier run (and its case unless ``keep_case``); rank 0."""
    removed = []
    names = [*OUTPUTS] + ([] if keep_case else [folder.case.name])
    for name in names:
        path = folder.path / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            removed.append(name)
        elif path.exists() or path.is_symlink():
            path.unlink()
            removed.append(name)
    return removed


def claim(folder: RunFolder, case: Case, comm: MPI.Comm, *, case_file: Path | None = None,
          resume: bool = False, overwrite: bool = False) -> tuple[Claim, bool]:
    """Check, lock and prepare ``folder`` for a run of ``case`` (collective).

    Returns the claim (release it when the run ends) and whether the run resumes (``resume``
    and a checkpoint of this case present). Raises ``ConfigError`` on every rank when the
    folder may not be used.
    """
    result: tuple[list[str], bool, list[str]] = ([], False, [])
    held = Claim(folder)
    if comm.rank == 0:
        problems = _inspect(folder, case, case_file, resume, overwrite)
        resumes = False
        if not problems:
            try:
                held.created = not folder.path.exists()
                folder.path.mkdir(parents=True, exist_ok=True)
                held.handle, why = _lock(folder)
            except OSError as exc:
                held.handle, why = None, (f"-o {str(folder.path)!r}: cannot write there "
                                          f"({exc.strerror or exc}); choose a writable folder")
            if why:
                problems = [why]
            else:
                resumes = resume and folder.checkpoint.is_file()
                if resume and not resumes:
                    log.warning("no checkpoint in %s: starting from the beginning", folder.path)
                if not resumes:
                    held.cleaned = _clean(folder, keep_case=not overwrite)
                    if held.cleaned:
                        log.info("%s: deleted the outputs of an earlier run (%s)", folder.path,
                                 ", ".join(held.cleaned))
        result = (problems, resumes, held.cleaned)
    problems, resumes, cleaned = comm.bcast(result, root=0)
    if problems:
        held.release()
        raise ConfigError(problems, case.source)
    held.cleaned = cleaned
    return held, resumes


class SpaceGuard:
    """Room on the disk for the next write of each kind (rank 0 measures; collective verdict)."""

    def __init__(self, path: Path, comm: MPI.Comm):
        self.path = path
        self.comm = comm
        self.last: dict[str, int] = {}

    @staticmethod
    def size(paths: Any) -> int:
        """Bytes of the files (and folders) in ``paths``."""
        total = 0
        for p in map(Path, paths):
            if p.is_file():
                total += p.stat().st_size
            elif p.is_dir():
                total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return total

    def check(self, kind: str) -> None:
        """Raise :class:`DiskFullError` on every rank when the disk lacks room for a write of
        ``kind`` (``fields``, ``checkpoint``, ...) expected from the previous one."""
        message = None
        if self.comm.rank == 0:
            need = SPACE_FACTOR * self.last.get(kind, 0) + SPACE_MARGIN
            free = shutil.disk_usage(self.path).free
            if free < need:
                message = (f"no space left for the next {kind} write in {self.path}: {free / 2**20:.0f} MiB "
                           f"free, {need / 2**20:.0f} MiB needed; the run stops here with its checkpoint "
                           "and completed outputs intact: free space, then continue with --resume")
        message = self.comm.bcast(message, root=0)
        if message:
            raise DiskFullError(message)

    def wrote(self, kind: str, nbytes: int) -> None:
        """Record the size of a write of ``kind`` (rank 0's measurement is the one used)."""
        self.last[kind] = max(int(nbytes), self.last.get(kind, 0))


class WriteError(OSError):
    """Writing an output failed (disk full, permissions, a vanished folder): the run stops."""

    expected = True

    def __str__(self) -> str:
        return str(self.args[0])


def collectively(comm: MPI.Comm, what: str, action: Any) -> Any:
    """Run ``action()`` (a write that rank 0 carries out, possibly after a collective gather) on
    every rank; an ``OSError`` on any rank raises :class:`WriteError` on every rank."""
    error = None
    result = None
    try:
        result = action()
    except DiskFullError:
        raise
    except OSError as exc:
        error = f"{exc.strerror or exc}" + (f": {exc.filename}" if getattr(exc, "filename", None) else "")
    errors = [e for e in comm.allgather(error) if e]
    if errors:
        raise WriteError(f"cannot write the {what} ({errors[0]}); the run stops with its last checkpoint and "
                         "completed outputs intact: fix the cause (disk space, permissions), then continue "
                         "with --resume")
    return result
