"""PETSc options of one solver: defaults merged with user overrides under a prefix.

Both solvers (the blocked Newton of the electrochemistry and the linear elasticity KSP) set
their options the same way: :func:`merged` puts the user's ``[solver] petsc`` entries for
that solver (prefix removed) over the defaults, and an :class:`OptionsScope` writes them into
PETSc's global option database under the solver's prefix for the set-up and removes them
again afterwards, so that one problem's options never leak into another's.
:func:`reason_name` turns a converged-reason code into its PETSc name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fem_electrode.fem.fenicsx import PETSc
from fem_electrode.util.errors import BadInput

#: A PETSc option value as the case file gives it.
OptionValue = str | int | float | bool

#: PETSc error codes that mean "an argument (here: an option value) is not acceptable".
ARGUMENT_ERRORS = {56: "no support for this option", 62: "wrong argument", 63: "argument out of range",
                   75: "incompatible arguments", 86: "unknown type name", 89: "type not set"}


class SolverOptionsError(BadInput):
    """PETSc rejected an option (a ``[solver] petsc`` value of the wrong type or range, an unknown
    solver type)."""


def rejected(exc: PETSc.Error, prefix: str, user: Mapping[str, Any]) -> SolverOptionsError | None:
    """The input error behind a PETSc error raised while options were read, or None when the
    error is of another kind (a numerical failure)."""
    code = getattr(exc, "ierr", None)
    if code not in ARGUMENT_ERRORS:
        return None
    given = ", ".join(f"{k} = {v!r}" for k, v in user.items()) or "none"
    return SolverOptionsError(
        f"PETSc rejected an option of the solver with prefix {prefix!r} (PETSc error {code}: "
        f"{ARGUMENT_ERRORS[code]}; its message above names the option); [solver] petsc options given: "
        f"{given}")


def unused(scope: OptionsScope, user: Mapping[str, Any]) -> list[str]:
    """The user's options (names without prefix) that PETSc never read in ``scope``."""
    db = PETSc.Options()  # (not hasName first: querying an option marks it used)
    return [key for key in user if key in scope.options and not db.used(f"{scope.prefix}{key}")]


def merged(defaults: Mapping[str, OptionValue], user: Mapping[str, Any], prefix: str,
           other_prefixes: tuple[str, ...] = (), optional_prefix: str | None = None
           ) -> dict[str, OptionValue]:
    """``defaults`` overridden by the ``user`` entries that belong to this solver.

    An entry belongs here when it starts with ``prefix`` (removed), or, with
    ``optional_prefix``, when it starts with none of ``other_prefixes`` (``optional_prefix``
    removed when present). Keys are option names without the leading ``-``.
    """
    out = dict(defaults)
    for key, value in user.items():
        if key.startswith(prefix):
            out[key.removeprefix(prefix)] = value
        elif optional_prefix is not None and not key.startswith(other_prefixes):
            out[key.removeprefix(optional_prefix)] = value
    return out


class OptionsScope:
    """Options under ``prefix`` in PETSc's database, written by :meth:`set` and removed by :meth:`clear`."""

    def __init__(self, prefix: str, options: Mapping[str, OptionValue]):
        self.prefix = prefix
        self.options = dict(options)

    def set(self) -> None:
        db = PETSc.Options()
        for key, value in self.options.items():
            db[f"{self.prefix}{key}"] = value

    def clear(self) -> None:
        db = PETSc.Options()
        for key in self.options:
            full = f"{self.prefix}{key}"
            if db.hasName(full):
                db.delValue(full)

    @contextmanager
    def active(self) -> Iterator[OptionsScope]:
        """The options are in the database inside the ``with`` block only."""
        self.set()
        try:
            yield self
        finally:
            self.clear()


def reason_name(reasons: type, code: int) -> str:
    """The name of ``code`` in a PETSc ``ConvergedReason`` class (e.g. ``DIVERGED_ITS``)."""
    for name in dir(reasons):
        if not name.startswith("_") and getattr(reasons, name) == code:
            return name
    return str(code)
