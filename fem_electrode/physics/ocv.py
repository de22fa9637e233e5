"""Open-circuit voltage U(y) of NVP vs Na/Na+, y = c/c_max (y = 1: Na3V2(PO4)3, discharged).

Two swappable laws with one method, :meth:`value`, evaluated with NumPy or UFL
(:mod:`fem_electrode.physics.ops`):

- :class:`SmoothOCV`, a smooth stand-in for the two-phase plateau:
  U(y) = U0 + (RT/F) ln((1 − y)/y) − s (y − ½), with y clipped to [ε, 1 − ε],
  ε = ``constants.Y_EPS`` (range 2.64 ... 4.10 V with the defaults, wider than the default
  cut-offs 2.8 / 3.8 V), so that U stays finite (and Newton iterates that overshoot y ∉ (0, 1)
  stay defined);
- :class:`TableOCV`, piecewise linear through a CSV table (y, U), clipped to the table's y range;
  :data:`TWO_PHASE_TABLE` is the shipped table of NVP's flat two-phase plateau.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fem_electrode.physics.constants import Y_EPS, thermal_voltage
from fem_electrode.physics.ops import NUMPY, Ops


class OCV(Protocol):
    """An open-circuit voltage law."""

    def value(self, y: Any, ops: Ops = NUMPY) -> Any:
        """U (V) at filling ``y`` (-)."""

    def slope(self, y: Any, ops: Ops = NUMPY) -> Any:
        """dU/dy (V) at filling ``y`` (0 where U is clipped)."""

    def voltage_range(self) -> tuple[float, float]:
        """(U_min, U_max) in V over the admissible fillings."""


@dataclass(frozen=True)
class SmoothOCV:
    """Smooth stand-in for the NVP plateau: ``U0`` (V), ``tilt`` (V), ``temperature`` (K)
    (numbers, or UFL coefficients inside forms)."""

    U0: Any
    tilt: Any  #: V, the linear tilt s of the plateau
    temperature: Any

    def value(self, y: Any, ops: Ops = NUMPY) -> Any:
        yc = ops.clip(y, Y_EPS, 1.0 - Y_EPS)
        return self.U0 + thermal_voltage(self.temperature) * ops.ln((1.0 - yc) / yc) - self.tilt * (yc - 0.5)

    def slope(self, y: Any, ops: Ops = NUMPY) -> Any:
        yc = ops.clip(y, Y_EPS, 1.0 - Y_EPS)
        return -thermal_voltage(self.temperature) / (yc * (1.0 - yc)) - self.tilt

    def voltage_range(self) -> tuple[float, float]:
        """U over the admissible fillings [ε, 1 − ε]."""
        u = self.value(np.array([1.0 - Y_EPS, Y_EPS]))
        return float(u[0]), float(u[1])


@dataclass(frozen=True)
class TableOCV:
    """Piecewise-linear OCV through points ``y`` (strictly increasing) and ``U`` (V, strictly decreasing)."""

    y: tuple[float, ...]
    U: tuple[float, ...]

    def __post_init__(self) -> None:
        check_table(np.asarray(self.y, float), np.asarray(self.U, float))

    def _slopes(self) -> list[float]:
        ys, us = self.y, self.U
        return [(us[k + 1] - us[k]) / (ys[k + 1] - ys[k]) for k in range(len(ys) - 1)]

    def value(self, y: Any, ops: Ops = NUMPY) -> Any:
        ys, us = self.y, self.U
        slopes = self._slopes()
        yc = ops.clip(y, ys[0], ys[-1])
        out = us[0] + slopes[0] * (yc - ys[0])
        for k in range(1, len(slopes)):  # a hinge at every interior point
            out = out + (slopes[k] - slopes[k - 1]) * ops.maximum(yc - ys[k], 0.0)
        return out

    def slope(self, y: Any, ops: Ops = NUMPY) -> Any:
        ys = self.y
        slopes = self._slopes()
        yc = ops.clip(y, ys[0], ys[-1])
        out = slopes[0] + 0.0 * yc
        for k in range(1, len(slopes)):  # the slope of the segment yc lies on
            out = out + ops.where_gt(yc, ys[k], slopes[k] - slopes[k - 1], 0.0)
        return out

    def voltage_range(self) -> tuple[float, float]:
        return float(self.U[-1]), float(self.U[0])


def check_table(y: np.ndarray, U: np.ndarray) -> None:
    """Raise ``ValueError`` unless (y, U) is a usable OCV table."""
    if y.ndim != 1 or y.shape != U.shape or y.size < 2:
        raise ValueError(f"an OCV table needs at least 2 rows of (y, U), got {y.size}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(U))):
        raise ValueError("OCV table has non-finite entries")
    if y[0] < 0.0 or y[-1] > 1.0:
        raise ValueError(f"OCV table y must lie in [0, 1], got {y[0]:g} ... {y[-1]:g}")
    dy = np.diff(y)
    if np.any(dy <= 0.0):
        k = int(np.argmax(dy <= 0.0))
        raise ValueError(f"OCV table y must increase strictly; row {k + 2} (y = {y[k + 1]:g}) does not")
    dU = np.diff(U)
    if np.any(dU >= 0.0):
        k = int(np.argmax(dU >= 0.0))
        raise ValueError(
            "OCV table is not monotonic: U must decrease strictly with the filling y "
            f"(Na content); U = {U[k]:g} V at y = {y[k]:g} is followed by U = {U[k + 1]:g} V at "
            f"y = {y[k + 1]:g}"
        )


def load_table(path: str | os.PathLike[str]) -> TableOCV:
    """Read a CSV of ``y, U`` rows (an optional header row and ``#`` comments are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"OCV table {str(path)!r} does not exist")
    rows: list[tuple[float, float]] = []
    with path.open(newline="") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            cells = [c.strip() for c in row]
            if not cells or not cells[0] or cells[0].startswith("#"):
                continue
            try:
                y, u = float(cells[0]), float(cells[1])
            except (ValueError, IndexError):
                if rows:  # only the first data-free line may be a header
                    raise ValueError(f"{path}:{lineno}: expected two numbers 'y, U', got {row!r}") from None
                continue
            if not (math.isfinite(y) and math.isfinite(u)):
                raise ValueError(f"{path}:{lineno}: non-finite value in {row!r}")
            rows.append((y, u))
    arr = np.array(rows, dtype=float).reshape(-1, 2)
    try:
        check_table(arr[:, 0], arr[:, 1])
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return TableOCV(tuple(arr[:, 0]), tuple(arr[:, 1]))


#: The shipped two-phase OCV of NVP (``ocv = "two_phase"``; the file says what in it is data).
TWO_PHASE_TABLE = Path(__file__).with_name("data") / "nvp_two_phase_ocv.csv"


def from_config(echem: Any) -> OCV:
    """The OCV law named by an ``[electrochemistry]`` section (object or mapping)."""
    get = echem.get if isinstance(echem, dict) else lambda k: getattr(echem, k)
    if get("ocv") == "two_phase":
        return load_table(TWO_PHASE_TABLE)
    if get("ocv") == "table":
        return load_table(str(get("ocv_table")))
    return SmoothOCV(U0=get("ocv_U0"), tilt=get("ocv_slope"), temperature=get("temperature"))
