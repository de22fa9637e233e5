"""Anderson mixing of a fixed-point iteration x = g(x) on vectors distributed over MPI ranks.

Given the last iterates x_k and their images g_k = g(x_k), the next iterate is the combination
of the g_k whose residuals f_k = g_k − x_k combine to the smallest norm (Walker & Ni, SIAM J.
Numer. Anal. 49 (2011) 1715, the "type II" form with mixing parameter 1). Each rank holds its
own rows; the small least-squares problem is reduced over ``comm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Tikhonov regularisation of the least-squares Gram matrix, relative to its trace.
REGULARISATION = 1e-14


def anderson_step(xs: Sequence[np.ndarray], gs: Sequence[np.ndarray], comm: Any) -> np.ndarray:
    """The mixed next iterate from the history (xs[k], gs[k] = g(xs[k])), oldest first; with one
    pair only, the plain fixed-point step gs[-1]."""
    if len(xs) != len(gs) or not gs:
        raise ValueError("anderson_step needs as many images as iterates, at least one")
    if len(xs) < 2:
        return gs[-1].copy()
    f = [g - x for x, g in zip(xs, gs, strict=True)]
    dF = np.stack([b - a for a, b in zip(f, f[1:], strict=False)], axis=1)
    dG = np.stack([b - a for a, b in zip(gs, gs[1:], strict=False)], axis=1)
    gram = comm.allreduce(dF.T @ dF, op=_sum())
    rhs = comm.allreduce(dF.T @ f[-1], op=_sum())
    scale = float(np.trace(gram)) or 1.0
    gamma = np.linalg.lstsq(gram + REGULARISATION * scale * np.eye(len(rhs)), rhs, rcond=None)[0]
    return gs[-1] - dG @ gamma


def _sum() -> Any:
    from mpi4py import MPI

    return MPI.SUM
