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
the diagonal that leaves the better worse triangle (the shorter one on a tie). Two checks then
move offending vertices back towards their voxel corners (whose stair-step surface is valid):
triangles folded against their voxel face's normal (:func:`folded`), and pairs of quads that
share a voxel edge at a right angle and whose triangles cross (:func:`crossing_quads`: where a
one-voxel layer wraps a voxel edge, its two faces can pass through each other, which the volume
mesher rejects as a self-intersecting surface). Lengths in µm. Pure numpy / scipy.
"""

from __future__ import annotations

from collections.abc import Callable
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
#: Two ways of splitting a quad whose worse triangles' qualities differ by less than this are
#: equally good; the shorter diagonal is then taken.
SPLIT_QUALITY_TIE = 0.05
#: Two quads sharing a voxel edge are perpendicular (checked for crossing) when their voxel
#: normals' dot product is below this in magnitude (they are 0 or ±1).
PERPENDICULAR_DOT = 0.5
#: Relative tolerance of the segment-triangle crossing test (barycentric and segment
#: parameters): touching at a shared vertex or edge is not a crossing.
CROSSING_EPS = 1e-9
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
    crossings: int = 0  #: crossing quad pairs found (and undone) by the last :func:`smooth`

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
    planes kept (see the module docstring); then split every quad (:func:`_split_short_diagonal`) and
    move folded and crossing triangles back towards their voxel corners."""
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
    if not pairs:
        return  # the voxel corners: nothing folded or crossing
    _back_off(surface, folded)
    _uncross(surface, edge_sharing_perpendicular(surface))


def _back_off(surface: Surface, find: Callable[[Surface], np.ndarray]) -> None:
    """Move the vertices of the triangles that ``find(surface)`` flags (a boolean per triangle)
    halfway back to their voxel corners, re-splitting the quads, up to UNFOLD_STEPS times; then
    put those still flagged on their corners."""
    x0 = surface.corner_points
    for _ in range(UNFOLD_STEPS):
        bad = find(surface)
        if not np.any(bad):
            return
        v = np.unique(surface.triangles[bad])
        surface.points[v] = 0.5 * (surface.points[v] + x0[v])
        _split_short_diagonal(surface)
    bad = find(surface)
    if np.any(bad):
        v = np.unique(surface.triangles[bad])
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


def _triangle_quality(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """4 sqrt(3) area / (sum of squared edges): 1 for an equilateral triangle, 0 for a flat one."""
    area2 = np.linalg.norm(np.cross(b - a, c - a), axis=1)  # twice the area
    edges = (np.einsum("ij,ij->i", b - a, b - a) + np.einsum("ij,ij->i", c - b, c - b)
             + np.einsum("ij,ij->i", a - c, a - c))
    return 2.0 * np.sqrt(3.0) * area2 / np.maximum(edges, np.finfo(float).tiny)


def _split_short_diagonal(surface: Surface) -> None:
    """Split every quad into two triangles along the diagonal whose worse triangle is better
    (:func:`_triangle_quality`; the shorter diagonal when both are within SPLIT_QUALITY_TIE).

    The shorter diagonal alone is not enough: where a smoothed triple line or box-face line
    turns round a voxel corner, three of a quad's vertices end up (nearly) on one straight line
    and the shorter diagonal joins the outer two, leaving a flat triangle that HXT fills with
    flat tetrahedra (5 on the 200³ benchmark image down-sampled twice, min quality 1e-14)."""
    quads, p = surface.quads, surface.points
    q0, q1, q2, q3 = (p[quads[:, k]] for k in range(4))
    d02 = np.linalg.norm(q0 - q2, axis=1)
    d13 = np.linalg.norm(q1 - q3, axis=1)
    worst02 = np.minimum(_triangle_quality(q0, q1, q2), _triangle_quality(q0, q2, q3))
    worst13 = np.minimum(_triangle_quality(q0, q1, q3), _triangle_quality(q1, q2, q3))
    use13 = np.where(np.abs(worst13 - worst02) > SPLIT_QUALITY_TIE, worst13 > worst02, d13 < d02)
    tri = surface.triangles
    tri[0::2] = np.where(use13[:, None], quads[:, [0, 1, 3]], quads[:, [0, 1, 2]])
    tri[1::2] = np.where(use13[:, None], quads[:, [1, 2, 3]], quads[:, [0, 2, 3]])


def edge_sharing_perpendicular(surface: Surface) -> np.ndarray:
    """(k, 2) pairs of quads that share a voxel edge and stand at a right angle to each other
    (a convex or concave voxel edge of the surface; where a one-voxel layer runs diagonally,
    four of them meet at one edge)."""
    quads = surface.quads
    nq = len(quads)
    m = sp.csr_matrix((np.ones(4 * nq), (np.repeat(np.arange(nq), 4), quads.ravel())),
                      shape=(nq, len(surface.points)))
    shared = sp.triu(m @ m.T, k=1).tocoo()
    edge = shared.data >= 2
    a, b = shared.row[edge].astype(np.int64), shared.col[edge].astype(np.int64)
    dot = np.einsum("ij,ij->i", surface.normals[a], surface.normals[b])
    keep = np.abs(dot) < PERPENDICULAR_DOT
    return np.stack([a[keep], b[keep]], axis=1)


def _segments_cross(a: np.ndarray, b: np.ndarray, t0: np.ndarray, t1: np.ndarray,
                    t2: np.ndarray) -> np.ndarray:
    """Per row: the open segment a-b passes through the open triangle t0 t1 t2 (Möller-Trumbore;
    touching at an end point or an edge is not a crossing, nor is a coplanar pair)."""
    d = b - a
    e1, e2 = t1 - t0, t2 - t0
    h = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, h)
    scale = np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1) * np.linalg.norm(d, axis=1)
    ok = np.abs(det) > CROSSING_EPS * scale
    inv = np.divide(1.0, det, out=np.zeros_like(det), where=ok)
    s = a - t0
    u = inv * np.einsum("ij,ij->i", s, h)
    q = np.cross(s, e1)
    v = inv * np.einsum("ij,ij->i", d, q)
    t = inv * np.einsum("ij,ij->i", e2, q)
    eps = CROSSING_EPS
    return ok & (u > eps) & (v > eps) & (u + v < 1.0 - eps) & (t > eps) & (t < 1.0 - eps)


def crossing_quads(surface: Surface, pairs: np.ndarray) -> np.ndarray:
    """Per pair of quads (:func:`edge_sharing_perpendicular`): an edge of a triangle of one quad
    passes through a triangle of the other (the surface intersects itself there)."""
    tri, p = surface.triangles, surface.points
    hit = np.zeros(len(pairs), dtype=bool)
    for first, second in ((0, 1), (1, 0)):
        qa, qb = pairs[:, first], pairs[:, second]
        for ta in (0, 1):
            t_a = tri[2 * qa + ta]
            for k in range(3):
                e0, e1 = t_a[:, k], t_a[:, (k + 1) % 3]
                for tb in (0, 1):
                    t_b = tri[2 * qb + tb]
                    todo = ~hit & ~((e0[:, None] == t_b).any(axis=1) & (e1[:, None] == t_b).any(axis=1))
                    idx = np.flatnonzero(todo)
                    if len(idx):
                        tt = t_b[idx]
                        hit[idx] |= _segments_cross(p[e0[idx]], p[e1[idx]], p[tt[:, 0]], p[tt[:, 1]],
                                                    p[tt[:, 2]])
    return hit


def _uncross(surface: Surface, pairs: np.ndarray) -> None:
    """Move the vertices of crossing quad pairs (:func:`crossing_quads`) halfway back to their
    voxel corners, re-splitting the quads, up to UNFOLD_STEPS times (after the first pass only
    the pairs that touch a moved vertex are tested again); then put those still crossing on
    their corners. Records the number of crossing pairs found in ``surface.crossings``."""
    x0 = surface.corner_points
    todo = pairs
    found = 0
    for step in range(UNFOLD_STEPS + 1):
        if not len(todo):
            break
        bad = todo[crossing_quads(surface, todo)]
        if not len(bad):
            break
        if step == 0:
            found = len(bad)
        v = np.unique(surface.quads[bad.ravel()])
        surface.points[v] = x0[v] if step == UNFOLD_STEPS else 0.5 * (surface.points[v] + x0[v])
        _split_short_diagonal(surface)
        moved = np.zeros(len(surface.points), dtype=bool)
        moved[v] = True
        touches = moved[surface.quads[todo[:, 0]]].any(axis=1) | moved[surface.quads[todo[:, 1]]].any(axis=1)
        todo = todo[touches]
    surface.crossings = found
