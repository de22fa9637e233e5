"""A regular voxel grid over the RVE box: union volumes of spheres without OCC.

Placement uses it to meet the volume-fraction targets (porosity, NVP fraction) and to
solve the layer thickness. In a periodic box (``Box.periodic``) the grid wraps in x and y:
a sphere crossing x = Lx also fills the voxels it covers near x = 0 (minimum image; radii
are below half the box edges). Lengths in µm. Sampling is at voxel centres, so the volume
estimate is unbiased; its error is far below the 1 vol% target tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Voxel edge as a fraction of the smallest sphere radius (0.6 µm -> 0.075 µm).
VOXEL_SIZE_REL = 1.0 / 8.0
#: Upper bound on the number of voxels (memory: 4 bytes per voxel for a depth field).
MAX_VOXELS = 16_000_000
#: Slack when rounding box / spacing up to a voxel count (float noise, e.g. 10 / 0.05).
ROUND_SLACK = 1e-9


@dataclass(frozen=True)
class Box:
    """The RVE [0, Lx] x [0, Ly] x [0, Lz] (µm), optionally periodic in x and y."""

    lengths: tuple[float, float, float]
    periodic: bool = False  #: the microstructure repeats with periods Lx, Ly (never in z)

    def lateral_shifts(self) -> np.ndarray:
        """(9, 3) translations (i Lx, j Ly, 0), i, j in {-1, 0, 1}; (0, 0, 0) first."""
        lx, ly, _ = self.lengths
        steps = [(0, 0)] + [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]
        return np.array([(i * lx, j * ly, 0.0) for i, j in steps])

    def images(self, centers: np.ndarray, radii: np.ndarray, reach: float = 0.0) -> tuple[
            np.ndarray, np.ndarray, np.ndarray]:
        """Spheres and their periodic images that come within ``reach`` of the box.

        Returns centres, radii and, per row, the index of the sphere it is a copy of; the
        spheres themselves come first, in order (all of them, wherever they are), then the
        images, sphere by sphere. Without ``periodic``: the spheres unchanged.
        """
        centers = np.asarray(centers, dtype=float).reshape(-1, 3)
        radii = np.asarray(radii, dtype=float)
        origin = np.arange(len(radii))
        if not self.periodic or not len(radii):
            return centers, radii, origin
        shifts = self.lateral_shifts()[1:]
        moved = centers[:, None, :] + shifts[None]  # (n, 8, 3)
        near = self.distance(moved.reshape(-1, 3)).reshape(len(radii), -1) < radii[:, None] + reach
        k, s = np.nonzero(near)
        return (np.vstack([centers, moved[k, s]]), np.concatenate([radii, radii[k]]),
                np.concatenate([origin, k]))

    @property
    def volume(self) -> float:
        """Box volume (µm³)."""
        return float(np.prod(self.lengths))

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Euclidean distance (µm) from ``points`` (n, 3) to the box (0 inside)."""
        hi = np.asarray(self.lengths)
        outside = np.maximum(0.0, np.maximum(-points, points - hi))
        return np.linalg.norm(outside, axis=-1)

    def inner_distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (µm) to the box boundary, positive inside."""
        hi = np.asarray(self.lengths)
        return np.minimum(points, hi - points).min(axis=-1)


class VoxelGrid:
    """Voxel centres over ``box``; spacing from the smallest radius, capped in count, or the
    given ``voxel`` edge (µm; rounded so that whole voxels fill each box edge, not capped).

    When ``box.periodic`` the windows wrap around in x and y (index arrays instead of
    slices, minimum-image distances).
    """

    def __init__(self, box: Box, r_min: float, voxel: float | None = None):
        h = voxel
        if h is None:
            h = max(VOXEL_SIZE_REL * r_min, (box.volume / MAX_VOXELS) ** (1.0 / 3.0))
        self.box = box
        self.shape = tuple(max(1, int(np.ceil(L / h - ROUND_SLACK))) for L in box.lengths)
        self.spacing = tuple(L / n for L, n in zip(box.lengths, self.shape, strict=True))
        self.axes = tuple((np.arange(n) + 0.5) * s for n, s in zip(self.shape, self.spacing, strict=True))
        self.size = int(np.prod(self.shape))

    def _window(self, center: np.ndarray, radius: float) -> tuple[tuple, np.ndarray] | None:
        """Index of the voxels within the sphere's bounding box and their squared distances.

        The index is a tuple of slices, or (periodic box) of ``np.ix_`` arrays whose x and y
        parts wrap around; its last entry selects z-layers in both cases.
        """
        if self.box.periodic:
            return self._periodic_window(center, radius)
        slices, d2 = [], []
        for axis, h, c in zip(self.axes, self.spacing, center, strict=True):
            lo = max(0, int(np.floor((c - radius) / h)))
            hi = min(len(axis), int(np.ceil((c + radius) / h)) + 1)
            if lo >= hi:
                return None
            slices.append(slice(lo, hi))
            d2.append((axis[lo:hi] - c) ** 2)
        dist2 = d2[0][:, None, None] + d2[1][None, :, None] + d2[2][None, None, :]
        return tuple(slices), dist2

    def _periodic_window(self, center: np.ndarray, radius: float) -> tuple[tuple, np.ndarray] | None:
        index, d2 = [], []
        for k, (axis, h, c) in enumerate(zip(self.axes, self.spacing, center, strict=True)):
            n = len(axis)
            lo = int(np.floor((c - radius) / h))
            hi = int(np.ceil((c + radius) / h)) + 1
            if k < 2:  # wraps: every voxel once, minimum-image distance
                idx = np.unique(np.arange(lo, hi) % n) if hi - lo < n else np.arange(n)
                length = self.box.lengths[k]
                delta = (axis[idx] - c + 0.5 * length) % length - 0.5 * length
            else:
                lo, hi = max(0, lo), min(n, hi)
                if lo >= hi:
                    return None
                idx = np.arange(lo, hi)
                delta = axis[idx] - c
            index.append(idx)
            d2.append(delta**2)
        dist2 = d2[0][:, None, None] + d2[1][None, :, None] + d2[2][None, None, :]
        return np.ix_(*index), dist2

    @staticmethod
    def _layers(index: tuple) -> slice | np.ndarray:
        """The z-layers a window covers (as an index into a per-layer array)."""
        z = index[2]
        return z if isinstance(z, slice) else z.ravel()

    def add_to_mask(self, mask: np.ndarray, center: np.ndarray, radius: float) -> int:
        """Set the voxels inside the sphere in ``mask``; return how many were new."""
        win = self._window(center, radius)
        if win is None:
            return 0
        sl, dist2 = win
        inside = dist2 < radius * radius
        sub = mask[sl]
        new = int(np.count_nonzero(inside & ~sub))
        sub |= inside
        if not isinstance(sl[0], slice):  # fancy index: ``sub`` is a copy
            mask[sl] = sub
        return new

    def count_new(self, mask: np.ndarray, center: np.ndarray, radius: float,
                  exclude: np.ndarray | None = None) -> np.ndarray:
        """Per z-layer of voxels: how many the sphere would add to ``mask`` (not ``exclude``)."""
        out = np.zeros(self.shape[2], dtype=np.int64)
        win = self._window(center, radius)
        if win is None:
            return out
        sl, dist2 = win
        new = (dist2 < radius * radius) & ~mask[sl]
        if exclude is not None:
            new &= ~exclude[sl]
        out[self._layers(sl)] = np.count_nonzero(new, axis=(0, 1))
        return out

    def empty_mask(self) -> np.ndarray:
        return np.zeros(self.shape, dtype=bool)

    def union_mask(self, centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """The voxels whose centre lies in a union of spheres (µm; periodic images included
        when ``box.periodic``)."""
        mask = self.empty_mask()
        for c, r in zip(np.asarray(centers).reshape(-1, 3), np.asarray(radii).ravel(), strict=True):
            self.add_to_mask(mask, c, float(r))
        return mask

    def depth(self, centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """D(p) = max_i (r_i - |p - x_i|) (µm), -inf away from all spheres.

        p lies in ∪B(x_i, r_i - t) exactly when D(p) > t, so one field gives the layer
        volume for every thickness t.
        """
        out = np.full(self.shape, -np.inf, dtype=np.float32)
        for c, r in zip(centers, radii, strict=True):
            win = self._window(c, r)
            if win is None:
                continue
            sl, dist2 = win
            d = (r - np.sqrt(dist2)).astype(np.float32)
            if isinstance(sl[0], slice):
                np.maximum(out[sl], d, out=out[sl])
            else:  # fancy index: read, combine, write back
                out[sl] = np.maximum(out[sl], d)
        return out
