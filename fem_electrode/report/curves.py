"""Voltage–capacity curves from a run's time series: split into half-cycles by current sign.

The sign convention of design §3 holds: current > 0 is anodic (charge, Na leaves NVP).
Each half-cycle's capacity is counted from its own start, so the x axis reads "capacity
charged / discharged so far" whatever the capacity column accumulates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem_electrode.report.rundata import find_column


@dataclass
class HalfCycle:
    kind: str  #: "charge" or "discharge"
    index: int  #: cycle number, from 1
    capacity: np.ndarray  #: mAh/g from the half-cycle's start (or hours when no capacity column)
    voltage: np.ndarray  #: V


@dataclass
class Columns:
    time: str | None
    current: str | None
    voltage: str | None
    capacity: str | None


def columns(ts: dict[str, np.ndarray]) -> Columns:
    """Locate the time, current, cell-voltage and capacity columns by name."""
    voltage = (find_column(ts, "cell", "voltage") or find_column(ts, "voltage", exclude=("ocv",))
               or find_column(ts, "v_cell"))
    return Columns(
        time=find_column(ts, "time"),
        current=find_column(ts, "current", exclude=("interface", "density_int")),
        voltage=voltage,
        capacity=find_column(ts, "capacity", "mah") or find_column(ts, "capacity"),
    )


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


def voltage_gap(ts: dict[str, np.ndarray]) -> float | None:
    """Charge minus discharge voltage at half the smaller capacity of the first full cycle (V).

    The paper's polarization measure: the gap between the plateaus at a fixed capacity.
    """
    hc = half_cycles(ts)
    ch = next((h for h in hc if h.kind == "charge"), None)
    dis = next((h for h in hc if h.kind == "discharge"), None)
    if ch is None or dis is None:
        return None
    q = 0.5 * min(ch.capacity.max(), dis.capacity.max())
    if q <= 0:
        return None
    vc = np.interp(q, *_monotone(ch.capacity, ch.voltage))
    vd = np.interp(q, *_monotone(dis.capacity, dis.voltage))
    return float(vc - vd)


def _monotone(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.concatenate([[True], np.diff(x) > 0])
    return x[keep], y[keep]
