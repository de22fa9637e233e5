"""Voltage–capacity curves from a run's time series: split into half-cycles by current sign.

Columns as written by :mod:`fem_electrode.outputs.timeseries`; current > 0 is anodic
(charge, Na leaves NVP). Each half-cycle's capacity is counted from its own start, so the x
axis reads "capacity charged / discharged so far" whatever the capacity column accumulates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class HalfCycle:
    kind: str  #: "charge" or "discharge"
    index: int  #: cycle number, from 1
    capacity: np.ndarray  #: mAh/g from the half-cycle's start (or hours when no capacity column)
    voltage: np.ndarray  #: V


#: The time-series columns the curves read (names as in fem_electrode.outputs.timeseries).
TIME, CURRENT, VOLTAGE, CAPACITY = "time_s", "current_A", "voltage_V", "capacity_mAh_per_g"


@dataclass
class Columns:
    time: str | None
    current: str | None
    voltage: str | None
    capacity: str | None


def columns(ts: dict[str, np.ndarray]) -> Columns:
    """The time, current, cell-voltage and capacity columns present in ``ts``."""
    present = lambda name: name if name in ts else None  # noqa: E731
    return Columns(present(TIME), present(CURRENT), present(VOLTAGE), present(CAPACITY))


def half_cycles(ts: dict[str, np.ndarray]) -> list[HalfCycle]:
    """Charge and discharge segments in time order (rests with zero current are dropped)."""
    cols = columns(ts)
    if cols.voltage is None or cols.current is None:
        return []
    current, voltage = ts[cols.current], ts[cols.voltage]
    if cols.capacity is not None:
        x = ts[cols.capacity]
    elif cols.time is not None:
        x = ts[cols.time] / 3600.0
    else:
        x = np.arange(current.size, dtype=float)
    sign = np.sign(np.where(np.abs(current) > 1e-12 * np.max(np.abs(current), initial=1.0), current, 0.0))
    out: list[HalfCycle] = []
    start, counts = None, {"charge": 0, "discharge": 0}
    for i in range(sign.size + 1):
        s = sign[i] if i < sign.size else 0.0
        if start is not None and (i == sign.size or s != sign[start]):
            kind = "charge" if sign[start] > 0 else "discharge"
            counts[kind] += 1
            seg = slice(start, i)
            # a per-half-cycle column restarts near 0 (count from 0); a cumulative one goes on
            x0 = x[start - 1] if start > 0 and x[start] >= x[start - 1] else 0.0
            xs = np.abs(x[seg] - x0)
            out.append(HalfCycle(kind, counts[kind], xs, voltage[seg]))
            start = None
        if start is None and i < sign.size and s != 0:
            start = i
    return [h for h in out if h.capacity.size >= 2]


def capacity_unit(ts: dict[str, np.ndarray]) -> str:
    """Axis label of the half-cycle capacity."""
    cols = columns(ts)
    if cols.capacity is not None:
        return "capacity (mAh/g NVP)"
    return "time in half-cycle (h)" if cols.time is not None else "step"
