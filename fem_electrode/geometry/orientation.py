"""Turn each OCC sphere so that its seam and poles stay clear of the other surfaces.

An OCC sphere has poles on its local z axis and a seam: the half meridian in its local
x-z plane (x >= 0). Booleans split every intersection curve where it crosses a seam, so a
seam passing close to a point where three surfaces meet, or running almost tangent to an
intersection circle, leaves slivers (edges of a few nm) that wreck element quality or the
surface mesh. For every sphere we draw ``CANDIDATES`` random orientations and keep the one
whose seam and poles are farthest from the sphere's *special points* (where two of its
intersection circles cross: triple points with two spheres, points on a box face; and
where a neighbour's seam crosses their common circle) and from tangency with its circles.
Lengths in µm, orientations as (unit axis, angle in rad).

In a periodic box every image of a sphere gets the sphere's orientation (so that the
faces x = 0 and x = Lx are cut the same way and their meshes can be matched); the
orientation is chosen against the special points of all its images (:func:`choose_periodic`).
"""

from __future__ import annotations

import itertools

import numpy as np

from fem_electrode.geometry.voxels import Box

#: Random orientations tried per sphere (the best one is kept).
CANDIDATES = 48


def _rotations(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(k, 3, 3) Rodrigues rotation matrices (the convention of ``gmsh.model.occ.rotate``)."""
    k = np.zeros((len(angles), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axes[:, 2], axes[:, 1], -axes[:, 0]
    k -= np.transpose(k, (0, 2, 1))
    sin, cos = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    return np.eye(3)[None] + sin * k + (1.0 - cos) * (k @ k)


def _circles(i: int, centers: np.ndarray, radii: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """Unit axis n and cosine of the angular radius of every circle on sphere ``i``."""
    c, r = centers[i], radii[i]
    v = centers - c
    d = np.linalg.norm(v, axis=1)
    cut = (d < r + radii) & (d > np.abs(r - radii)) & (np.arange(len(radii)) != i)
    n = v[cut] / d[cut, None]
    cos_a = (d[cut] ** 2 + r * r - radii[cut] ** 2) / (2.0 * d[cut] * r)
    axes, coss = [n], [cos_a]
    for axis, length in enumerate(box.lengths):
        for plane in (0.0, length):
            h = plane - c[axis]
            if abs(h) < r:
                e = np.zeros((1, 3))
                e[0, axis] = np.sign(h) if h != 0 else 1.0
                axes.append(e)
                coss.append(np.array([abs(h) / r]))
    return np.vstack(axes), np.concatenate(coss)


def _crossings(n: np.ndarray, cos_a: np.ndarray) -> np.ndarray:
    """Unit vectors where two of the circles cross (x.n_A = cos a_A, x.n_B = cos a_B, |x| = 1)."""
    points = []
    for a, b in itertools.combinations(range(len(cos_a)), 2):
        na, nb, ha, hb = n[a], n[b], cos_a[a], cos_a[b]
        g = float(na @ nb)
        if abs(g) > 1.0 - 1e-12:
            continue
        ca = (ha - hb * g) / (1.0 - g * g)
        cb = (hb - ha * g) / (1.0 - g * g)
        base = ca * na + cb * nb
        rest = 1.0 - float(base @ base)
        if rest < 0.0:
            continue
        w = np.cross(na, nb)
        w /= np.linalg.norm(w)
        points.extend([base + np.sqrt(rest) * w, base - np.sqrt(rest) * w])
    return np.array(points).reshape(-1, 3)


def _clearances(rots: np.ndarray, n: np.ndarray, cos_a: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Per rotation: smallest angle between seam / poles and the special points or circles (rad)."""
    ex, ey, ez = rots[:, :, 0], rots[:, :, 1], rots[:, :, 2]
    alpha = np.arccos(np.clip(cos_a, -1.0, 1.0))[:, None]
    margin = np.full(len(rots), np.inf)
    if len(points):
        on_side = points @ ex.T >= 0.0
        to_seam = np.where(on_side, np.arcsin(np.clip(np.abs(points @ ey.T), 0.0, 1.0)), np.inf)
        to_pole = np.arccos(np.clip(np.abs(points @ ez.T), 0.0, 1.0))
        margin = np.minimum(margin, np.minimum(to_seam, to_pole).min(axis=0))
    if len(cos_a):
        tangency = np.abs(np.arcsin(np.clip(np.abs(n @ ey.T), 0.0, 1.0)) - alpha)  # whole great circle
        nz = np.clip(n @ ez.T, -1.0, 1.0)
        pole = np.minimum(np.abs(np.arccos(nz) - alpha), np.abs(np.arccos(-nz) - alpha))
        margin = np.minimum(margin, np.minimum(tangency, pole).min(axis=0))
    return margin


def _seam_crossings(i: int, centers: np.ndarray, radii: np.ndarray,
                    rots: dict[int, np.ndarray]) -> np.ndarray:
    """Unit vectors (seen from sphere ``i``) where the seams of already oriented neighbours
    cross their intersection circle with sphere ``i`` (OCC splits the circle there too)."""
    out = []
    for j, rot in rots.items():
        v = centers[i] - centers[j]
        d = float(np.linalg.norm(v))
        if not abs(radii[i] - radii[j]) < d < radii[i] + radii[j]:
            continue
        n = v / d  # circle (i, j) on sphere j: x.n = cos a
        cos_a = (d * d + radii[j] ** 2 - radii[i] ** 2) / (2.0 * d * radii[j])
        pts = _crossings(np.array([n, rot[:, 1]]), np.array([cos_a, 0.0]))
        pts = pts[pts @ rot[:, 0] >= 0.0]  # on the seam half of the great circle
        world = centers[j] + radii[j] * pts
        out.append((world - centers[i]) / radii[i])
    return np.vstack(out) if out else np.zeros((0, 3))


def choose(centers: np.ndarray, radii: np.ndarray, box: Box, seed: np.random.SeedSequence) -> np.ndarray:
    """(n, 4) orientations (unit axis, angle) for one family of spheres that meet in booleans.

    Spheres are oriented in order; each one also keeps its seam away from the points where
    the seams of the neighbours oriented before it cross their common circle.
    """
    return _choose(centers, radii, np.arange(len(radii)), len(radii), box, seed)


def choose_periodic(centers: np.ndarray, radii: np.ndarray, box: Box,
                    seed: np.random.SeedSequence) -> np.ndarray:
    """:func:`choose` for a periodic box: (n, 4) orientations of the spheres, each chosen
    against the special points of all its images that reach the box (the images built by
    ``box.images(centers, radii)`` take their sphere's orientation). Same random stream as
    :func:`choose`."""
    return _choose(*box.images(centers, radii), len(radii), box, seed)


def _choose(centers: np.ndarray, radii: np.ndarray, origin: np.ndarray, n_spheres: int, box: Box,
            seed: np.random.SeedSequence) -> np.ndarray:
    """The orientation loop of :func:`choose` over spheres and copies: row k of ``centers``,
    ``radii`` is a copy of sphere ``origin[k]``; every copy of a sphere is turned alike, and
    chosen against the special points of all its copies (seen from the sphere's centre, every
    copy's points are the sphere's)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n_spheres, 4))
    chosen: dict[int, np.ndarray] = {}
    for i in range(n_spheres):
        axes = rng.standard_normal((CANDIDATES, 3))
        axes /= np.linalg.norm(axes, axis=1, keepdims=True)
        angles = rng.uniform(0.0, 2.0 * np.pi, CANDIDATES)
        copies = np.nonzero(origin == i)[0]
        ns, coss, pts = [], [], []
        for k in copies:
            n, cos_a = _circles(int(k), centers, radii, box)
            ns.append(n)
            coss.append(cos_a)
            pts += [_crossings(n, cos_a), _seam_crossings(int(k), centers, radii, chosen)]
        rots = _rotations(axes, angles)
        best = int(np.argmax(_clearances(rots, np.vstack(ns), np.concatenate(coss), np.vstack(pts))))
        out[i] = [*axes[best], angles[best]]
        for k in copies:
            chosen[int(k)] = rots[best]
    return out
