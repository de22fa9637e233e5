"""``metrics.json``: capacities, Coulombic efficiency, polarization, conservation, solver.

Everything is computed from the time-series rows (so a resumed run gives the same numbers),
per cycle and for the last complete cycle:

- capacity of a half-cycle (mAh/g of NVP): Σ I·Δt over its galvanostatic and CV-hold steps
  (backward Euler: the end-of-step current acts over the step, exactly what moved the Na);
- Coulombic efficiency of a cycle: discharge / charge capacity of that cycle;
- polarization (V): charge minus discharge voltage, each at half of its own galvanostatic
  capacity (the plateau gap of the paper);
- energy of a half-cycle (mWh/g of NVP): Σ V·I·Δt over the same steps (charge: put in,
  discharge: taken out), and the energy efficiency discharge / charge;
- capacity retention: the cycle's discharge capacity over the first cycle's;
- with a cohesive interface (``mechanics.interface = 'cohesive'``): the debonded fraction
  (D = 1) and the active fraction ∫(1 − D) dA / A of the interface at the end of the cycle.

``cycles.csv`` holds the per-cycle table (one row per cycle, :data:`CYCLE_COLUMNS`). With cycle
jumping (``mechanics.cycle_jump``) the skipped cycles are filled in by :func:`fill_skipped` (every
number interpolated linearly between the simulated cycles around them) and the table gets the
column ``extrapolated`` (true for those cycles).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fem_electrode.physics.constants import mah_per_g
from fem_electrode.util import atomic

HALVES = ("charge", "discharge")
#: The columns of ``cycles.csv`` (units in the names; empty where a half-cycle is missing).
CYCLE_COLUMNS = ("cycle", "capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g",
                 "coulombic_efficiency", "polarization_V", "energy_charge_mWh_per_g",
                 "energy_discharge_mWh_per_g", "energy_efficiency", "capacity_retention",
                 "debonded_fraction", "active_interface_fraction")
#: Time-series columns of the interface damage (empty without a cohesive interface).
DAMAGE_COLUMNS = ("debonded_fraction", "active_interface_fraction")


def half_of(segment: str) -> str | None:
    """The half-cycle a segment label belongs to (``charge_hold`` -> ``charge``; rest -> None)."""
    for half in HALVES:
        if segment == half or segment == f"{half}_hold":
            return half
    return None


def _gap_voltage(rows: Sequence[Mapping[str, Any]]) -> float | None:
    """Voltage at half the galvanostatic capacity of ``rows`` (one half-cycle, in order)."""
    q = np.array([r["capacity_mAh_per_g"] for r in rows], dtype=float)
    v = np.array([r["voltage_V"] for r in rows], dtype=float)
    if q.size < 2 or q[-1] <= 0.0:
        return None
    keep = np.concatenate([[True], np.diff(q) > 0.0])
    return float(np.interp(0.5 * q[-1], q[keep], v[keep]))


def cycle_summary(rows: Sequence[Mapping[str, Any]], mass_kg: float) -> list[dict[str, Any]]:
    """Per cycle: charge/discharge capacity (mAh/g), Coulombic efficiency, polarization (V),
    charge/discharge energy (mWh/g) and energy efficiency."""
    cycles: dict[int, dict[str, Any]] = {}
    for r in rows:
        half = half_of(str(r["segment"]))
        if half is None:
            continue
        c = cycles.setdefault(int(r["cycle"]), {h: {"charge_C": 0.0, "energy_J": 0.0, "galv": []}
                                                for h in HALVES})
        sign = 1.0 if half == "charge" else -1.0
        moved = sign * float(r["current_A"]) * float(r["dt_s"])
        c[half]["charge_C"] += moved
        c[half]["energy_J"] += moved * float(r["voltage_V"])
        if r["segment"] == half:
            c[half]["galv"].append(r)
        for name in DAMAGE_COLUMNS:
            if r.get(name, "") not in ("", None):
                c[name] = float(r[name])  # the last value of the cycle
    out = []
    first_discharge = None
    for k in sorted(cycles):
        c = cycles[k]
        q_ch = mah_per_g(c["charge"]["charge_C"], mass_kg) if c["charge"]["galv"] else None
        q_dis = mah_per_g(c["discharge"]["charge_C"], mass_kg) if c["discharge"]["galv"] else None
        v_ch, v_dis = _gap_voltage(c["charge"]["galv"]), _gap_voltage(c["discharge"]["galv"])
        # J → mWh: the same conversion as C → mAh (1 V · 1 C = 1 J)
        e_ch = mah_per_g(c["charge"]["energy_J"], mass_kg) if q_ch is not None else None
        e_dis = mah_per_g(c["discharge"]["energy_J"], mass_kg) if q_dis is not None else None
        if first_discharge is None and q_dis:
            first_discharge = q_dis
        out.append({
            "cycle": k,
            "capacity_charge_mAh_per_g": q_ch,
            "capacity_discharge_mAh_per_g": q_dis,
            "coulombic_efficiency": q_dis / q_ch if q_ch and q_dis is not None else None,
            "polarization_V": v_ch - v_dis if v_ch is not None and v_dis is not None else None,
            "energy_charge_mWh_per_g": e_ch,
            "energy_discharge_mWh_per_g": e_dis,
            "energy_efficiency": e_dis / e_ch if e_ch and e_dis is not None else None,
            "capacity_retention": q_dis / first_discharge if first_discharge and q_dis is not None else None,
            **{name: c.get(name) for name in DAMAGE_COLUMNS},
        })
    return out


def fill_skipped(cycles: Sequence[Mapping[str, Any]], jumps: Sequence[Mapping[str, int]]
                 ) -> list[dict[str, Any]]:
    """The per-cycle list with the cycles skipped by cycle jumps (``jumps``: after which simulated
    cycle, how many skipped) filled in: each number interpolated linearly in the cycle number
    between the simulated cycles around the block (the one before where none follows), and every
    cycle marked ``extrapolated`` (true for the filled ones)."""
    by_cycle = {int(c["cycle"]): {**c, "extrapolated": False} for c in cycles}
    for jump in jumps:
        k, n = int(jump["after_cycle"]), int(jump["skipped"])
        before, after = by_cycle.get(k), by_cycle.get(k + n + 1)
        if before is None:
            continue
        for i in range(1, n + 1):
            filled: dict[str, Any] = {"cycle": k + i, "extrapolated": True}
            for name in CYCLE_COLUMNS[1:]:
                a, b = before.get(name), (after or before).get(name)
                if a is None or b is None:
                    filled[name] = None
                else:
                    filled[name] = float(a) + (float(b) - float(a)) * i / (n + 1)
            by_cycle[k + i] = filled
    return [by_cycle[k] for k in sorted(by_cycle)]


def cycles_csv(cycles: Sequence[Mapping[str, Any]]) -> str:
    """The per-cycle table as CSV text (:data:`CYCLE_COLUMNS`, and ``extrapolated`` when the cycles
    carry it; empty cells for missing values)."""
    columns = CYCLE_COLUMNS + (("extrapolated",) if any("extrapolated" in c for c in cycles) else ())
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for c in cycles:
        writer.writerow(["" if c.get(k) is None else repr(c[k]) if isinstance(c[k], float) else c[k]
                         for k in columns])
    return buf.getvalue()


def write_cycles(path: str | os.PathLike[str], cycles: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``cycles.csv`` atomically (call on rank 0 only)."""
    return atomic.write_text(path, cycles_csv(cycles))


def conservation(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Largest per-step relative errors of charge and sodium conservation over the run."""
    ch = [float(r["charge_rel_error"]) for r in rows if r.get("charge_rel_error", "") != ""]
    na = [float(r["sodium_rel_error"]) for r in rows if r.get("sodium_rel_error", "") != ""]
    return {"charge": max(ch) if ch else None, "sodium": max(na) if na else None}


def summarize(rows: Sequence[Mapping[str, Any]], mass_kg: float) -> dict[str, Any]:
    """The headline metrics: the last cycle with both half-cycles (else the last one)."""
    cycles = cycle_summary(rows, mass_kg)
    complete = [c for c in cycles if c["capacity_charge_mAh_per_g"] is not None
                and c["capacity_discharge_mAh_per_g"] is not None]
    last = complete[-1] if complete else (cycles[-1] if cycles else {})
    keys = ("capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g", "coulombic_efficiency",
            "polarization_V", "energy_charge_mWh_per_g", "energy_discharge_mWh_per_g", "energy_efficiency")
    out: dict[str, Any] = {k: last.get(k) for k in keys}
    out["cycles"] = cycles
    out["conservation"] = conservation(rows)
    return out


def write_metrics(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write ``metrics.json`` atomically (call on rank 0 only)."""
    return atomic.write_json(path, dict(data))
