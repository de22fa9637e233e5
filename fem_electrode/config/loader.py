"""Case file (TOML) -> validated, immutable :class:`Case`.

All problems are collected and raised together as one :class:`ConfigError`; unknown
keys get a "did you mean" suggestion. The resolved case (defaults filled in) can be
written back next to every output with :func:`write_case`.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from fem_electrode.config.schema import SCHEMA
from fem_electrode.config.sections import electrochemistry, mechanics
from fem_electrode.config.sections.case import CaseConfig
from fem_electrode.config.sections.electrochemistry import ElectrochemistryConfig
from fem_electrode.config.sections.electrode import ElectrodeConfig
from fem_electrode.config.sections.geometry import GeometryConfig
from fem_electrode.config.sections.materials import MaterialsConfig
from fem_electrode.config.sections.mechanics import MechanicsConfig
from fem_electrode.config.sections.mesh import MeshConfig
from fem_electrode.config.sections.output import OutputConfig
from fem_electrode.config.sections.protocol import ProtocolConfig
from fem_electrode.config.sections.solver import SolverConfig
from fem_electrode.config.spec import REQUIRED
from fem_electrode.util import atomic
from fem_electrode.util.errors import BadInput


class ConfigError(BadInput):
    """One or more problems in a case file; ``problems`` lists each one (exit code 2)."""

    def __init__(self, problems: list[str], source: str = "case"):
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class Case:
    """A validated case: one typed, immutable section per ``[section]`` (``case.geometry.porosity``)."""

    case: CaseConfig
    geometry: GeometryConfig
    mesh: MeshConfig
    materials: MaterialsConfig
    electrochemistry: ElectrochemistryConfig
    protocol: ProtocolConfig
    mechanics: MechanicsConfig
    electrode: ElectrodeConfig
    solver: SolverConfig
    output: OutputConfig
    source: str = "case"

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict of every resolved value, sections in schema order."""
        return {s.name: {f.name: getattr(section, f.name) for f in fields(section)}
                for s in SCHEMA for section in (getattr(self, s.name),)}

    def replace(self, **overrides: Mapping[str, Any]) -> Case:
        """A new validated case with ``{section: {key: value}}`` overrides applied."""
        data = self.to_dict()
        for sec, values in overrides.items():
            data.setdefault(sec, {}).update(values)
        return validate(data, source=self.source)


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(candidates)}"


def validate(data: Mapping[str, Any], source: str = "case") -> Case:
    """Validate a nested mapping against :data:`SCHEMA`; raise :class:`ConfigError`."""
    problems: list[str] = []
    names = [s.name for s in SCHEMA]
    for sec_name, value in data.items():
        if sec_name not in names:
            problems.append(f"unknown section [{sec_name}]{_suggest(sec_name, names)}")
        elif not isinstance(value, Mapping):
            problems.append(f"[{sec_name}] must be a table, got {value!r}")
    resolved: dict[str, Any] = {}
    for section in SCHEMA:
        raw = data.get(section.name, {})
        if not isinstance(raw, Mapping):
            raw = {}
        key_names = [k.name for k in section.keys]
        for given in raw:
            if given not in key_names:
                problems.append(
                    f"{section.name}.{given}: unknown key{_suggest(given, key_names)}"
                )
        values: dict[str, Any] = {}
        ok = True
        for key in section.keys:
            if key.name in raw:
                value, problem = key.check(raw[key.name])
                if problem:
                    problems.append(f"{section.name}.{key.name} = {raw[key.name]!r}: {problem}")
                    ok = False
                values[key.name] = value
            elif key.default is REQUIRED:
                problems.append(
                    f"{section.name}.{key.name}: missing required key ({key.doc}; "
                    f"allowed: {key.allowed()})"
                )
                ok = False
                values[key.name] = None
            else:
                values[key.name] = list(key.default) if isinstance(key.default, list) else key.default
        if ok:  # cross-key checks only make sense on individually valid values
            for check in section.checks:
                problems.extend(f"{section.name}: {p}" for p in check(values))
        resolved[section.name] = values
    for check in CASE_CHECKS:
        if not problems:
            problems.extend(check(resolved))
    if problems:
        raise ConfigError(problems, source)
    typed = {s.name: s.config_class(**resolved[s.name]) for s in SCHEMA}  # type: ignore[misc]
    return Case(**typed, source=source)


#: Checks that span sections; each receives the resolved nested dict.
CASE_CHECKS: list = [electrochemistry.check_cutoffs_against_ocv, mechanics.check_periodic_mesh,
                     mechanics.check_cohesive]


def load_case(path: str | os.PathLike[str], overrides: Mapping[str, Mapping[str, Any]] | None = None,
              allow_empty: bool = False) -> Case:
    """Read and validate a TOML case file (raises :class:`ConfigError`).

    A file without any section is an error unless ``allow_empty`` (every default: a 10 µm
    RVE, hours of computing)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([f"case file {str(path)!r} does not exist"], str(path))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not a text (UTF-8) file: byte {exc.start} is {exc.object[exc.start]:#04x}; "
                           "allowed: a TOML case file"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read the case file: {exc.strerror or exc}"], str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from None
    if not data and not allow_empty:
        raise ConfigError(["the case file is empty (no [section]): every key would take its default, a "
                           "10 um RVE that runs for hours; write the sections you mean (at least [case] "
                           "name = ...) or pass --defaults to run the default case on purpose"], str(path))
    resolve_paths(data, path.parent)
    for sec, values in (overrides or {}).items():
        data.setdefault(sec, {}).update(values)
    return validate(data, source=str(path))


#: Keys naming input files, relative to the case file's folder when not absolute.
PATH_KEYS = (("geometry", "image"),)


def resolve_paths(data: dict[str, Any], folder: Path) -> None:
    """Make the relative paths of :data:`PATH_KEYS` absolute against the case file's ``folder``
    (so that the resolved case written next to a run still finds them)."""
    for sec, name in PATH_KEYS:
        section = data.get(sec)
        value = section.get(name) if isinstance(section, dict) else None
        if isinstance(value, str) and value and not Path(value).is_absolute():
            section[name] = str((folder / value).resolve())  # type: ignore[index]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def dumps_case(case: Case) -> str:
    """The fully resolved case as TOML text (``None`` values are omitted)."""
    out = [f"# resolved case (all defaults filled in), from {case.source}"]
    for sec, values in case.to_dict().items():
        out.append(f"\n[{sec}]")
        out.extend(f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None)
    return "\n".join(out) + "\n"


def write_case(case: Case, path: str | os.PathLike[str]) -> Path:
    """Write the resolved case atomically (rank 0's job under MPI)."""
    return atomic.write_text(path, dumps_case(case))
