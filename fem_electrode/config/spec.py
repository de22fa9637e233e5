"""Building blocks of the case-file schema: a documented key and a section of keys.

Every key carries its meaning, unit, default and allowed values. The validator and the
generated documentation (``fem-electrode keys``) both read these objects, so the docs
can never drift from what is enforced.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REQUIRED = object()  #: sentinel default: the key must be given in the case file

#: A cross-key check: receives the section's resolved values, returns problem strings.
SectionCheck = Callable[[Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class Key:
    """One case-file key.

    ``type`` is one of ``float``, ``int``, ``bool``, ``str``, ``list[float]``, ``table``
    (a free table of option name -> scalar, e.g. PETSc options).
    ``lo``/``hi`` bound numbers (and every element of a list); ``lo_open``/``hi_open``
    make the bound exclusive. ``choices`` restricts strings. ``source`` cites a parameter.
    """

    name: str
    type: str
    default: Any
    unit: str
    doc: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] | None = None
    source: str = ""
    optional: bool = False  #: ``None`` (key absent) is allowed; the default is then None

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.lo is None and self.hi is None:
            return {"float": "a number", "int": "an integer", "bool": "true or false",
                    "str": "a string", "list[float]": "a list of numbers",
                    "table": "a table of name = value"}[self.type]
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        what = "a list of numbers in " if self.type == "list[float]" else ""
        return f"{what}{left}{lo}, {hi}{right}"

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Coerce and check ``value``; return ``(value, None)`` or ``(None, problem)``."""
        if value is None and self.optional:
            return None, None
        t = self.type
        if t == "bool":
            if not isinstance(value, bool):
                return None, f"expected true or false, got {value!r}"
            return value, None
        if t == "str":
            if not isinstance(value, str):
                return None, f"expected a string, got {value!r}"
            if self.choices and value not in self.choices:
                return None, f"{value!r} is not allowed; allowed: {self.allowed()}"
            return value, None
        if t == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return None, f"expected an integer, got {value!r}"
            return value, self._range_problem(value)
        if t == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None, f"expected a number, got {value!r}"
            value = float(value)
            return value, self._range_problem(value)
        if t == "table":
            if not isinstance(value, Mapping) or any(
                not isinstance(v, bool | int | float | str) for v in value.values()
            ):
                return None, f"expected a table of name = scalar, got {value!r}"
            return dict(value), None
        if t == "list[float]":
            if not isinstance(value, list) or not value or any(
                isinstance(v, bool) or not isinstance(v, int | float) for v in value
            ):
                return None, f"expected a non-empty list of numbers, got {value!r}"
            value = [float(v) for v in value]
            for v in value:
                problem = self._range_problem(v)
                if problem:
                    return None, problem
            return value, None
        raise AssertionError(f"unknown key type {t}")  # pragma: no cover

    def _range_problem(self, v: float) -> str | None:
        if isinstance(v, float) and not math.isfinite(v):
            return f"{v!r} is not finite; allowed: {self.allowed()}"
        bad_lo = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        bad_hi = self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)
        if bad_lo or bad_hi:
            return f"{v!r} is out of range; allowed: {self.allowed()}"
        return None


def key(default: Any, unit: str, doc: str, *, lo: float | None = None, hi: float | None = None,
        lo_open: bool = False, hi_open: bool = False, choices: tuple[str, ...] | None = None,
        source: str = "") -> Any:
    """A field of a typed section class that documents itself as a case-file :class:`Key`.

    ``default`` is the key's one default (lists and tables are copied per instance); the
    field's type annotation gives the key's type (``X | None``: the key may be absent).
    """
    meta = {"unit": unit, "doc": doc, "lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open,
            "choices": choices, "source": source}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"key": meta})
    return field(default=default, metadata={"key": meta})


#: Python annotation -> Key.type
_KEY_TYPES: dict[Any, str] = {float: "float", int: "int", bool: "bool", str: "str",
                               list[float]: "list[float]"}


def _key_type(annotation: Any) -> tuple[str, bool]:
    """(Key.type, optional) of a section field's annotation."""
    optional = False
    if isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation):
        optional = True
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is dict:
        return "table", optional
    if annotation not in _KEY_TYPES:
        raise TypeError(f"unsupported case-key type {annotation!r}")
    return _KEY_TYPES[annotation], optional


@dataclass(frozen=True)
class Section:
    """A ``[section]`` of the case file: its keys, cross-key checks and typed class."""

    name: str
    doc: str
    keys: Sequence[Key]
    checks: Sequence[SectionCheck] = field(default_factory=tuple)
    config_class: type | None = None  #: frozen dataclass holding the section's resolved values

    @classmethod
    def from_config(cls, name: str, config_class: type, checks: Sequence[SectionCheck] = ()) -> Section:
        """The section described by a frozen dataclass whose fields are made with :func:`key`;
        its docstring is the section's documentation."""
        hints = typing.get_type_hints(config_class)
        keys = []
        for f in dataclasses.fields(config_class):
            meta = f.metadata["key"]
            kind, optional = _key_type(hints[f.name])
            factory: Any = f.default_factory
            default = f.default if f.default is not dataclasses.MISSING else factory()
            keys.append(Key(f.name, kind, default, meta["unit"], meta["doc"], lo=meta["lo"], hi=meta["hi"],
                            lo_open=meta["lo_open"], hi_open=meta["hi_open"], choices=meta["choices"],
                            source=meta["source"], optional=optional))
        doc = " ".join((config_class.__doc__ or "").split())
        return cls(name, doc, tuple(keys), tuple(checks), config_class)

    def key(self, name: str) -> Key:
        for k in self.keys:
            if k.name == name:
                return k
        raise KeyError(f"[{self.name}] has no key {name!r}")
