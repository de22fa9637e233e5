"""Multi-label surface nets: a labelled voxel image -> one conformal, smooth triangle surface.

Every voxel face between two different labels (one of them a meshed phase) becomes a quad
whose corners are the voxel corners; the box outside is one more label (``OUTSIDE``), so
the box faces come out the same way. Quads sharing a voxel corner share its vertex, so the
surfaces of all phase pairs are conformal by construction, triple lines and box faces
included (no hanging nodes, no lost tags: every quad carries the labels of its two sides).

The stair-steps are then removed by Taubin (λ|μ) smoothing of the vertex positions,
each vertex kept inside a cube of half-width ``CELL_CLAMP`` voxels around its corner (the
surface stays within a voxel of the image boundary and volumes are kept). A vertex moves
only towards neighbours that touch at least the labels it touches: a vertex on a triple
line (e.g. NVP | NZSP | pore) follows the line, a vertex of a box face stays on that face
and a vertex where four labels meet stays put. Quads are then split into two triangles along
their shorter diagonal. Lengths in µm. Pure numpy / scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Label of the voxels around the box (the padding); the meshed labels are below it.
OUTSIDE = 7
#: Taubin smoothing factors (shrink, then inflate: a low-pass filter that keeps volumes).
TAUBIN_LAMBDA, TAUBIN_MU = 0.5, -0.53
#: Taubin (λ, μ) iteration pairs (measured on a voxelised coated sphere: 20 pairs leave
#: 1.5 % excess interface area at 27 voxels per radius, 40 pairs 0.9 %, 80 pairs 0.7 %).
SMOOTHING_PAIRS = 40
#: A smoothed triangle whose normal makes a cosine below this with its voxel face's normal is
#: folded or nearly so (a smooth surface stays above 1/sqrt(3)); its vertices are moved back
#: towards their voxel corners (halfway, up to UNFOLD_STEPS times; the corners themselves are
#: a valid, unfolded stair-step surface).
MIN_NORMAL_COS = 0.05
UNFOLD_STEPS = 12
#: A vertex stays within this many voxel edges of its voxel corner, per axis (< 0.5 keeps
#: neighbouring vertices apart: their cubes do not touch).
CELL_CLAMP = 0.45

#: Offsets of a voxel face's four corners along its two in-plane axes, in cyclic order.
_FACE_CORNERS = ((0, 0), (1, 0), (1, 1), (0, 1))


@dataclass
class Surface:
    """Triangles of all label boundaries (µm) with the labels on their two sides."""

    points: np.ndarray  #: (n, 3) vertex coordinates, µm
    triangles: np.ndarray  #: (m, 3) vertex indices
    labels: np.ndarray  #: (m, 2) the labels on the two sides, smaller first (OUTSIDE for box faces);
    #: the normal (right-hand rule) points from the smaller label to the larger one
    regions: np.ndarray  #: (m, 2) the ``regions`` value on the same two sides (-1 outside the box)
    box_side: np.ndarray  #: (m,) for box faces: 2 * axis + (0 at the low side, 1 at the high side); else -1
    corner_points: np.ndarray  #: (n, 3) the unsmoothed voxel-corner positions, µm
    quads: np.ndarray  #: (m / 2, 4) the voxel faces (vertex indices, cyclic); triangles 2q, 2q + 1
    normals: np.ndarray  #: (m / 2, 3) unit normal of each voxel face (from the smaller label)
    label_sets: np.ndarray  #: (n,) bit set of the labels of the 8 voxels around each vertex
    on_plane: np.ndarray  #: (n, 3) the vertex lies on the low or high box plane of that axis

    def areas(self) -> np.ndarray:
        """Triangle areas (µm²)."""
        p = self.points[self.triangles]
        return 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)


def _faces(padded: np.ndarray, meshed: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Voxel faces normal to ``axis`` that separate two labels, one of them meshed.

    Returns the padded index of the low-side voxel (k, 3) and the labels of the low and high
    sides (k,), (k,).
    """
    n = padded.shape[axis]
    lo = np.take(padded, np.arange(n - 1), axis=axis)
    hi = np.take(padded, np.arange(1, n), axis=axis)
    active = (lo != hi) & (meshed[lo] | meshed[hi])
    idx = np.argwhere(active)
    return idx, lo[active], hi[active]


def extract(labels: np.ndarray, spacing: tuple[float, float, float], meshed: tuple[int, ...],
            regions: np.ndarray | None = None) -> Surface:
    """The stair-step boundary surface of the ``meshed`` labels of ``labels`` (quads -> triangles,
    unsmoothed; see :func:`smooth`). ``labels`` must be below :data:`OUTSIDE`.

    ``spacing`` is the voxel size per array axis (µm); voxel (i, j, k) spans
    [i hx, (i + 1) hx] x ... . ``regions`` (same shape, integers >= 0) numbers connected
    regions; each triangle then records the region on either side (``Surface.regions``).
    """
    lab = np.asarray(labels)
    if lab.min(initial=0) < 0 or lab.max(initial=0) >= OUTSIDE:
        raise ValueError(f"labels must lie in [0, {OUTSIDE})")
    padded = np.pad(lab.astype(np.uint8), 1, constant_values=OUTSIDE)
    reg = np.pad(np.zeros(lab.shape, dtype=np.int64) if regions is None else regions.astype(np.int64), 1,
                 constant_values=-1)
    is_meshed = np.zeros(OUTSIDE + 1, dtype=bool)
    is_meshed[list(meshed)] = True
    corner_shape = tuple(s + 1 for s in lab.shape)  # corners 0..n per axis
    quads, pairs, sides, normals, region_pairs = [], [], [], [], []
    for axis in range(3):
        idx, lo, hi = _faces(padded, is_meshed, axis)
        # the face between padded voxels p and p + e_axis lies at corner index p[axis] (unpadded);
        # its corners span p[b] - 1 .. p[b] along the other axes b
        others = [b for b in range(3) if b != axis]
        corners = np.empty((len(idx), 4), dtype=np.int64)
        for q, (da, db) in enumerate(_FACE_CORNERS):
            c = idx.copy()
            c[:, others[0]] += da - 1
            c[:, others[1]] += db - 1
            corners[:, q] = np.ravel_multi_index(c.T, corner_shape)
        # the cyclic order gives the normal +e_axis for axes 0, 2 and -e_axis for axis 1; orient
        # every quad from its smaller label towards its larger one
        flip = (hi > lo) != (axis != 1)
        corners[flip] = corners[flip][:, ::-1]
        quads.append(corners)
        normal = np.zeros((len(idx), 3))
        normal[:, axis] = np.where(hi > lo, 1.0, -1.0)  # towards the larger label
        normals.append(normal)
        pairs.append(np.stack([np.minimum(lo, hi), np.maximum(lo, hi)], axis=1))
        r_lo = reg[tuple(idx.T)]
        up = idx.copy()
        up[:, axis] += 1
        r_hi = reg[tuple(up.T)]
        swap = lo > hi
        region_pairs.append(np.stack([np.where(swap, r_hi, r_lo), np.where(swap, r_lo, r_hi)], axis=1))
        side = np.full(len(idx), -1, dtype=np.int64)
        side[lo == OUTSIDE] = 2 * axis
        side[hi == OUTSIDE] = 2 * axis + 1
        sides.append(side)
    quad = np.vstack(quads)
    used, inverse = np.unique(quad.ravel(), return_inverse=True)
    quad = inverse.reshape(-1, 4)
    ijk = np.stack(np.unravel_index(used, corner_shape), axis=1)
    corner_points = ijk * np.asarray(spacing, dtype=float)
    pair = np.vstack(pairs)
    side = np.concatenate(sides)
    bits = (np.uint16(1) << padded.astype(np.uint16)).astype(np.uint16)
    label_sets = np.zeros(len(ijk), dtype=np.uint16)
    for d in np.ndindex(2, 2, 2):  # corner c (unpadded index) touches padded voxels c + d
        label_sets |= bits[ijk[:, 0] + d[0], ijk[:, 1] + d[1], ijk[:, 2] + d[2]]
    on_plane = (ijk == 0) | (ijk == np.asarray(lab.shape))
    tri = np.empty((2 * len(quad), 3), dtype=np.int64)
    tri[0::2], tri[1::2] = quad[:, [0, 1, 2]], quad[:, [0, 2, 3]]
    return Surface(corner_points.copy(), tri, np.repeat(pair, 2, axis=0),
                   np.repeat(np.vstack(region_pairs), 2, axis=0), np.repeat(side, 2),
                   corner_points, quad, np.vstack(normals), label_sets, on_plane)


def _neighbour_matrix(surface: Surface) -> sp.csr_matrix:
    """Row-normalised averaging matrix over the allowed neighbours (see the module docstring);
    rows of vertices with no allowed neighbour are zero (they stay put)."""
    quads, sets = surface.quads, surface.label_sets
    a = quads.ravel()
    b = np.roll(quads, -1, axis=1).ravel()
    u = np.concatenate([a, b])
    v = np.concatenate([b, a])
    keep = (sets[u] & sets[v]) == sets[u]  # v touches every label u touches
    u, v = u[keep], v[keep]
    n = len(surface.points)
    m = sp.csr_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    m.data[:] = 1.0  # duplicate edges (two quads share an edge) count once
    deg = np.asarray(m.sum(axis=1)).ravel()
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    return sp.diags(inv) @ m


def smooth(surface: Surface, spacing: tuple[float, float, float], pairs: int = SMOOTHING_PAIRS,
           clamp: float = CELL_CLAMP) -> None:
    """Taubin-smooth ``surface.points`` in place, within ``clamp`` voxels of the corners, box
    planes kept (see the module docstring); then split every quad along its shorter diagonal."""
    w = _neighbour_matrix(surface)
    moving = np.asarray(w.sum(axis=1)).ravel() > 0
    x0 = surface.corner_points
    half = clamp * np.asarray(spacing, dtype=float)
    lo, hi = x0 - half, x0 + half
    on_plane = surface.on_plane
    lo[on_plane] = x0[on_plane]
    hi[on_plane] = x0[on_plane]
    x = x0.copy()
    for _ in range(pairs):
        for factor in (TAUBIN_LAMBDA, TAUBIN_MU):
            step = w @ x - x
            x[moving] += factor * step[moving]
            np.clip(x, lo, hi, out=x)
    surface.points = x
    _split_short_diagonal(surface)
    for _ in range(UNFOLD_STEPS):
        bad = folded(surface)
        if not np.any(bad):
            break
        v = np.unique(surface.triangles[bad])
        surface.points[v] = 0.5 * (surface.points[v] + x0[v])
        _split_short_diagonal(surface)
    else:
        v = np.unique(surface.triangles[folded(surface)])
        surface.points[v] = x0[v]
        _split_short_diagonal(surface)


def folded(surface: Surface) -> np.ndarray:
    """Per triangle: its normal is more than acos(MIN_NORMAL_COS) away from its voxel face's."""
    p = surface.points[surface.triangles]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    length = np.linalg.norm(n, axis=1)
    ref = np.repeat(surface.normals, 2, axis=0)
    cos = np.einsum("ij,ij->i", n, ref) / np.maximum(length, np.finfo(float).tiny)
    return cos < MIN_NORMAL_COS


def _split_short_diagonal(surface: Surface) -> None:
    quads, p = surface.quads, surface.points
    d02 = np.linalg.norm(p[quads[:, 0]] - p[quads[:, 2]], axis=1)
    d13 = np.linalg.norm(p[quads[:, 1]] - p[quads[:, 3]], axis=1)
    use13 = d13 < d02
    tri = surface.triangles
    tri[0::2] = np.where(use13[:, None], quads[:, [0, 1, 3]], quads[:, [0, 1, 2]])
    tri[1::2] = np.where(use13[:, None], quads[:, [1, 2, 3]], quads[:, [0, 2, 3]])
