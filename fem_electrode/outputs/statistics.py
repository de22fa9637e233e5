"""Distributed, weighted statistics of sampled fields: mean, percentiles, extremes, exceedance.

Samples carry weights (volumes or areas); every statistic is reduced over all MPI ranks and
does not depend on the partition. :func:`weighted_quantiles` is a distributed selection that
returns one of the samples; nothing is gathered.
"""

from __future__ import annotations

import numpy as np

from fem_electrode.fem.fenicsx import MPI

#: Percentiles reported for every distribution.
PERCENTILES = (95.0, 99.0)

#: Relative slack on the cumulative-weight target of a quantile: cumulative sums that tie the
#: target exactly (equal cell volumes of a structured mesh) fall on the same side on any
#: number of ranks despite round-off in the order of summation.
QUANTILE_RTOL = 1e-12


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: list[float] | tuple[float, ...],
                       comm: MPI.Comm) -> list[float]:
    """For each q in [0, 1]: the smallest sample x with W(v ≤ x) ≥ q·W over all ranks (NaN if
    there is no weight).

    A distributed selection: each round pivots on the count-weighted median of the ranks'
    local medians of the remaining candidates, so O(log N) rounds of two small collectives;
    nothing is gathered. The answer is one of the samples and does not depend on the
    partition. The local samples are sorted once for all ``qs``.
    """
    values = np.asarray(values, dtype=float).ravel()
    weights = np.asarray(weights, dtype=float).ravel()
    order = np.argsort(values, kind="stable")
    v, cw = values[order], np.cumsum(weights[order])
    total = comm.allreduce(float(cw[-1]) if cw.size else 0.0, op=MPI.SUM)
    if not total > 0.0:
        return [float("nan")] * len(qs)
    v_max = comm.allreduce(float(v[-1]) if v.size else -np.inf, op=MPI.MAX)

    def weight_le(x: float) -> float:
        i = int(np.searchsorted(v, x, side="right"))
        return comm.allreduce(float(cw[i - 1]) if i else 0.0, op=MPI.SUM)

    def select(q: float) -> float:
        target = q * total * (1.0 - QUANTILE_RTOL)
        lo, hi = -np.inf, v_max
        while True:  # invariant: W(≤ lo) < target ≤ W(≤ hi)
            i0, i1 = int(np.searchsorted(v, lo, side="right")), int(np.searchsorted(v, hi, side="left"))
            n = i1 - i0  # local candidates, strictly inside (lo, hi)
            proposals = comm.allgather((n, float(v[(i0 + i1) // 2]) if n else 0.0))
            n_all = sum(k for k, _ in proposals)
            if n_all == 0:
                return float(hi)
            acc, pivot = 0, hi
            for k, median in sorted(((k, m) for k, m in proposals if k), key=lambda km: km[1]):
                acc += k
                if 2 * acc >= n_all:
                    pivot = median
                    break
            if weight_le(pivot) >= target:
                hi = pivot
            else:
                lo = pivot

    return [select(q) for q in qs]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float, comm: MPI.Comm) -> float:
    """One weighted quantile; see :func:`weighted_quantiles`."""
    return weighted_quantiles(values, weights, (q,), comm)[0]


def distribution(values: np.ndarray, weights: np.ndarray, comm: MPI.Comm,
                 threshold: float | None = None) -> dict[str, float | None]:
    """Weighted mean, p95, p99, min, max (and the weight fraction above ``threshold``)."""
    values = np.asarray(values, dtype=float).ravel()
    weights = np.asarray(weights, dtype=float).ravel()
    total = comm.allreduce(float(weights.sum()), op=MPI.SUM)
    out: dict[str, float | None] = {}
    if not total > 0.0:
        out.update(mean=None, **{f"p{p:g}": None for p in PERCENTILES}, min=None, max=None)
        if threshold is not None:
            out["fraction_above"] = None
        return out
    out["mean"] = comm.allreduce(float(values @ weights), op=MPI.SUM) / total
    quantiles = weighted_quantiles(values, weights, [p / 100.0 for p in PERCENTILES], comm)
    out.update({f"p{p:g}": x for p, x in zip(PERCENTILES, quantiles, strict=True)})
    out["min"] = comm.allreduce(float(values.min()) if values.size else np.inf, op=MPI.MIN)
    out["max"] = comm.allreduce(float(values.max()) if values.size else -np.inf, op=MPI.MAX)
    if threshold is not None:
        above = comm.allreduce(float(weights[values > threshold].sum()), op=MPI.SUM)
        out["fraction_above"] = above / total
    return out
