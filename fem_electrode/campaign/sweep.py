"""Sweep files (``SWEEP.toml``) -> one validated case per point.

A sweep file names a base case (a path, an inline ``[base]`` table, or both: the table
overrides the file) and the values to vary, by dotted case key:

- ``[grid]``: every combination (product) of the listed values;
- ``[list]``: lists of equal length varied together (zip), combined with the grid;
- ``[sweep] replicates = n``: ``geometry.seed`` = base seed + 0 .. n-1 as one more axis.

Every expanded case is validated before anything is written; all problems (unknown keys
with the closest valid key, empty grids, too many cases without ``--yes``, invalid
values per case) are raised together as one :class:`~fem_electrode.config.ConfigError`.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fem_electrode.campaign.job import RunSpec
from fem_electrode.campaign.slurm import SlurmOptions
from fem_electrode.config import SCHEMA, Case, ConfigError, validate
from fem_electrode.config.loader import resolve_paths
from fem_electrode.util.tables import doc, parse_table

TABLES = ("sweep", "base", "grid", "list", "run", "slurm")
DOTTED_KEYS = tuple(f"{s.name}.{k.name}" for s in SCHEMA for k in s.keys)
MAX_ID = 96
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SweepSettings:
    """The ``[sweep]`` table."""

    name: str = field(default="", metadata=doc(
        "sweep name: the folder <directory>/<name> (default: the file's stem)"))
    base: str = field(default="", metadata=doc("base case file, relative to the sweep file"))
    directory: str = field(default="runs", metadata=doc("parent folder of the sweep folder"))
    replicates: int = field(default=1, metadata=doc("seed replicates (geometry.seed + 0..n-1)", lo=1))
    max_cases: int = field(default=100, metadata=doc("more cases than this need --yes", lo=1))


@dataclass(frozen=True)
class Point:
    """One case of a sweep: its id, folder (relative to the sweep folder) and swept values."""

    id: str
    dir: str
    values: Mapping[str, Any]
    case: Case


@dataclass(frozen=True)
class Sweep:
    """An expanded, validated sweep."""

    name: str
    source: str
    directory: Path
    points: tuple[Point, ...]
    swept: tuple[str, ...]
    run: RunSpec
    slurm: SlurmOptions
    settings: SweepSettings


def suggest_key(key: str) -> str:
    """' did you mean ...' for an unknown dotted case key."""
    if "." not in key:  # a bare key name: which sections have it?
        owners = [d for d in DOTTED_KEYS if d.split(".", 1)[1] == key]
        if owners:
            return f"give the section: {' or '.join(repr(o) for o in owners)}"
    close = difflib.get_close_matches(key, DOTTED_KEYS, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(key.rsplit(".", 1)[-1], [d.split(".", 1)[1] for d in DOTTED_KEYS],
                                          n=1, cutoff=0.6)
        close = [d for d in DOTTED_KEYS if close and d.endswith("." + close[0])][:1]
    return f"did you mean {close[0]!r}?" if close else "see `fem-electrode keys` for the valid keys"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"geometry": {"porosity": [...]}}`` and ``{"geometry.porosity": [...]}`` alike -> dotted."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and name not in DOTTED_KEYS:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _axes(raw: Any, table: str, problems: list[str]) -> dict[str, list[Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(f"[{table}] must be a table of 'section.key' = [values]")
        return {}
    axes = {}
    for key, values in _flatten(raw).items():
        if key not in DOTTED_KEYS:
            problems.append(f"[{table}] unknown case key {key!r}; {suggest_key(key)}")
        elif not isinstance(values, list):
            problems.append(f"[{table}] {key} = {values!r}: give a list of values")
        elif not values:
            problems.append(f"[{table}] {key} = []: an empty list gives no cases")
        else:
            axes[key] = values
    return axes


def _read_toml(path: Path, what: str, problems: list[str]) -> dict[str, Any]:
    if not path.is_file():
        problems.append(f"{what} {str(path)!r} does not exist")
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{what} {str(path)!r} is not valid TOML: {exc}")
        return {}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for sec, values in over.items():
        if isinstance(values, Mapping) and isinstance(out.get(sec), Mapping):
            out[sec] = {**out[sec], **values}
        else:
            out[sec] = copy.deepcopy(values)
    return out


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    sec, key = dotted.split(".", 1)
    if not isinstance(data.get(sec), dict):
        data[sec] = {}
    data[sec][key] = value


def _get(case: Case, dotted: str) -> Any:
    sec, key = dotted.split(".", 1)
    return getattr(getattr(case, sec), key)


def format_value(value: Any) -> str:
    """A value as it appears in a case id and in results.csv."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "x".join(format_value(v) for v in value)
    return str(value)


def case_id(values: Mapping[str, Any]) -> str:
    """A readable folder name from the swept values, e.g. ``porosity-0.2__c_rate-1.0``."""
    short = [k.split(".", 1)[1] for k in values]
    labels = [s if short.count(s) == 1 else k.replace(".", "_") for s, k in zip(short, values, strict=True)]
    text = "__".join(f"{lab}-{format_value(v)}" for lab, v in zip(labels, values.values(), strict=True))
    text = _UNSAFE.sub("-", text).strip(".") or "case"
    if len(text) > MAX_ID:
        text = f"{text[:MAX_ID - 9]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return text


def _combinations(grid: dict[str, list[Any]], zipped: dict[str, list[Any]]) -> list[dict[str, Any]]:
    rows = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    if zipped:
        n = len(next(iter(zipped.values())))
        listed = [{k: v[i] for k, v in zipped.items()} for i in range(n)]
        rows = [{**g, **z} for g in rows for z in listed]
    return rows


def job_options(raw: Mapping[str, Any], run: Mapping[str, Any] | None, slurm: Mapping[str, Any] | None,
                problems: list[str]) -> tuple[RunSpec, SlurmOptions]:
    """``[run]`` and ``[slurm]`` of ``raw`` with ``run``/``slurm`` (command line) on top."""
    run_spec = parse_table(RunSpec, run, "run", problems,
                           parse_table(RunSpec, raw.get("run"), "run", problems))
    slurm_opts = parse_table(SlurmOptions, slurm, "slurm", problems,
                             parse_table(SlurmOptions, raw.get("slurm"), "slurm", problems))
    problems += run_spec.problems() + slurm_opts.problems()
    return run_spec, slurm_opts


def load_sweep(path: str | os.PathLike[str], *, directory: str | os.PathLike[str] | None = None,
               yes: bool = False, run: Mapping[str, Any] | None = None,
               slurm: Mapping[str, Any] | None = None) -> Sweep:
    """Read, expand and validate a sweep file; ``run``/``slurm`` override its tables.

    ``directory`` replaces ``<[sweep] directory>/<name>`` as the sweep folder. Raises
    :class:`ConfigError` listing every problem; nothing is written.
    """
    path = Path(path)
    problems: list[str] = []
    raw = _read_toml(path, "sweep file", problems)
    if problems:
        raise ConfigError(problems, str(path))
    for table in raw:
        if table not in TABLES:
            close = difflib.get_close_matches(table, TABLES, n=1, cutoff=0.5)
            hint = f"did you mean [{close[0]}]?" if close else f"tables: {', '.join(TABLES)}"
            problems.append(f"unknown table [{table}]; {hint}")
    settings = parse_table(SweepSettings, raw.get("sweep"), "sweep", problems)
    run_spec, slurm_opts = job_options(raw, run, slurm, problems)

    base: dict[str, Any] = {}
    if settings.base:
        base = _read_toml((path.parent / settings.base), "base case", problems)
        resolve_paths(base, (path.parent / settings.base).parent)  # input files: beside the base case
    inline = raw.get("base", {})
    if not isinstance(inline, Mapping):
        problems.append("[base] must be a table of case sections")
        inline = {}
    inline = copy.deepcopy(dict(inline))
    resolve_paths(inline, path.parent)  # and those of the sweep file: beside it
    base = _merge(base, inline)
    if not problems:
        try:
            base_case = validate(base, source=f"{path} (base)")
        except ConfigError as exc:
            problems += [f"base case: {p}" for p in exc.problems]

    grid = _axes(raw.get("grid"), "grid", problems)
    zipped = _axes(raw.get("list"), "list", problems)
    for key in set(grid) & set(zipped):
        problems.append(f"{key} is in both [grid] and [list]; give it in one of them")
    lengths = {k: len(v) for k, v in zipped.items()}
    if len(set(lengths.values())) > 1:
        problems.append("[list] values are varied together and need equal lengths, got "
                        + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
    if settings.replicates > 1:
        if "geometry.seed" in grid or "geometry.seed" in zipped:
            problems.append("[sweep] replicates and a swept geometry.seed: give one of them")
        elif not problems:
            seed = base_case.geometry.seed
            grid["geometry.seed"] = list(range(seed, seed + settings.replicates))
    if not problems and not grid and not zipped:
        problems.append("nothing to sweep: give [grid] or [list] values or [sweep] replicates > 1")
    if problems:
        raise ConfigError(problems, str(path))

    count = math.prod(len(v) for v in grid.values()) * (next(iter(lengths.values())) if lengths else 1)
    if count > settings.max_cases and not yes:
        raise ConfigError([f"the sweep expands to {count} cases, more than max_cases = "
                           f"{settings.max_cases}; check [grid]/[list], or pass --yes to go ahead"],
                          str(path))
    name = settings.name or path.stem
    if _UNSAFE.search(name):
        raise ConfigError([f"[sweep] name = {name!r}: use letters, digits, '-', '_' or '.'"], str(path))
    folder = Path(directory) if directory else Path(settings.directory) / name
    points = _expand(base, grid, zipped, folder, str(path))
    return Sweep(name=name, source=str(path), directory=folder, points=points,
                 swept=tuple(grid) + tuple(zipped), run=run_spec, slurm=slurm_opts, settings=settings)


def _expand(base: dict[str, Any], grid: dict[str, list[Any]], zipped: dict[str, list[Any]],
            folder: Path, source: str) -> tuple[Point, ...]:
    """Validate every combination; the case is named by its id and meshes into its folder."""
    problems: list[str] = []
    points: list[Point] = []
    seen: dict[str, dict[str, Any]] = {}
    own_mesh_dir = "directory" not in base.get("mesh", {})
    for values in _combinations(grid, zipped):
        data = copy.deepcopy(base)
        for key, value in values.items():
            _set(data, key, value)
        label = ", ".join(f"{k} = {v!r}" for k, v in values.items())
        try:
            case = validate(data, source=source)
        except ConfigError as exc:
            problems += [f"case {label}: {p}" for p in exc.problems]
            continue
        resolved = {k: _get(case, k) for k in values}
        cid = case_id(resolved)
        if cid in seen:
            problems.append(f"cases {seen[cid]} and {resolved} get the same id {cid!r}; "
                            "make the values distinct")
            continue
        seen[cid] = resolved
        overrides: dict[str, dict[str, Any]] = {}
        if "case.name" not in values:
            overrides["case"] = {"name": cid}
        if own_mesh_dir and "mesh.directory" not in values:
            overrides["mesh"] = {"directory": str((folder / cid).resolve())}
        points.append(Point(id=cid, dir=cid, values=resolved, case=case.replace(**overrides)))
    if problems:
        shown = problems[:25] + ([f"... and {len(problems) - 25} more"] if len(problems) > 25 else [])
        raise ConfigError(shown, source)
    return tuple(points)


def single(case: Case, folder: str | os.PathLike[str], run: RunSpec, slurm: SlurmOptions,
           source: str) -> Sweep:
    """A sweep of one case whose folder is the sweep folder itself (``fem-electrode submit``)."""
    point = Point(id=case.case.name, dir=".", values={}, case=case)
    return Sweep(name=case.case.name, source=source, directory=Path(folder), points=(point,), swept=(),
                 run=run, slurm=slurm, settings=SweepSettings(name=case.case.name))
