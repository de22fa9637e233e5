"""Placement and layer-thickness planning (pure numpy: no gmsh session, no files).

Deterministic and rank-independent, so these also run under ``mpiexec``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fem_electrode.config import ConfigError, validate
from fem_electrode.geometry import plan
from fem_electrode.geometry.clearance import Clearance
from fem_electrode.geometry.infiltrated import LAYER_FRACTION_TOL, _LayerModel
from fem_electrode.geometry.placement import FRACTION_TOL_STALLED, SLAB_SLACK, RadiusLaw
from fem_electrode.geometry.voxels import Box, VoxelGrid

SMALL = {"box": [5.0, 5.0, 5.0]}


def _case(**geometry):
    return validate({"geometry": {**SMALL, **geometry}})


def test_radii_are_log_normal_and_clipped():
    law = RadiusLaw(median=1.0, sigma=0.5, lo=0.6, hi=1.6)
    r = law.sample(np.random.default_rng(0).standard_normal(20_000))
    assert r.min() == pytest.approx(0.6) and r.max() == pytest.approx(1.6)
    assert np.median(r) == pytest.approx(1.0, abs=0.03)


def test_voxel_depth_gives_shell_volume_of_one_sphere():
    box = Box((6.0, 6.0, 6.0))
    grid = VoxelGrid(box, 0.6)
    model = _LayerModel(grid, np.array([[3.0, 3.0, 3.0]]), np.array([2.0]), min_void=0.1)
    voxel = grid.spacing[0] ** 3
    exact = 4.0 / 3.0 * np.pi * (2.0**3 - 1.5**3)
    assert model.nvp_count(0.5) * voxel == pytest.approx(exact, rel=0.01)
    assert model.solve(model.nvp_count(0.5)) == pytest.approx(0.5, abs=grid.spacing[0])


def test_infiltrated_plan_meets_targets_and_clearances():
    case = _case(seed=3)
    p = plan(case)
    g = case.geometry
    est = p.estimate
    assert est["porosity"] == pytest.approx(g.porosity, abs=FRACTION_TOL_STALLED)
    assert est["NVP"] == pytest.approx(g.nvp_fraction, abs=LAYER_FRACTION_TOL)
    assert p.thickness_solved and 0 < p.thickness < p.placed.radii[p.infiltrated].min()
    # every kept void and every pore former keeps the clearance, checked from scratch
    for radii, keep in ((p.placed.radii, np.ones(p.placed.n, bool)), (p.placed.radii - p.thickness, p.void)):
        family = Clearance(p.box, g.min_gap)
        for c, r in zip(p.placed.centers[keep], radii[keep], strict=True):
            assert family.accepts(c, r)
            family.add(c, r)
    c, r = p.placed.centers, p.placed.radii
    for i, j in itertools.combinations(range(p.placed.n), 2):
        d = np.linalg.norm(c[i] - c[j])
        assert abs(d - r[i] - r[j]) >= g.min_gap and d >= abs(r[i] - r[j]) + g.min_gap
    assert np.all(c[:, 2] - r >= g.min_gap)  # nothing crosses the separator face z = 0


def test_open_template_infiltrates_every_pore_and_profile_is_flat():
    p = plan(validate({"geometry": {"seed": 2}}))  # default 10 µm RVE
    assert p.infiltrated.all()
    grid = VoxelGrid(p.box, 0.6)
    depth = grid.depth(p.placed.centers, p.placed.radii)
    profile = (depth > 0).mean(axis=(0, 1))
    slabs = profile[: len(profile) // 10 * 10].reshape(10, -1).mean(axis=1)
    assert slabs[2:].max() <= p.estimate["porosity"] + SLAB_SLACK + 0.02
    assert slabs[2:].min() >= p.estimate["porosity"] - SLAB_SLACK - 0.02


def test_plan_is_deterministic_and_seeds_differ():
    a, b, c = plan(_case(seed=1)), plan(_case(seed=1)), plan(_case(seed=7))
    assert np.array_equal(a.placed.centers, b.placed.centers) and a.thickness == b.thickness
    assert a.placed.n != c.placed.n or not np.allclose(a.placed.centers, c.placed.centers)


def test_given_layer_thickness_is_used():
    p = plan(_case(seed=1, layer_thickness=0.3))
    assert p.thickness == 0.3 and not p.thickness_solved
    assert p.estimate["NVP"] < 0.155  # a thinner layer than the one that fills 15.5 %


def test_isolated_pores_are_reported():
    p = plan(_case(seed=4, pore_connectivity=0.3, layer_thickness=0.3))
    s = p.summary()["pore_clusters"]
    assert s["isolated"] >= 1 and s["infiltrated"] >= 1
    assert s["count"] == s["isolated"] + s["infiltrated"]


def test_cosintered_plan_meets_targets():
    case = _case(kind="cosintered", seed=2)
    p = plan(case)
    assert p.estimate["NVP"] == pytest.approx(0.155, abs=FRACTION_TOL_STALLED)
    assert p.estimate["pore"] == pytest.approx(0.045, abs=FRACTION_TOL_STALLED)
    assert np.all(p.pores.radii == case.geometry.residual_pore_radius)
    assert p.grains.open_.all()  # grain_connectivity = 1: every grain wired to the collector


@pytest.mark.parametrize(
    ("geometry", "match"),
    [
        ({"nvp_fraction": 0.195}, "geometry.nvp_fraction"),  # t would reach the smallest radius
        ({"pore_connectivity": 0.0, "porosity": 0.02, "nvp_fraction": 0.01, "seed": 2},
         "geometry.pore_connectivity"),  # no cluster reaches z = Lz
    ],
)
def test_bad_input_needing_geometry_names_the_parameter(geometry, match):
    with pytest.raises(ValueError, match=match):
        plan(_case(**geometry))


@pytest.mark.parametrize(
    ("geometry", "match"),
    [
        ({"layer_thickness": 0.6}, "layer_thickness = 0.6 µm must be below"),
        ({"porosity": 0.7}, "geometry.porosity = 0.7"),
        ({"pore_radius_max": 3.0, "pore_radius_mean": 2.0}, "pore_radius_max = 3.0 µm: a pore larger"),
        ({"kind": "coated_cavity", "coating_thickness": 2.0}, "coating_thickness = 2.0 µm must be below"),
        ({"kind": "sphere_inclusion", "inclusion_radius": 3.0}, "inclusion_radius = 3.0 µm must be below"),
        ({"kind": "film", "film_thickness": 5.0}, "film_thickness = 5.0 µm must be below"),
        ({"kind": "cosintered", "residual_pore_radius": 2.6}, "residual_pore_radius = 2.6 µm"),
    ],
)
def test_pure_value_checks_name_the_parameter(geometry, match):
    with pytest.raises(ConfigError, match=match):
        _case(**geometry)


def test_tall_column_places_with_an_open_network_down_to_the_separator():
    """A column 8x taller than wide: the network grows down from z = Lz and must still reach
    the target (round 1's budget ran out at 1-15 % of it) with the pores spread over the depth."""
    case = _case(box=[4.0, 4.0, 32.0], seed=2)
    p = plan(case)
    assert p.estimate["porosity"] == pytest.approx(case.geometry.porosity, abs=FRACTION_TOL_STALLED)
    assert p.infiltrated.all()
    grid = VoxelGrid(p.box, 0.6)
    profile = (grid.depth(p.placed.centers, p.placed.radii) > 0).mean(axis=(0, 1))
    quarters = profile[: len(profile) // 4 * 4].reshape(4, -1).mean(axis=1)
    assert quarters.min() >= p.estimate["porosity"] - SLAB_SLACK - 0.03
