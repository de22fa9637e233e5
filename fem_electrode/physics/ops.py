"""Two backends for one formula: NumPy (closed forms, tests, config checks) and UFL (forms).

Kinetic and OCV laws are written once against :class:`Ops`; :data:`NUMPY` evaluates them
on arrays, :func:`ufl_ops` builds UFL expressions (imported lazily, so configuration
checks never import DOLFINx).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Ops:
    """Elementary operations of a backend."""

    exp: Callable[[Any], Any]
    ln: Callable[[Any], Any]
    minimum: Callable[[Any, Any], Any]
    maximum: Callable[[Any, Any], Any]
    #: ``where_gt(x, a, if_true, if_false)``: ``if_true`` where ``x > a``.
    where_gt: Callable[[Any, Any, Any, Any], Any]

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        """``x`` limited to ``[lo, hi]``."""
        return self.minimum(self.maximum(x, lo), hi)


def is_number(x: Any) -> bool:
    """True for a real number (not a bool, not a UFL expression)."""
    return isinstance(x, int | float | np.floating | np.integer) and not isinstance(x, bool)


NUMPY = Ops(
    exp=np.exp, ln=np.log, minimum=np.minimum, maximum=np.maximum,
    where_gt=lambda x, a, t, f: np.where(np.asarray(x) > a, t, f),
)


def ufl_ops() -> Ops:
    """The UFL backend (imports UFL through :mod:`fem_electrode.fem.fenicsx`)."""
    from fem_electrode.fem.fenicsx import ufl

    return Ops(
        exp=ufl.exp, ln=ufl.ln, minimum=ufl.min_value, maximum=ufl.max_value,
        where_gt=lambda x, a, t, f: ufl.conditional(ufl.gt(x, a), t, f),
    )
