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


def anderson_coefficients(xs: Sequence[np.ndarray], gs: Sequence[np.ndarray], comm: Any) -> np.ndarray:
    """γ of the history (xs[k], gs[k] = g(xs[k])), oldest first: the combination of the residual
    differences closest to the last residual, f_last − ΔF γ of least norm (empty with one pair).
    The mixed iterate is :func:`mix` (gs, γ); any quantity affine in x mixes with the same γ."""
    if len(xs) != len(gs) or not gs:
        raise ValueError("anderson_coefficients needs as many images as iterates, at least one")
    if len(xs) < 2:
        return np.zeros(0)
    f = [g - x for x, g in zip(xs, gs, strict=True)]
    dF = np.stack([b - a for a, b in zip(f, f[1:], strict=False)], axis=1)
    gram = comm.allreduce(dF.T @ dF, op=_sum())
    rhs = comm.allreduce(dF.T @ f[-1], op=_sum())
    scale = float(np.trace(gram)) or 1.0
    return np.linalg.lstsq(gram + REGULARISATION * scale * np.eye(len(rhs)), rhs, rcond=None)[0]


def mix(history: Sequence[np.ndarray], gamma: np.ndarray) -> np.ndarray:
    """history[-1] − Δhistory γ (a copy of history[-1] when γ is empty)."""
    if not len(gamma):
        return history[-1].copy()
    d = np.stack([b - a for a, b in zip(history, history[1:], strict=False)], axis=1)
    return history[-1] - d @ gamma


def anderson_step(xs: Sequence[np.ndarray], gs: Sequence[np.ndarray], comm: Any) -> np.ndarray:
    """The mixed next iterate from the history (xs[k], gs[k] = g(xs[k])), oldest first; with one
    pair only, the plain fixed-point step gs[-1]."""
    return mix(gs, anderson_coefficients(xs, gs, comm))


def _sum() -> Any:
    from mpi4py import MPI

    return MPI.SUM
