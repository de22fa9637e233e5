"""Co-sintered electrode: NVP grains dispersed in a dense NZSP matrix, with
small residual pores; grains bonded to the matrix (conformal faces).

Residual pores (radius ``geometry.residual_pore_radius``) are placed first until the pore
fraction ``porosity - nvp_fraction`` is met; then NVP grains (log-normal radii from the
``pore_radius_*`` keys) until NVP = grains \\ pores reaches ``nvp_fraction``. Pores may cut
grains (their walls are then ``pore_wall_nvp``). With ``grain_connectivity`` = 1 every
grain touches the grain network that reaches the current collector z = Lz, so all NVP is
electronically wired; lower values leave floating grains (reported). With
``geometry.periodic`` grains and pores repeat in x and y (grains connect through the
lateral faces; each sphere is built with its images). Lengths in µm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem_electrode.geometry import occ, orientation
from fem_electrode.geometry.clearance import Clearance
from fem_electrode.geometry.placement import Placed, PlacementSpec, RadiusLaw, place
from fem_electrode.geometry.voxels import Box, VoxelGrid

RANDOM = True  #: a retry re-places grains and pores with a new sub-seed


@dataclass
class CosinteredPlan:
    """Grains and pores, decided before gmsh (µm)."""

    box: Box
    grains: Placed
    pores: Placed
    estimate: dict[str, float]
    grain_orientations: np.ndarray  #: (n, 4) OCC sphere orientations (axis, angle)
    pore_orientations: np.ndarray
    occ_seed: np.random.SeedSequence  #: for re-orienting spheres whose OCC fuse fails

    @property
    def reference_volume(self) -> float:
        return self.box.volume

    @property
    def layer(self) -> None:
        return None

    @property
    def nvp_thickness(self) -> float:
        """Smallest grain radius: the NVP mesh size is it / elements_across_layer."""
        return float(self.grains.radii.min())

    @property
    def expected(self) -> dict[str, float]:
        return {"NZSP": self.estimate["NZSP"], "NVP": self.estimate["NVP"]}

    def summary(self) -> dict:
        g = self.grains
        clusters = np.unique(g.cluster)
        wired = np.unique(g.cluster[g.open_])
        return {
            "grains": int(g.n),
            "residual_pores": int(self.pores.n),
            "proposals": int(g.proposals + self.pores.proposals),
            "grain_radius_sampled": [float(g.radii.min()), float(g.radii.max())],
            "nvp_clusters": {"count": int(len(clusters)), "touching_current_collector": int(len(wired)),
                             "grains_wired": int(np.count_nonzero(g.open_))},
            "pore_clusters": {"count": int(len(np.unique(self.pores.cluster))) if self.pores.n else 0,
                              "infiltrated": 0,
                              "isolated": int(len(np.unique(self.pores.cluster))) if self.pores.n else 0},
            "voxel_estimate": self.estimate,
        }


def plan(case, seed: np.random.SeedSequence) -> CosinteredPlan:
    """Place residual pores, then grains; raises ``ValueError`` naming the parameter."""
    g = case.geometry
    box = Box(tuple(g.box), periodic=g.periodic)
    grid = VoxelGrid(box, min(g.pore_radius_min, g.residual_pore_radius))
    pore_seed, grain_seed, orient_seed, occ_seed = seed.spawn(4)
    family = Clearance(box, g.min_gap)  # grains and pores meet in the same booleans
    pore_target = g.porosity - g.nvp_fraction
    rp = g.residual_pore_radius
    if pore_target > 0:
        pores = place(box, grid, PlacementSpec(RadiusLaw(rp, 0.0, rp, rp), pore_target, g.min_gap,
                                               label="residual pore (geometry.residual_pore_radius)"),
                      pore_seed, [family])
    else:
        pores = Placed(np.zeros((0, 3)), np.zeros(0), 0, 0.0)
    pore_mask = grid.empty_mask()
    for c, r in zip(pores.centers, pores.radii, strict=True):
        grid.add_to_mask(pore_mask, c, r)
    law = RadiusLaw(g.pore_radius_mean, g.pore_radius_sigma, g.pore_radius_min, g.pore_radius_max)
    grains = place(box, grid, PlacementSpec(law, g.nvp_fraction, g.min_gap, g.grain_connectivity,
                                            label="NVP grain (geometry.nvp_fraction)"),
                   grain_seed, [family], exclude=pore_mask)
    if grains.n == 0:
        raise ValueError(f"geometry.nvp_fraction = {g.nvp_fraction}: no NVP grain could be placed")
    pore_fraction = float(np.count_nonzero(pore_mask)) / grid.size
    estimate = {"NVP": grains.fraction, "pore": pore_fraction,
                "NZSP": 1.0 - grains.fraction - pore_fraction}
    choose = orientation.choose_periodic if box.periodic else orientation.choose
    orientations = choose(np.vstack([grains.centers, pores.centers]),
                                      np.concatenate([grains.radii, pores.radii]), box, orient_seed)
    return CosinteredPlan(box, grains, pores, estimate, orientations[:grains.n], orientations[grains.n:],
                          occ_seed)


def build(p: CosinteredPlan) -> occ.Regions:
    """OCC geometry of the plan in the open gmsh session; conformal, faces named."""
    s_g, s_p = p.occ_seed.spawn(2)

    def union(placed, orientations, seed):  # with the periodic images, if any
        c_all, r_all, o_all, origin = occ.with_images(placed.centers, placed.radii, orientations, p.box)
        return occ.clip_to_box(occ.checked_union(c_all, r_all, o_all, p.box, seed, origin), p.box)

    grains = union(p.grains, p.grain_orientations, s_g)
    pores = union(p.pores, p.pore_orientations, s_p)
    nzsp = occ.subtract(occ.add_box(p.box), grains + pores, keep_tools=True)
    nvp = occ.subtract(grains, pores, keep_tools=False)
    volumes = occ.fragment_phases({"NZSP": nzsp, "NVP": nvp})
    occ.remove_unused(volumes)
    return occ.Regions(volumes, occ.classify_faces(volumes, p.box))
