"""Infiltrated electrode: porous NZSP scaffold, NVP layer on the walls of the
pores that are open to the current collector, residual pore void.

Pore space P = ∪ B(x_i, r_i) of pore-former spheres. A *cluster* is a set of overlapping
spheres (overlaps inside the box only); it is *infiltrated* when one of its spheres cuts
the current-collector face z = Lz (the solution is dropped onto that face and drawn in by
capillarity). For the infiltrated clusters, with P_t = ∪ B(x_i, r_i - t):
NVP = P_c \\ P_t, residual void = P_t. Isolated clusters stay empty. NZSP = box \\ P.
With ``geometry.periodic`` the pore space repeats in x and y: clusters connect through
the lateral faces (an overlap with a periodic image counts), a cluster is infiltrated
when it opens onto z = Lz anywhere, and every sphere is built with its images.
Pore formers whose residual radius r_i - t is below ``MIN_VOID_REL`` x pore_radius_min
are filled completely (no sliver of void is left in them).

The layer thickness t is ``geometry.layer_thickness`` or, when absent, solved so that the
NVP fraction matches ``geometry.nvp_fraction`` (voxel estimate, then verified with OCC).

Why ``pore_connectivity`` (default 1): overlapping random spheres percolate only above
~29 vol%, so at 20 % porosity most pores of a purely random template would be closed and
the 80 : 15.5 : 4.5 composition could not be infiltrated. The paper's scaffold has open
porosity; by default every pore former touches the network that reaches z = Lz, and the
z-slab rule of :mod:`~fem_electrode.geometry.placement` keeps the pores evenly spread in
depth. Lower values leave isolated (empty) pores. No pore crosses z = 0: the separator
face is all NZSP. Lengths in µm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem_electrode.geometry import occ, orientation
from fem_electrode.geometry.base import Layer, PlacementError
from fem_electrode.geometry.clearance import Clearance
from fem_electrode.geometry.placement import Placed, PlacementSpec, RadiusLaw, place
from fem_electrode.geometry.voxels import Box, VoxelGrid

RANDOM = True  #: a retry re-places the pore formers with a new sub-seed

#: Residual voids smaller than this fraction of pore_radius_min are filled with NVP.
MIN_VOID_REL = 0.25
#: Accept a layer thickness when the NVP fraction it gives is this close to the target.
LAYER_FRACTION_TOL = 0.002
#: At most this many placement passes to make t and the placement consistent.
MAX_LAYER_PASSES = 8
#: While t is being solved, the voids are placed clear for any t within this fraction of
#: pore_radius_min of the estimates so far (the estimate moves between passes).
THICKNESS_DRIFT_REL = 0.05
#: When t must move off a near-tangency, try t* +- j * THICKNESS_SCAN_REL * min_gap ...
THICKNESS_SCAN_REL = 0.1
#: ... for j < THICKNESS_SCAN_STEPS (candidates outside the fraction tolerance are skipped).
THICKNESS_SCAN_STEPS = 24
#: Bisection steps for t (interval halves each step: 2^-40 of the largest radius).
BISECTION_STEPS = 40


@dataclass
class InfiltratedPlan:
    """Everything the OCC build needs, decided before gmsh is touched (µm)."""

    box: Box
    placed: Placed
    thickness: float  #: layer thickness t
    thickness_solved: bool
    infiltrated: np.ndarray  #: per sphere: its cluster opens onto z = Lz
    void: np.ndarray  #: per sphere: its shrunk sphere B(x, r - t) is kept as void
    estimate: dict[str, float]  #: voxel estimates of the volume fractions
    min_void: float
    orientations: np.ndarray  #: (n, 4) orientations of the pore-former spheres (axis, angle)
    void_orientations: np.ndarray  #: (n, 4) orientations of the shrunk spheres (rows of ``void``)
    occ_seed: np.random.SeedSequence  #: for re-orienting spheres whose OCC fuse fails

    @property
    def reference_volume(self) -> float:
        return self.box.volume

    @property
    def layer(self) -> Layer:
        return Layer(self.thickness, far_side="pore_wall_nvp")

    @property
    def nvp_thickness(self) -> float:
        return self.thickness

    @property
    def expected(self) -> dict[str, float]:
        return {"NZSP": self.estimate["NZSP"], "NVP": self.estimate["NVP"]}

    def summary(self) -> dict:
        clusters = np.unique(self.placed.cluster)
        infiltrated = np.unique(self.placed.cluster[self.infiltrated])
        return {
            "pore_formers": int(self.placed.n),
            "proposals": int(self.placed.proposals),
            "layer_thickness": float(self.thickness),
            "layer_thickness_solved": bool(self.thickness_solved),
            "pore_clusters": {"count": int(len(clusters)), "infiltrated": int(len(infiltrated)),
                              "isolated": int(len(clusters) - len(infiltrated))},
            "filled_pore_formers": int(np.count_nonzero(self.infiltrated & ~self.void)),
            "pore_radius_sampled": [float(self.placed.radii.min()), float(self.placed.radii.max())],
            "voxel_estimate": self.estimate,
        }


class _LayerModel:
    """NVP volume of the infiltrated clusters as a function of t (voxel counts)."""

    def __init__(self, grid: VoxelGrid, centers: np.ndarray, radii: np.ndarray, min_void: float):
        self.grid, self.centers, self.radii, self.min_void = grid, centers, radii, min_void
        self.pore_count = int(np.count_nonzero(grid.depth(centers, radii) > 0))
        self._cache: dict[bytes, np.ndarray] = {}

    def keep(self, t: float) -> np.ndarray:
        return self.radii - t >= self.min_void

    def nvp_count(self, t: float) -> int:
        keep = self.keep(t)
        key = keep.tobytes()
        if key not in self._cache:
            depth = self.grid.depth(self.centers[keep], self.radii[keep])
            self._cache[key] = np.sort(depth[depth > 0].ravel())
        deep = self._cache[key]
        void = len(deep) - int(np.searchsorted(deep, t, side="right"))
        return self.pore_count - void

    def solve(self, target_count: float) -> float:
        """Smallest t whose NVP count reaches ``target_count`` (bisection)."""
        lo, hi = 0.0, float(self.radii.max())
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            if self.nvp_count(mid) < target_count:
                lo = mid
            else:
                hi = mid
        return hi


def _spec(g, shrink: float | None, min_void: float) -> PlacementSpec:
    return PlacementSpec(
        radii=RadiusLaw(g.pore_radius_mean, g.pore_radius_sigma, g.pore_radius_min, g.pore_radius_max),
        target=g.porosity, gap=g.min_gap, connectivity=g.pore_connectivity, shrink=shrink,
        min_shrunk=min_void, label="pore-former",
    )


def _place(box: Box, grid: VoxelGrid, g, shrink: float | None, min_void: float,
           seed: np.random.SeedSequence, drift: float = 0.0) -> Placed:
    """Place pore formers; the shrunk spheres keep ``min_gap + 2 drift`` so that any t within
    ``drift`` of ``shrink`` keeps them ``min_gap`` clear."""
    families = [Clearance(box, g.min_gap), Clearance(box, g.min_gap + 2.0 * drift)]
    return place(box, grid, _spec(g, shrink, min_void), seed, families)


def plan(case, seed: np.random.SeedSequence) -> InfiltratedPlan:
    """Place the pore formers and fix t; raises ``ValueError`` naming the parameter."""
    g = case.geometry
    seed, orient_seed, occ_seed = seed.spawn(3)
    box = Box(tuple(g.box), periodic=g.periodic)
    grid = VoxelGrid(box, g.pore_radius_min)
    min_void = MIN_VOID_REL * g.pore_radius_min
    target = g.nvp_fraction * grid.size
    if g.layer_thickness is not None:
        t, solved = float(g.layer_thickness), False
        placed = _place(box, grid, g, t, min_void, seed)
        model = _model(box, grid, placed, g, min_void)
    else:
        solved = True
        placed = _place(box, grid, g, None, min_void, seed)
        seen: list[float] = []
        for _ in range(MAX_LAYER_PASSES):
            model = _model(box, grid, placed, g, min_void)
            t_star = _solve(model, target, g)
            t_found = _consistent_thickness(box, placed, model, t_star, target, g.min_gap, min_void)
            if t_found is not None:
                t = t_found
                break
            # Re-place with voids kept clear for every t seen so far (plus a margin): the
            # window grows until the solved t falls inside it, so passes cannot cycle.
            seen.append(t_star)
            lo, hi = min(seen), max(seen)
            drift = 0.5 * (hi - lo) + THICKNESS_DRIFT_REL * g.pore_radius_min
            placed = _place(box, grid, g, 0.5 * (lo + hi), min_void, seed, drift)
        else:
            raise PlacementError(
                f"no layer thickness within {LAYER_FRACTION_TOL} of geometry.nvp_fraction keeps the "
                f"shrunk pore formers clear of near-tangency after {MAX_LAYER_PASSES} placements"
            )
    infiltrated = placed.open_
    r_inf = placed.radii[infiltrated]
    if t >= r_inf.min():
        what = "layer_thickness" if not solved else "nvp_fraction"
        raise ValueError(
            f"geometry.{what}: the layer thickness t = {t:.3f} µm is not below the smallest "
            f"infiltrated pore-former radius {r_inf.min():.3f} µm; lower geometry.{what} or "
            "raise geometry.porosity / the pore radii"
        )
    void = infiltrated & model_keep(placed.radii, t, min_void)
    nvp = model.nvp_count(t) / grid.size
    estimate = {"porosity": placed.fraction, "NVP": nvp, "NZSP": 1.0 - placed.fraction,
                "pore": placed.fraction - nvp}
    outer_seed, void_seed = orient_seed.spawn(2)
    choose = orientation.choose_periodic if box.periodic else orientation.choose
    orientations = choose(placed.centers, placed.radii, box, outer_seed)
    void_orientations = np.zeros_like(orientations)
    void_orientations[void] = choose(placed.centers[void], placed.radii[void] - t, box, void_seed)
    return InfiltratedPlan(box, placed, t, solved, infiltrated, void, estimate, min_void, orientations,
                           void_orientations, occ_seed)


def _shrunk_clear(box: Box, placed: Placed, t: float, gap: float, min_void: float) -> bool:
    """Whether the kept residual voids B(x, r - t) of the infiltrated spheres keep clearance."""
    family = Clearance(box, gap)
    for c, r, inf in zip(placed.centers, placed.radii, placed.open_, strict=True):
        if not inf or r - t < min_void:
            continue
        if not family.accepts(c, r - t):
            return False
        family.add(c, r - t)
    return True


def _consistent_thickness(box: Box, placed: Placed, model: _LayerModel, t_star: float, target: float,
                          gap: float, min_void: float) -> float | None:
    """The t nearest ``t_star`` whose NVP count is within tolerance and whose voids keep
    clearance on this placement, or None."""
    tol = LAYER_FRACTION_TOL * model.grid.size
    step = gap * THICKNESS_SCAN_REL
    for j in range(THICKNESS_SCAN_STEPS):
        for t in {t_star + j * step, t_star - j * step}:
            if t <= 0 or abs(model.nvp_count(t) - target) > tol:
                continue
            if _shrunk_clear(box, placed, t, gap, min_void):
                return t
    return None


def model_keep(radii: np.ndarray, t: float, min_void: float) -> np.ndarray:
    return radii - t >= min_void


def _model(box: Box, grid: VoxelGrid, placed: Placed, g, min_void: float) -> _LayerModel:
    inf = placed.open_
    if not np.any(inf):
        raise ValueError(
            "geometry.pore_connectivity: no pore cluster reaches the infiltration face z = Lz "
            f"(porosity {g.porosity}, {placed.n} pore formers); raise geometry.pore_connectivity "
            "or geometry.porosity"
        )
    return _LayerModel(grid, placed.centers[inf], placed.radii[inf], min_void)


def _solve(model: _LayerModel, target: float, g) -> float:
    reachable = model.pore_count / model.grid.size
    if reachable * model.grid.size < target:
        raise ValueError(
            f"geometry.nvp_fraction = {g.nvp_fraction}: the pores open to the current collector "
            f"hold only {reachable:.4f} of the box; lower geometry.nvp_fraction or raise "
            "geometry.pore_connectivity / geometry.porosity"
        )
    return model.solve(target)


def build(p: InfiltratedPlan) -> occ.Regions:
    """OCC geometry of the plan in the open gmsh session; conformal, faces named."""
    c, r, o, ov = p.placed.centers, p.placed.radii, p.orientations, p.void_orientations
    inf, iso, vd = p.infiltrated, ~p.infiltrated, p.void
    s_c, s_v, s_i = p.occ_seed.spawn(3)

    def union(centers, radii, orientations, seed):  # with the periodic images, if any
        c_all, r_all, o_all, origin = occ.with_images(centers, radii, orientations, p.box)
        return occ.clip_to_box(occ.checked_union(c_all, r_all, o_all, p.box, seed, origin), p.box)

    pores_c = union(c[inf], r[inf], o[inf], s_c)
    voids = union(c[vd], r[vd] - p.thickness, ov[vd], s_v)
    pores_i = union(c[iso], r[iso], o[iso], s_i)
    nzsp = occ.subtract(occ.add_box(p.box), pores_c + pores_i, keep_tools=True)
    occ.gmsh.model.occ.remove(pores_i, recursive=True)
    nvp = occ.subtract(pores_c, voids, keep_tools=False)
    volumes = occ.fragment_phases({"NZSP": nzsp, "NVP": nvp})
    occ.remove_unused(volumes)
    return occ.Regions(volumes, occ.classify_faces(volumes, p.box))
