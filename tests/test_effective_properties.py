"""Effective properties of a resolved RVE (fem_electrode.problems.effective) against closed forms.

Laminates on structured boxes, where P1 is exact: split at an x plane (interfaces parallel to
z, both phases span the height: κ_eff = f σ, E_z = Σ f E with equal Poisson ratios), split at
a z plane (each phase blocks the other: no through-conduction, E_z = 1 / Σ (f / E) with equal
ν/E so the layers contract alike), a floating NVP island (held, carries no current), the
O(h²) convergence of the one-sided (uniform-source) conductivity, and a small generated
periodic infiltrated RVE (bounds, fractions against the mesh provenance). The two phases
have different conductivities and moduli, so a swap of phases shows. Expected values are
computed here from the geometry, never by the package. Runs serially and on 2 ranks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from layered import layered_box, tagged_box

from fem_electrode.config import validate
from fem_electrode.physics.effective_medium import EffectiveProperties
from fem_electrode.problems.effective import conductivity_uniform_source, effective_properties
from fem_electrode.run.meshes import load_domain

UM = 1e-6
SIGMA_E, SIGMA_S = 0.5, 3.0  # S/m: NZSP ionic, NVP electronic (mismatched on purpose)
#: Box of the laminates (m) and its cells.
LX, LY, LZ = 2 * UM, 1 * UM, 1.5 * UM
N = (8, 2, 3)
X_SPLIT = 1.25 * UM  # NVP for x > X_SPLIT: f_NVP = 3/8
Z_SPLIT = 1.0 * UM  # NZSP below, NVP above: f_NVP = 1/3
#: P1 on these boxes reproduces the exact fields: round-off (and the CG tolerance) only.
EXACT = 1e-10


def materials(E_nzsp: float = 60e9, nu_nzsp: float = 0.3, E_nvp: float = 90e9, nu_nvp: float = 0.3):
    return validate({"materials": {"sigma_e_nzsp": SIGMA_E, "sigma_s_nvp": SIGMA_S, "E_nzsp": E_nzsp,
                                   "nu_nzsp": nu_nzsp, "E_nvp": E_nvp, "nu_nvp": nu_nvp}}).materials


def same_on_every_rank(comm, props: EffectiveProperties) -> None:
    values = {k: v for k, v in props.to_dict().items() if k != "source"}
    assert all(other == values for other in comm.allgather(values))


@pytest.mark.parametrize(("periodic", "linear"), [(False, "iterative"), (True, "direct")])
def test_parallel_laminate(comm, periodic, linear):
    """Interface parallel to z (split at x = 1.25 µm): both phases connect the two z planes,
    φ = 1 − z/Lz in each, κ_eff = f σ exactly; E_z = f_1 E_1 + f_2 E_2 (equal ν: uniform strain,
    no lateral stress). NVP also covers part of z = 0, found without the separator tag."""
    domain = tagged_box(comm, (LX, LY, LZ), N, lambda m: m[:, 0] > X_SPLIT)
    mat = materials()
    p = effective_properties(domain, mat, periodic=periodic, linear=linear, source={"test": "parallel"})
    f_nvp = (LX - X_SPLIT) / LX
    f_nzsp = 1.0 - f_nvp
    assert p.kappa_ion == pytest.approx(f_nzsp * SIGMA_E, rel=EXACT)
    assert p.sigma_electronic == pytest.approx(f_nvp * SIGMA_S, rel=EXACT)
    assert p.tortuosity_ion(SIGMA_E) == pytest.approx(1.0, rel=EXACT)
    assert p.tortuosity_electronic(SIGMA_S) == pytest.approx(1.0, rel=EXACT)
    # in the plane: along x each phase touches one x face only (0), along y it is a uniform
    # strip (f σ): the lateral value is their mean
    assert p.kappa_ion_lateral == pytest.approx(0.5 * f_nzsp * SIGMA_E, rel=EXACT)
    assert p.sigma_electronic_lateral == pytest.approx(0.5 * f_nvp * SIGMA_S, rel=EXACT)
    lateral = p.source["cell_problems"]["sigma_electronic_lateral"]
    assert lateral["x"]["value"] == 0.0 and not lateral["x"]["percolates"]
    assert (p.fraction_nzsp, p.fraction_nvp) == pytest.approx((f_nzsp, f_nvp), abs=1e-12)
    assert abs(p.porosity) < 1e-12
    assert p.interface_area_density == pytest.approx(LY * LZ / (LX * LY * LZ), rel=1e-12)
    assert p.diffusion_length == pytest.approx((LX - X_SPLIT) * LY * LZ / (LY * LZ), rel=1e-12)
    assert p.collector_nvp_fraction == pytest.approx(f_nvp, rel=1e-12)
    assert p.separator_nzsp_fraction == pytest.approx(f_nzsp, rel=1e-12)
    assert p.young_modulus_z == pytest.approx(f_nzsp * mat.E_nzsp + f_nvp * mat.E_nvp, rel=1e-8)
    cells = p.source["cell_problems"]
    assert p.source["test"] == "parallel" and p.source["box_um"] == pytest.approx([2.0, 1.0, 1.5])
    for key in ("kappa_ion", "sigma_electronic"):
        assert cells[key]["current_reaction_rel_diff"] < 1e-9  # the reaction equals the energy form
        assert cells[key]["floating_dofs"] == 0
    assert cells["young_modulus_z"]["free_rigid_modes"] == 3  # x, y translations, rotation about z
    same_on_every_rank(comm, p)
    # JSON round trip of the container (what the electrode model reads)
    assert EffectiveProperties.from_json(json.dumps(p.to_dict())) == p


def test_series_laminate(comm):
    """Interface normal to z (NZSP below z = 1 µm, NVP above): neither phase reaches both z
    planes, so neither conducts through (0, no solve); the separator is all NZSP, the
    collector all NVP. E_z = 1 / (f_1/E_1 + f_2/E_2) exactly when ν_1/E_1 = ν_2/E_2 (the layers
    contract alike: uniform σ_zz, no interface stress). The one-sided conductivity of a layer of
    thickness h with the source in it is σ Lz / h (P1: within O(h²), checked loosely here)."""
    domain = layered_box(comm, (LX, LY, LZ), (4, 2, 6), z_interface=Z_SPLIT)  # 2 cells across NVP
    mat = materials(E_nzsp=60e9, nu_nzsp=0.2, E_nvp=90e9, nu_nvp=0.3)
    p = effective_properties(domain, mat)
    f_nzsp, f_nvp = Z_SPLIT / LZ, (LZ - Z_SPLIT) / LZ
    assert p.kappa_ion == 0.0 and p.sigma_electronic == 0.0
    # in the plane both layers are slabs of uniform cross-section: f σ along x and along y
    assert p.kappa_ion_lateral == pytest.approx(f_nzsp * SIGMA_E, rel=EXACT)
    assert p.sigma_electronic_lateral == pytest.approx(f_nvp * SIGMA_S, rel=EXACT)
    cells = p.source["cell_problems"]
    assert not cells["kappa_ion"]["percolates"] and not cells["sigma_electronic"]["percolates"]
    assert (p.fraction_nzsp, p.fraction_nvp) == pytest.approx((f_nzsp, f_nvp), abs=1e-12)
    assert p.interface_area_density == pytest.approx(1.0 / LZ, rel=1e-12)
    assert p.diffusion_length == pytest.approx(LZ - Z_SPLIT, rel=1e-12)
    assert p.separator_nzsp_fraction == pytest.approx(1.0, rel=1e-12)
    assert p.collector_nvp_fraction == pytest.approx(1.0, rel=1e-12)
    assert p.young_modulus_z == pytest.approx(1.0 / (f_nzsp / mat.E_nzsp + f_nvp / mat.E_nvp), rel=1e-8)
    # NZSP has 4 cell layers across its thickness, NVP 2. The z-only piecewise-linear functions
    # are a subspace of the tet P1 space, so κ_h lies between the exact value (the P1 energy is
    # below the exact one) and the 1D P1 value, where ⟨φ⟩ is the trapezoid rule of the exact
    # quadratic: ⟨φ⟩_1D = ⟨φ⟩ (1 − 1/(4 m²)) with m cells across, κ_1D = κ / (1 − 1/(4 m²)).
    for key, sigma, h, m in (("kappa_ion", SIGMA_E, Z_SPLIT, 4),
                             ("sigma_electronic", SIGMA_S, LZ - Z_SPLIT, 2)):
        one_sided = cells[f"{key}_uniform_source"]["value"]
        exact = sigma * LZ / h
        assert exact * (1 - 1e-10) <= one_sided <= exact / (1.0 - 1.0 / (4 * m * m)) * (1 + 1e-10)
    same_on_every_rank(comm, p)


def test_floating_island_is_held_and_carries_no_current(comm):
    """NVP: a column x < 0.5 µm through the whole height, plus a block 1 < x < 1.5 µm,
    0.5 < z < 1 µm connected to neither z plane (a singular block without the connectivity
    pass). The block is held at φ = 0: σ_eff = f_column σ exactly, with or without periodic
    lateral faces (the column does not reach x = Lx). NZSP flows around the block: strictly
    below its Wiener bound f σ, and positive."""
    n = (8, 2, 6)

    def nvp(m):
        column = m[:, 0] < 0.5 * UM
        block = (m[:, 0] > 1.0 * UM) & (m[:, 0] < 1.5 * UM) & (m[:, 2] > 0.5 * UM) & (m[:, 2] < 1.0 * UM)
        return column | block

    domain = tagged_box(comm, (LX, LY, LZ), n, nvp)
    f_column = 0.5 * UM / LX
    f_block = 0.5 * UM * 0.5 * UM / (LX * LZ)
    for periodic in (False, True):
        p = effective_properties(domain, materials(), periodic=periodic, young_modulus=False,
                                 uniform_source=False)
        assert p.sigma_electronic == pytest.approx(f_column * SIGMA_S, rel=EXACT)
        assert p.fraction_nvp == pytest.approx(f_column + f_block, rel=1e-12)
        assert p.source["cell_problems"]["sigma_electronic"]["floating_dofs"] > 0
        f_nzsp = 1.0 - f_column - f_block
        assert 0.5 * f_nzsp * SIGMA_E < p.kappa_ion < (1 - 1e-3) * f_nzsp * SIGMA_E
        assert p.young_modulus_z is None
        same_on_every_rank(comm, p)


def test_uniform_source_conductivity_converges(comm):
    """Column of NVP through the whole height (x > 1.25 µm): the one-sided conductivity of a
    uniform cross-section equals f σ; P1 converges to it at second order from above."""
    errors = []
    for nz in (3, 6, 12):
        domain = tagged_box(comm, (LX, LY, LZ), (8, 2, nz), lambda m: m[:, 0] > X_SPLIT)
        value, info = conductivity_uniform_source(domain, "NVP", SIGMA_S)
        errors.append(value / ((LX - X_SPLIT) / LX * SIGMA_S) - 1.0)
        assert info["floating_dofs"] == 0
    assert all(0.0 < e < 0.5 * (1.0 / nz) ** 2 for e, nz in zip(errors, (3, 6, 12), strict=True)), errors
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(rates > 1.9), (errors, rates)


def test_generated_periodic_rve(comm, mpi_tmp_path):
    """A small periodic infiltrated RVE (5 µm, coarse): the ionic tortuosity exceeds 1, the
    fractions are those of the mesh provenance, the interface area density is the OCC one within
    the faceting error, the separator is all NZSP and no NVP reaches it (so σ_electronic is 0 and
    the one-sided value is reported), every NVP node is reached through the periodic faces."""
    case = validate({"case": {"name": "eff"},
                     "geometry": {"kind": "infiltrated", "box": [5.0, 5.0, 5.0], "periodic": True, "seed": 2},
                     "mesh": {"size_max": 1.2, "refinement": 0.7, "elements_across_layer": 1,
                              "directory": str(mpi_tmp_path)}})
    domain, msh = load_domain(case, comm)
    record = json.loads(msh.with_suffix(".json").read_text())
    mat = case.materials
    p = effective_properties(domain, mat, periodic=True, source={"mesh": msh.name, "seed": 2})
    measured = record["measured"]
    assert p.fraction_nzsp == pytest.approx(measured["mesh_volume_fractions"]["NZSP"], rel=1e-9)
    assert p.fraction_nvp == pytest.approx(measured["mesh_volume_fractions"]["NVP"], rel=1e-9)
    assert p.porosity == pytest.approx(measured["mesh_volume_fractions"]["pore"], rel=1e-7)
    occ = measured["interface_area_per_volume"]["interface_nvp_nzsp"] / UM  # 1/µm -> 1/m
    assert p.interface_area_density == pytest.approx(occ, rel=0.05)  # faceted spheres
    assert p.diffusion_length == pytest.approx(p.fraction_nvp / p.interface_area_density, rel=1e-12)
    tau = p.tortuosity_ion(mat.sigma_e_nzsp)
    assert 0.0 < p.kappa_ion < p.fraction_nzsp * mat.sigma_e_nzsp and tau > 1.0
    assert p.separator_nzsp_fraction == pytest.approx(1.0, rel=1e-12)
    assert 0.0 < p.collector_nvp_fraction < 1.0
    cells = p.source["cell_problems"]
    assert p.sigma_electronic == 0.0 and cells["sigma_electronic"]["area_min"] == 0.0
    electronic = cells["sigma_electronic_uniform_source"]
    assert 0.0 < electronic["value"] < mat.sigma_s_nvp
    assert electronic["floating_dofs"] == 0 and electronic["unpaired_lateral_nodes"] == 0
    assert cells["kappa_ion"]["current_reaction_rel_diff"] < 1e-8
    assert p.young_modulus_z is not None
    e_voigt = p.fraction_nzsp * mat.E_nzsp + p.fraction_nvp * mat.E_nvp
    assert 0.5 * e_voigt < p.young_modulus_z < e_voigt
    same_on_every_rank(comm, p)
    if comm.rank == 0:
        tau_el = p.fraction_nvp * mat.sigma_s_nvp / electronic["value"]
        print(f"RVE 5 µm: tau_ion = {tau:.4f}, one-sided tau_el = {tau_el:.4f}, "
              f"E_z = {p.young_modulus_z:.4g} Pa")
