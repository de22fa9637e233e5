"""Near-tangency rejection: keep every sphere surface, intersection circle and box face apart.

OCC booleans and the surface mesher fail on nearly tangent surfaces ("the 1D mesh seems
not to be forming a closed loop"). A :class:`Clearance` holds one *family* of sphere
surfaces that meet in the same boolean (e.g. the pore-former spheres, or the spheres
shrunk by the layer thickness) and rejects a candidate sphere that would bring

* its surface within ``gap`` of an existing surface, of internal tangency, or of
  containment (one sphere inside another);
* its surface within ``gap`` of touching a box face, edge or corner;
* an intersection circle (sphere-sphere or sphere-face) within ``gap`` of touching a
  third sphere or a box face;
* a point where three surfaces meet (three spheres; two spheres and a face; a sphere and
  a box edge) within ``gap`` of a fourth surface; likewise the two points where OCC may put
  the start vertex of an intersection circle (:func:`circle_start_points`).

The checks are conservative (they do not ask whether the near-contact lies inside the
box). Lengths in µm.

Periodic box (``Box.periodic``): the family holds every periodic image (x +- Lx, y +- Ly,
corners) that comes within ``gap`` of the box, and a candidate is accepted only when each
of its images keeps every clearance against the family *and against its other images*
(they are checked and added one after the other). The OCC model is still clipped to the
box, so the lateral faces x = 0, Lx, y = 0, Ly remain real faces of the boolean and keep
their clearances (a sphere nearly tangent to x = 0 is as bad as in a non-periodic box;
its image is then nearly tangent to x = Lx).
"""

from __future__ import annotations

import copy
import itertools

import numpy as np

from fem_electrode.geometry.voxels import Box

#: Generator id of a box face in a circle record: -(1 + 2 * axis + side), side 0 at 0, 1 at L.
_PLANE_IDS = {(axis, side): -(1 + 2 * axis + side) for axis in range(3) for side in range(2)}


def _circle_extent_hits(q: np.ndarray, u: np.ndarray, rho: np.ndarray, box: Box, gap: float) -> np.ndarray:
    """Circles (centre q, unit normal u, radius rho) that nearly touch a box face plane."""
    bad = np.zeros(len(rho), dtype=bool)
    for axis, length in enumerate(box.lengths):
        half = rho * np.sqrt(np.clip(1.0 - u[:, axis] ** 2, 0.0, 1.0))
        for plane in (0.0, length):
            for sign in (-1.0, 1.0):
                bad |= np.abs(q[:, axis] + sign * half - plane) < gap
    return bad


#: Generator id standing for "no third surface" (start points of a circle).
_NO_SURFACE = -100


def _auto_xdir(u: np.ndarray) -> np.ndarray:
    """The X direction OCC (gp_Ax2) derives from a main direction, row by row."""
    a, b, c = np.abs(u).T
    x, y, z = u.T
    out = np.empty_like(u)
    first = (b <= a) & (b <= c)
    second = ~first & (a <= b) & (a <= c)
    third = ~first & ~second
    out[first] = np.where((a > c)[first, None], np.column_stack([-z, 0 * z, x])[first],
                          np.column_stack([z, 0 * z, -x])[first])
    out[second] = np.where((b > c)[second, None], np.column_stack([0 * z, -z, y])[second],
                           np.column_stack([0 * z, z, -y])[second])
    out[third] = np.where((a > b)[third, None], np.column_stack([-y, x, 0 * z])[third],
                          np.column_stack([y, -x, 0 * z])[third])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def circle_start_points(q: np.ndarray, u: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """(2m, 3): q +- rho X(u), where OCC starts a closed intersection circle that no seam
    crosses (X = gp_Ax2's automatic X direction; the sign of u is not known)."""
    if not len(rho):
        return np.zeros((0, 3))
    d = rho[:, None] * _auto_xdir(u)
    return np.vstack([q + d, q - d])


def _basis(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.where(np.abs(u[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(u, e1)


def _on_circle(q, e1, e2, rho, a, b, c) -> np.ndarray:
    """Points q + rho (cos f e1 + sin f e2) with a cos f + b sin f = c (0 or 2 per row)."""
    amp = np.hypot(a, b)
    ok = (amp > 0) & (np.abs(c) <= amp)
    if not np.any(ok):
        return np.zeros((0, 3))
    base = np.arctan2(b[ok], a[ok])
    half = np.arccos(np.clip(c[ok] / amp[ok], -1.0, 1.0))
    out = []
    for phi in (base + half, base - half):
        out.append(q[ok] + rho[ok, None] * (np.cos(phi)[:, None] * e1[ok] + np.sin(phi)[:, None] * e2[ok]))
    return np.vstack(out)


def _triple_points(q: np.ndarray, u: np.ndarray, rho: np.ndarray, gen: np.ndarray,
                   centers: np.ndarray, radii: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """Where each circle meets each sphere or box face other than its own two generators.

    Returns the points and, per point, the three generator ids (faces < 0).
    """
    plane_ids = np.array(list(_PLANE_IDS.values()))
    plane_axis = np.array([axis for axis, _ in _PLANE_IDS])
    plane_pos = np.array([0.0 if side == 0 else box.lengths[axis] for axis, side in _PLANE_IDS])
    ids = np.concatenate([np.arange(len(radii)), plane_ids])
    pts, gens = [], []
    e1, e2 = _basis(u)
    for m in range(len(rho)):
        w = q[m] - centers
        a = np.concatenate([2 * rho[m] * (w @ e1[m]), rho[m] * e1[m, plane_axis]])
        b = np.concatenate([2 * rho[m] * (w @ e2[m]), rho[m] * e2[m, plane_axis]])
        c = np.concatenate([radii**2 - np.einsum("ij,ij->i", w, w) - rho[m] ** 2,
                            plane_pos - q[m, plane_axis]])
        other = ~np.isin(ids, gen[m])
        a, b, c, who = a[other], b[other], c[other], ids[other]
        rows = len(a)
        p = _on_circle(np.repeat(q[m:m + 1], rows, 0), np.repeat(e1[m:m + 1], rows, 0),
                       np.repeat(e2[m:m + 1], rows, 0), np.full(rows, rho[m]), a, b, c)
        amp = np.hypot(a, b)
        hit = who[(amp > 0) & (np.abs(c) <= amp)]
        pts.append(p)
        gens.append(np.column_stack([np.tile(gen[m], (2 * len(hit), 1)), np.tile(hit, 2)]))
    if not pts:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=int)
    return np.vstack(pts), np.vstack(gens).astype(int)


def _near_surfaces(points: np.ndarray, gens: np.ndarray, centers: np.ndarray, radii: np.ndarray,
                   box: Box, gap: float) -> bool:
    """Whether a point lies within ``gap`` of a sphere or face that did not make it."""
    if not len(points):
        return False
    if len(radii):
        d = np.abs(np.linalg.norm(points[:, None, :] - centers[None], axis=2) - radii[None])
        own = (gens[:, :, None] == np.arange(len(radii))[None, None, :]).any(axis=1)
        if np.any((d < gap) & ~own):
            return True
    for (axis, side), pid in _PLANE_IDS.items():
        plane = 0.0 if side == 0 else box.lengths[axis]
        near = np.abs(points[:, axis] - plane) < gap
        if np.any(near & ~(gens == pid).any(axis=1)):
            return True
    return False


def _circle_sphere_hits(q: np.ndarray, u: np.ndarray, rho: np.ndarray,
                        centers: np.ndarray, radii: np.ndarray, gap: float) -> np.ndarray:
    """Matrix (circles x spheres): circle nearly tangent to the sphere surface."""
    w = centers[None, :, :] - q[:, None, :]
    wn = np.einsum("mnk,mk->mn", w, u)
    wp = np.sqrt(np.maximum(np.einsum("mnk,mnk->mn", w, w) - wn**2, 0.0))
    near = np.sqrt(wn**2 + (wp - rho[:, None]) ** 2)
    far = np.sqrt(wn**2 + (wp + rho[:, None]) ** 2)
    r = radii[None, :]
    return (np.abs(near - r) < gap) | (np.abs(far - r) < gap)


class Clearance:
    """One family of sphere surfaces plus the box faces; see the module docstring."""

    def __init__(self, box: Box, gap: float):
        self.box = box
        self.gap = gap
        self.centers = np.zeros((0, 3))
        self.radii = np.zeros(0)
        # intersection circles: centre, unit normal, radius, generating sphere ids (<0: a face)
        self.cq = np.zeros((0, 3))
        self.cu = np.zeros((0, 3))
        self.crho = np.zeros(0)
        self.cgen = np.zeros((0, 2), dtype=int)
        # points where three surfaces meet, near the box, and their generator ids
        self.pts = np.zeros((0, 3))
        self.pgen = np.zeros((0, 3), dtype=int)

    # -- sphere-level checks --------------------------------------------------------------
    def _box_ok(self, c: np.ndarray, r: float) -> bool:
        g, L = self.gap, self.box.lengths
        for axis in range(3):
            for plane in (0.0, L[axis]):
                if abs(abs(c[axis] - plane) - r) < g:
                    return False
        for axis in range(3):  # the 12 edges: lines along `axis`
            a, b = [k for k in range(3) if k != axis]
            for pa, pb in itertools.product((0.0, L[a]), (0.0, L[b])):
                if abs(np.hypot(c[a] - pa, c[b] - pb) - r) < g:
                    return False
        for corner in itertools.product((0.0, L[0]), (0.0, L[1]), (0.0, L[2])):
            if abs(np.linalg.norm(c - np.asarray(corner)) - r) < g:
                return False
        return True

    def _new_circles(self, c: np.ndarray, r: float) -> tuple[np.ndarray, ...]:
        """Circles the candidate would create with the existing spheres and the box faces."""
        qs, us, rhos, gens = [], [], [], []
        if len(self.radii):
            v = self.centers - c
            d = np.linalg.norm(v, axis=1)
            cut = (d < r + self.radii) & (d > np.abs(r - self.radii)) & (d > 0)
            if np.any(cut):
                dd, vv, rr = d[cut], v[cut], self.radii[cut]
                u = vv / dd[:, None]
                a = (dd**2 + r * r - rr**2) / (2 * dd)
                qs.append(c + a[:, None] * u)
                us.append(u)
                rhos.append(np.sqrt(np.maximum(r * r - a**2, 0.0)))
                gens.append(np.nonzero(cut)[0])
        for (axis, side), pid in _PLANE_IDS.items():
            plane = 0.0 if side == 0 else self.box.lengths[axis]
            dist = abs(c[axis] - plane)
            if dist < r:
                q = c.copy()
                q[axis] = plane
                u = np.zeros(3)
                u[axis] = 1.0
                qs.append(q[None])
                us.append(u[None])
                rhos.append(np.array([np.sqrt(r * r - dist * dist)]))
                gens.append(np.array([pid]))
        if not qs:
            return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros(0, dtype=int)
        return np.vstack(qs), np.vstack(us), np.concatenate(rhos), np.concatenate(gens)

    def _copies(self, c: np.ndarray, r: float) -> np.ndarray:
        """The sphere's centre, then (periodic box) those of its images near the box."""
        centers, _, _ = self.box.images(c[None], np.array([r]), reach=self.gap)
        return centers

    def accepts(self, c: np.ndarray, r: float) -> bool:
        """Whether a sphere (centre ``c``, radius ``r``) and, in a periodic box, its images
        keep every clearance."""
        if not self.box.periodic:
            return self._accepts(c, r)
        trial = copy.copy(self)  # ``_add`` rebinds its arrays: the family itself is untouched
        for ci in self._copies(c, r):
            if not trial._accepts(ci, r):
                return False
            trial._add(ci, r)
        return True

    def add(self, c: np.ndarray, r: float) -> None:
        """Record an accepted sphere (and, in a periodic box, its images near the box)."""
        if not self.box.periodic:
            self._add(c, r)
            return
        for ci in self._copies(c, r):
            self._add(ci, r)

    def _accepts(self, c: np.ndarray, r: float) -> bool:
        """Whether one sphere keeps every clearance against the family."""
        g = self.gap
        if not self._box_ok(c, r):
            return False
        if len(self.radii):
            d = np.linalg.norm(self.centers - c, axis=1)
            if np.any(np.abs(d - (r + self.radii)) < g):  # external tangency
                return False
            if np.any(d < np.abs(r - self.radii) + g):  # internal tangency / containment
                return False
        q, u, rho, gen = self._new_circles(c, r)
        if len(rho):
            if np.any(_circle_extent_hits(q, u, rho, self.box, g) & (gen >= 0)):
                return False
            if len(self.radii):
                hits = _circle_sphere_hits(q, u, rho, self.centers, self.radii, g)
                own = gen[:, None] == np.arange(len(self.radii))[None, :]
                if np.any(hits & ~own):
                    return False
        if len(self.crho):
            hits = _circle_sphere_hits(self.cq, self.cu, self.crho, c[None], np.array([r]), g)
            if np.any(hits):
                return False
        if len(self.pts) and np.any(np.abs(np.linalg.norm(self.pts - c, axis=1) - r) < g):
            return False
        pts, gens = self._new_points(c, r, q, u, rho, gen)
        return not _near_surfaces(pts, gens, self.centers, self.radii, self.box, g)

    def _new_points(self, c, r, q, u, rho, gen) -> tuple[np.ndarray, np.ndarray]:
        """Triple points the candidate creates (only those near the box matter)."""
        new_id = len(self.radii)
        gens2 = np.column_stack([gen, np.full(len(gen), new_id)])
        centers = np.vstack([self.centers, c])
        radii = np.append(self.radii, r)
        pts, gens = _triple_points(q, u, rho, gens2, centers, radii, self.box)
        starts = circle_start_points(q, u, rho)
        start_gens = np.column_stack([np.vstack([gens2, gens2]), np.full(len(starts), _NO_SURFACE)])
        pts, gens = np.vstack([pts, starts]), np.vstack([gens, start_gens]).astype(int)
        keep = self.box.distance(pts) < self.gap if len(pts) else np.zeros(0, dtype=bool)
        return pts[keep], gens[keep]

    def _add(self, c: np.ndarray, r: float) -> None:
        """Record one sphere and its intersection circles."""
        q, u, rho, gen = self._new_circles(c, r)
        pts, gens = self._new_points(c, r, q, u, rho, gen)
        self.pts = np.vstack([self.pts, pts])
        self.pgen = np.vstack([self.pgen, gens])
        new_id = len(self.radii)
        self.cq = np.vstack([self.cq, q])
        self.cu = np.vstack([self.cu, u])
        self.crho = np.concatenate([self.crho, rho])
        self.cgen = np.vstack([self.cgen, np.column_stack([gen, np.full(len(gen), new_id)])])
        self.centers = np.vstack([self.centers, c])
        self.radii = np.append(self.radii, r)
