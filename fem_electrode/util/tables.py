"""Small TOML tables -> frozen dataclasses, for the sweep file's ``[sweep]``, ``[run]``, ``[slurm]``.

Each dataclass field documents itself with ``field(metadata={"doc": ...})``; allowed types
are ``str``, ``int``, ``bool`` and ``tuple[str, ...]`` (a TOML list of strings). Problems
are appended to a list (like the case validator, every problem is reported at once).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields, replace
from typing import Any


def doc(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: the key's documentation (and optional ``lo``, ``choices``)."""
    return {"doc": text, **extra}


def _check(name: str, kind: Any, value: Any, meta: Mapping[str, Any]) -> tuple[Any, str | None]:
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is str:
        ok = isinstance(value, str)
    else:  # tuple[str, ...]
        if isinstance(value, str):
            value = [value]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        want = {bool: "true or false", int: "an integer", str: "a string"}.get(kind, "a list of strings")
        return None, f"{name} = {value!r}: expected {want}"
    if "lo" in meta and value < meta["lo"]:
        return None, f"{name} = {value!r}: must be >= {meta['lo']}"
    if "choices" in meta and value not in meta["choices"]:
        return None, f"{name} = {value!r}: allowed: {', '.join(map(repr, meta['choices']))}"
    return value, None


def parse_table[T](cls: type[T], raw: Any, section: str, problems: list[str], base: T | None = None) -> T:
    """Build ``cls`` from the TOML table ``raw`` (on top of ``base`` or the defaults)."""
    start = base if base is not None else cls()
    if raw is None:
        return start
    if not isinstance(raw, Mapping):
        problems.append(f"[{section}] must be a table, got {raw!r}")
        return start
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(known)}"
            problems.append(f"[{section}] unknown key {key!r}; {hint}")
            continue
        kind = hints[key]
        kind = kind if kind in (str, int, bool) else tuple
        checked, problem = _check(f"{section}.{key}", kind, value, known[key].metadata)
        if problem:
            problems.append(problem)
        else:
            values[key] = checked
    return replace(start, **values)  # type: ignore[type-var]


def describe(cls: type) -> list[tuple[str, str, str]]:
    """``(key, default, doc)`` for every field of ``cls`` (documentation tables)."""
    rows = []
    for f in fields(cls):
        default = f.default if f.default is not MISSING else (
            f.default_factory() if f.default_factory is not MISSING else "")
        rows.append((f.name, repr(default), f.metadata.get("doc", "")))
    return rows
