"""Random sphere placement with a seed: pore formers (infiltrated), grains and residual pores
(co-sintered).

Proposals (centre, radius, "must attach" flag) come from one random stream in a fixed
order, so a change of a rejection rule (e.g. the layer thickness) only changes the
configuration locally. A proposal is accepted when it

* lies in the box (it may cross the lateral faces and the current-collector face z = Lz,
  never the separator face z = 0, which stays all NZSP);
* keeps the clearances of every :class:`~fem_electrode.geometry.clearance.Clearance`
  family it belongs to (outer spheres, and spheres shrunk by the layer thickness);
* overlaps each neighbour either clearly inside the box (they connect) or clearly outside
  it (they do not), so that the cluster bookkeeping agrees with the clipped geometry;
* when its "attach" flag is drawn (probability ``connectivity``): opens onto z = Lz or
  overlaps a cluster that does;
* does not push the union volume above the target by more than ``FRACTION_TOL``, and adds
  more volume to z-slabs (width ``SLAB_WIDTH_REL`` x median radius) that stay within
  ``SLAB_SLACK`` of the current mean fraction than to slabs that would exceed it. Without
  this rule, spheres that must attach to the network grown from z = Lz would crowd the
  collector side; with it the network grows down evenly and the profile along z is flat.

In a periodic box (``Box.periodic``; the microstructure repeats with periods Lx, Ly) the
centres are drawn in [0, Lx) x [0, Ly) and every rule sees the periodic images of the
placed spheres (x +- Lx, y +- Ly and the corners): two spheres connect when one overlaps
an image of the other (minimum image is not enough: with radii near half the box a
sphere can overlap two images of another), an overlap can only be "outside" above
z = Lz, the voxel estimate wraps, and the clearances hold against every image (see
:class:`~fem_electrode.geometry.clearance.Clearance`). "Opens onto z = Lz" is unchanged.

Placement stops once the union volume (voxel estimate) is within ``FRACTION_TOL`` of the
target, or within ``FRACTION_TOL_STALLED`` after ``STALL_PROPOSALS`` rejections in a row
(in small boxes the last sphere may not fit). Lengths in µm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fem_electrode.geometry.base import PlacementError
from fem_electrode.geometry.clearance import Clearance
from fem_electrode.geometry.voxels import Box, VoxelGrid

#: Placement stops within this absolute volume fraction of its target (0.1 vol%).
FRACTION_TOL = 0.001
#: When this many proposals in a row are rejected, placement settles for ...
STALL_PROPOSALS = 2000
#: ... a union fraction within this of the target (small boxes: the last sphere may not fit).
FRACTION_TOL_STALLED = 0.005
#: Proposals drawn per random batch (batching does not change the sequence).
PROPOSAL_BATCH = 512
#: Give up after this many proposals per accepted sphere expected for the target.
PROPOSALS_PER_SPHERE = 400
#: An attaching proposal is skipped without overlap tests when its top lies this many times
#: (radius + gap) below the lowest sphere of the open network (1: just clear of it; a margin).
FRONT_MARGIN_REL = 1.0
#: Absolute floor on the proposal budget.
MIN_PROPOSALS = 20_000
#: Where along its axis an overlap lens is sampled (fractions of its length) ...
LENS_AXIS_FRACTIONS = (0.25, 0.5, 0.75)
#: ... and how many points of its rim circle are sampled.
LENS_RIM_SAMPLES = 8
#: Width of the z-slabs whose union fraction is capped, in median radii (thinner than a
#: sphere, so that a sphere hanging down from the network front mostly fills the next slab).
SLAB_WIDTH_REL = 1.0
#: A z-slab may exceed the current mean union fraction by at most this much (absolute).
SLAB_SLACK = 0.05


@dataclass(frozen=True)
class RadiusLaw:
    """Log-normal radii with median ``median`` and shape ``sigma``, clipped to [lo, hi] (µm)."""

    median: float
    sigma: float
    lo: float
    hi: float

    def sample(self, normals: np.ndarray) -> np.ndarray:
        return np.clip(self.median * np.exp(self.sigma * normals), self.lo, self.hi)

    def mean_volume(self) -> float:
        """E[4/3 π r³] of the unclipped law (µm³), for budgets only."""
        return 4.0 / 3.0 * np.pi * self.median**3 * np.exp(4.5 * self.sigma**2)


@dataclass(frozen=True)
class PlacementSpec:
    """What to place: the radius law, the target union fraction and the rules."""

    radii: RadiusLaw
    target: float  #: union volume fraction of the box to reach (minus ``exclude``)
    gap: float  #: clearance between surfaces (µm)
    connectivity: float = 0.0  #: probability that a proposal must attach to an open cluster
    shrink: float | None = None  #: layer thickness t: also keep spheres of radius r - t apart
    min_shrunk: float = 0.0  #: shrunk spheres below this radius are dropped (not checked)
    label: str = "sphere"


@dataclass
class Placed:
    """Accepted spheres and their overlap clusters."""

    centers: np.ndarray
    radii: np.ndarray
    proposals: int
    fraction: float  #: voxel estimate of the union fraction reached (minus ``exclude``)
    cluster: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    open_: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    rejected: dict[str, int] = field(default_factory=dict)  #: proposals rejected, by rule

    @property
    def n(self) -> int:
        return len(self.radii)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def opens_on_top(box: Box, c: np.ndarray, r: float, gap: float) -> bool:
    """Whether the sphere cuts the current-collector face z = Lz properly (a disc of
    radius > ``gap`` inside the face rectangle)."""
    lx, ly, lz = box.lengths
    h = abs(c[2] - lz)
    if h > r - gap:
        return False
    disc = np.sqrt(r * r - h * h)
    dx = max(0.0, -c[0], c[0] - lx)
    dy = max(0.0, -c[1], c[1] - ly)
    return np.hypot(dx, dy) < disc - gap


def _lens_samples(c: np.ndarray, u: np.ndarray, s_lo: np.ndarray, s_hi: np.ndarray, a: np.ndarray,
                  rho: np.ndarray) -> np.ndarray:
    """(pairs, samples, 3) points of each overlap lens: its axis and its rim circle."""
    axis = [c + (s_lo + f * (s_hi - s_lo))[:, None] * u for f in LENS_AXIS_FRACTIONS]
    helper = np.where(np.abs(u[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(u, e1)
    q = c + a[:, None] * u
    rim = [q + (rho * np.cos(phi))[:, None] * e1 + (rho * np.sin(phi))[:, None] * e2
           for phi in np.linspace(0.0, 2.0 * np.pi, LENS_RIM_SAMPLES, endpoint=False)]
    return np.stack(axis + rim, axis=1)


def _inner_distance(box: Box, points: np.ndarray) -> np.ndarray:
    """Signed distance to the box boundary (positive inside); only z = 0, Lz when periodic."""
    if not box.periodic:
        return box.inner_distance(points)
    return np.minimum(points[..., 2], box.lengths[2] - points[..., 2])


def _outer_distance(box: Box, points: np.ndarray) -> np.ndarray:
    """Distance to the box (0 inside); to the slab 0 <= z <= Lz when periodic."""
    if not box.periodic:
        return box.distance(points)
    z = points[..., 2]
    return np.maximum(0.0, np.maximum(-z, z - box.lengths[2]))


def _overlaps(box: Box, c: np.ndarray, r: float, centers: np.ndarray, radii: np.ndarray,
              gap: float) -> tuple[np.ndarray, bool]:
    """Spheres whose overlap with the candidate lies in the box, and whether every overlap is
    clearly in or clearly out of the box.

    The overlap lens spans [max(0, d - R), min(d, r)] along the axis from ``c`` and has a rim
    circle. When a sample of it (axis and rim points) is ``gap`` inside the box, the two
    spheres connect inside the box; when a ball bounding the lens stays ``gap`` outside the
    box they only meet outside it (not connected). Anything in between is ambiguous.
    In a periodic box the candidate is tested against every lateral image of each sphere
    and "inside" / "outside" refer to the slab 0 < z < Lz only.
    """
    if not len(radii):
        return np.zeros(0, dtype=int), True
    if box.periodic:
        shifts = box.lateral_shifts()
        origin = np.tile(np.arange(len(radii)), len(shifts))
        centers = (centers[None] + shifts[:, None]).reshape(-1, 3)
        radii = np.tile(radii, len(shifts))
        idx, clear = _overlaps_near(box, c, r, centers, radii, gap)
        return np.unique(origin[idx]), clear
    return _overlaps_near(box, c, r, centers, radii, gap)


def _overlaps_near(box: Box, c: np.ndarray, r: float, centers: np.ndarray, radii: np.ndarray,
                   gap: float) -> tuple[np.ndarray, bool]:
    v = centers - c
    d = np.linalg.norm(v, axis=1)
    idx = np.nonzero(d < r + radii)[0]
    if not len(idx):
        return idx, True
    dd, rr = np.maximum(d[idx], 1e-300), radii[idx]
    u = v[idx] / dd[:, None]
    s_lo, s_hi = np.maximum(0.0, dd - rr), np.minimum(dd, r)
    a = np.clip((dd**2 + r * r - rr**2) / (2 * dd), s_lo, s_hi)  # plane of the rim circle
    rho = np.sqrt(np.maximum(r * r - a**2, 0.0))
    inside = _inner_distance(box, c + (0.5 * (s_lo + s_hi))[:, None] * u) > gap
    if not np.all(inside):  # look at more of the lens only where its middle is not inside
        k = ~inside
        pts = _lens_samples(c, u[k], s_lo[k], s_hi[k], a[k], rho[k])
        inside[k] = np.any(_inner_distance(box, pts.reshape(-1, 3)).reshape(pts.shape[:2]) > gap, axis=1)
    bound = np.sqrt(rho**2 + np.maximum(a - (dd - rr), r - a) ** 2)
    outside = _outer_distance(box, c + a[:, None] * u) > bound + gap
    return idx[inside], bool(np.all(inside | outside))


class _Proposals:
    """Deterministic stream of (centre, radius, attach) proposals."""

    def __init__(self, box: Box, spec: PlacementSpec, seed: np.random.SeedSequence):
        self.box, self.spec = box, spec
        self.rng = np.random.default_rng(seed)
        self._buf: list[tuple[np.ndarray, float, bool]] = []

    def __iter__(self):
        return self

    def __next__(self) -> tuple[np.ndarray, float, bool]:
        if not self._buf:
            n, g = PROPOSAL_BATCH, self.spec.gap
            u = self.rng.random((n, 3))
            r = self.spec.radii.sample(self.rng.standard_normal(n))
            attach = self.rng.random(n) < self.spec.connectivity
            lx, ly, lz = self.box.lengths
            lo = np.column_stack([-r + g, -r + g, r + g])  # never across z = 0
            hi = np.column_stack([lx + r - g, ly + r - g, lz + r - g])
            if self.box.periodic:  # one period in x and y: the images cover the rest
                lo[:, :2], hi[:, 0], hi[:, 1] = 0.0, lx, ly
            c = lo + u * (hi - lo)
            self._buf = [(c[k], float(r[k]), bool(attach[k])) for k in range(n)][::-1]
        return self._buf.pop()


def place(box: Box, grid: VoxelGrid, spec: PlacementSpec, seed: np.random.SeedSequence,
          families: list[Clearance], exclude: np.ndarray | None = None) -> Placed:
    """Place spheres until their union (voxels not in ``exclude``) reaches ``spec.target``.

    ``families[0]`` is the outer-sphere family the new spheres join (it may already hold
    other spheres, e.g. co-sintered pores); if ``spec.shrink`` is set, ``families[1]``
    holds the spheres shrunk by it. Raises :class:`PlacementError` (retried with another
    sub-seed) when the proposal budget runs out before the target is met.
    """
    mask = grid.empty_mask()
    count_goal = spec.target * grid.size
    tol = FRACTION_TOL * grid.size
    count = 0
    slab_of_layer, slab_size = _slabs(grid, spec)
    slab_count = np.zeros(len(slab_size), dtype=np.int64)
    centers: list[np.ndarray] = []
    radii: list[float] = []
    opened: list[bool] = []
    uf = _UnionFind()
    # A network that grows down from z = Lz meets proposals only near its front: a box taller
    # than wide gets a budget larger by its aspect ratio (cubes and flat boxes: unchanged).
    lx, ly, lz = box.lengths
    aspect = max(1.0, lz / min(lx, ly))
    budget = max(MIN_PROPOSALS, int(PROPOSALS_PER_SPHERE * aspect * spec.target * box.volume
                                    / spec.radii.mean_volume()))
    # Lowest point of any sphere of a cluster open onto z = Lz: an attaching proposal wholly
    # below it cannot touch the network (rejected as "detached" without the overlap tests, and
    # outside the budget, so that tall columns, whose network grows down from z = Lz, are not
    # starved; the accepted spheres are the same as without this shortcut).
    front = box.lengths[2]
    bottom: list[float] = []
    n_below = 0
    proposals = _Proposals(box, spec, seed)
    n_prop = 0
    g = spec.gap
    rejected = dict.fromkeys(("outside", "overlap_outside", "detached", "volume", "slab", "clearance",
                              "clearance_shrunk"), 0)

    def reject(rule: str) -> None:
        rejected[rule] += 1

    last_accept = 0
    while count < count_goal - tol:
        if n_prop - last_accept >= STALL_PROPOSALS and count >= count_goal - FRACTION_TOL_STALLED * grid.size:
            break
        if n_prop - n_below >= budget:
            raise PlacementError(
                f"{spec.label} placement: reached {count / grid.size:.4f} of the target "
                f"{spec.target:.4f} volume fraction after {n_prop} proposals (rejected: {rejected}); "
                "the target is hard to reach with these radii, box and connectivity"
            )
        n_prop += 1
        c, r, attach = next(proposals)
        if box.distance(c[None])[0] > r - g:
            reject("outside")
            continue
        if attach and c[2] + r + FRONT_MARGIN_REL * (r + g) < front:
            n_below += 1
            reject("detached")
            continue
        arr_c = np.asarray(centers).reshape(-1, 3)
        arr_r = np.asarray(radii)
        idx, clear = _overlaps(box, c, r, arr_c, arr_r, g)
        if not clear:
            reject("overlap_outside")
            continue
        is_open = opens_on_top(box, c, r, g)
        if attach and not is_open and not any(opened[uf.find(int(j))] for j in idx):
            reject("detached")
            continue
        new_by_layer = grid.count_new(mask, c, r, exclude)
        new = int(new_by_layer.sum())
        if new == 0 or count + new > count_goal + tol:
            reject("volume")
            continue
        new_by_slab = np.bincount(slab_of_layer, weights=new_by_layer, minlength=len(slab_size))
        cap = ((count + new) / grid.size + SLAB_SLACK) * slab_size
        over = slab_count + new_by_slab > cap
        if new_by_slab[over].sum() > new_by_slab[~over].sum():
            reject("slab")
            continue
        if not families[0].accepts(c, r):
            reject("clearance")
            continue
        r_shrunk = None  # radius in the shrunk family; None: no shrink, or below min_shrunk
        if spec.shrink is not None and r - spec.shrink >= spec.min_shrunk:
            r_shrunk = r - spec.shrink
        if r_shrunk is not None and not families[1].accepts(c, r_shrunk):
            reject("clearance_shrunk")
            continue
        # accept
        last_accept = n_prop
        families[0].add(c, r)
        if r_shrunk is not None:
            families[1].add(c, r_shrunk)
        k = uf.add()
        opened.append(is_open)
        bottom.append(float(c[2] - r))
        for j in idx:
            root_open = opened[uf.find(int(j))] or opened[uf.find(k)]
            low = min(bottom[uf.find(int(j))], bottom[uf.find(k)])
            uf.union(k, int(j))
            opened[uf.find(k)] = root_open
            bottom[uf.find(k)] = low
        if opened[uf.find(k)]:
            front = min(front, bottom[uf.find(k)])
        centers.append(c)
        radii.append(r)
        grid.add_to_mask(mask, c, r)
        count += new
        slab_count += new_by_slab.astype(np.int64)
    arr_c = np.asarray(centers).reshape(-1, 3)
    arr_r = np.asarray(radii)
    roots = np.array([uf.find(i) for i in range(len(radii))], dtype=int)
    _, cluster = np.unique(roots, return_inverse=True)
    open_cluster = np.array([opened[uf.find(i)] for i in range(len(radii))], dtype=bool)
    return Placed(arr_c, arr_r, n_prop, count / grid.size, cluster.astype(int), open_cluster, rejected)


def _slabs(grid: VoxelGrid, spec: PlacementSpec) -> tuple[np.ndarray, np.ndarray]:
    """Slab index of every z-layer of voxels, and each slab's number of voxels."""
    nz, hz = grid.shape[2], grid.spacing[2]
    n_slabs = max(1, int(round(nz * hz / (SLAB_WIDTH_REL * spec.radii.median))))
    slab_of_layer = np.minimum((np.arange(nz) * n_slabs) // nz, n_slabs - 1)
    layers = np.bincount(slab_of_layer, minlength=n_slabs)
    return slab_of_layer, layers * grid.shape[0] * grid.shape[1]
