"""Periodic microstructures (``geometry.periodic = true``): placement with periodic images,
wrapped voxel estimates, clearances against images, and meshes whose faces x = Lx, y = Ly
are the faces x = 0, y = 0 translated, node for node and triangle for triangle.

The numpy tests are deterministic and also run under ``mpiexec``; the mesh tests are pure
gmsh, with no MPI involved: they are marked ``serial`` and say so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gmsh
import numpy as np
import pytest
from scipy.spatial import cKDTree

from fem_electrode import geometry
from fem_electrode.config import ConfigError, validate
from fem_electrode.geometry import MeshCheckError, measure, occ
from fem_electrode.geometry.clearance import Clearance
from fem_electrode.geometry.placement import _overlaps
from fem_electrode.geometry.session import gmsh_session
from fem_electrode.geometry.voxels import Box, VoxelGrid

#: Small boxes and coarse meshes: each build takes a few seconds.
BOX = [4.0, 4.0, 4.0]
COARSE = {"size_max": 1.2}
#: Co-sintered grains and pores scaled to the 4 µm box.
COSINTERED = {"kind": "cosintered", "pore_radius_mean": 0.6, "pore_radius_min": 0.4,
              "pore_radius_max": 0.8, "residual_pore_radius": 0.35}
#: Seeds whose placements join clusters through the lateral faces (checked below).
SEEDS = {"infiltrated": 2, "cosintered": 3}
#: As in test_geometry_mesh: measured fractions within 1 vol% of the targets.
FRACTION_TOL = 0.01
#: Node matching tolerance (what the periodic mechanics uses): 1e-6 x box size.
MATCH_TOL = 1e-6 * max(BOX)


def _case(name: str, **geometry_keys):
    return validate({"case": {"name": name},
                     "geometry": {"box": BOX, "periodic": True, **geometry_keys},
                     "mesh": COARSE})


def _build(case, out: Path) -> dict:
    _, js = geometry.build_mesh(case, out)
    return json.loads(js.read_text())


def _read_msh(path: Path) -> measure.MeshData:
    """Independent read-back of the written mesh."""
    with gmsh_session():
        gmsh.open(str(path))
        return measure.read_mesh()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(case, record, mesh read back) per kind; built once."""
    out = tmp_path_factory.mktemp("periodic")
    cases = {"infiltrated": _case("inf", seed=SEEDS["infiltrated"]),
             "cosintered": _case("cos", seed=SEEDS["cosintered"], **COSINTERED),
             "film": _case("film", kind="film", film_thickness=1.0)}
    result = {}
    for kind, case in cases.items():
        rec = _build(case, out)
        rec["mesh_path"] = str(out / rec["mesh_file"])
        result[kind] = (case, rec, _read_msh(out / rec["mesh_file"]))
    return result


def _boundary_faces(data: measure.MeshData) -> dict[tuple[int, ...], str]:
    """Sorted node triple -> phase, for the faces of exactly one tetrahedron."""
    count: dict[tuple[int, ...], int] = {}
    phase_of: dict[tuple[int, ...], str] = {}
    for phase, tets in data.cells.items():
        for tet in tets:
            for drop in range(4):
                key = tuple(sorted(np.delete(tet, drop).tolist()))
                count[key] = count.get(key, 0) + 1
                phase_of[key] = phase
    return {k: phase_of[k] for k, n in count.items() if n == 1}


def _face_nodes(data: measure.MeshData, axis: int, value: float) -> np.ndarray:
    used = np.unique(np.concatenate([c.ravel() for c in data.cells.values()]))
    return used[np.abs(data.coords[used, axis] - value) < MATCH_TOL]


# -- numpy: images, voxels, overlaps, clearances ---------------------------------------------------

def test_images_cover_the_lateral_faces_only():
    box = Box((4.0, 4.0, 4.0), periodic=True)
    c = np.array([[0.3, 3.8, 2.0], [2.0, 2.0, 3.9]])
    centers, radii, origin = box.images(c, np.array([0.5, 0.5]))
    # sphere 0 crosses x = 0 and y = Ly: itself + x, y and corner images; sphere 1 (crossing
    # z = Lz only) has none: z is never periodic
    assert origin.tolist() == [0, 1, 0, 0, 0]
    assert {tuple(np.round(p, 6)) for p in centers[2:]} == {(4.3, 3.8, 2.0), (0.3, -0.2, 2.0),
                                                            (4.3, -0.2, 2.0)}
    flat = Box((4.0, 4.0, 4.0))
    assert len(flat.images(c, np.array([0.5, 0.5]))[0]) == 2


def test_voxel_volume_wraps_around_the_lateral_faces():
    """A sphere across the corner x = y = 0 counts its whole volume in a periodic grid."""
    grid = VoxelGrid(Box((4.0, 4.0, 4.0), periodic=True), 0.5)
    voxel = np.prod(grid.spacing)
    exact = 4.0 / 3.0 * np.pi
    mask = grid.empty_mask()
    assert grid.add_to_mask(mask, np.array([0.1, 3.9, 2.0]), 1.0) * voxel == pytest.approx(exact, rel=0.01)
    assert grid.count_new(mask, np.array([0.1, 3.9, 2.0]), 1.0).sum() == 0
    depth = grid.depth(np.array([[0.1, 3.9, 2.0]]), np.array([1.0]))
    assert np.count_nonzero(depth > 0) == np.count_nonzero(mask)
    flat = VoxelGrid(Box((4.0, 4.0, 4.0)), 0.5)
    cut = flat.add_to_mask(flat.empty_mask(), np.array([0.1, 3.9, 2.0]), 1.0) * voxel
    assert cut < 0.5 * exact  # without periodicity only the part in the box counts


def test_overlap_through_a_lateral_face_connects():
    """Spheres near x = 0 and x = Lx overlap only through the periodic image."""
    c = np.array([3.7, 2.0, 2.0])
    other = np.array([[0.4, 2.0, 2.0]])
    idx, clear = _overlaps(Box((4.0, 4.0, 4.0), periodic=True), c, 0.6, other, np.array([0.6]), 0.05)
    assert idx.tolist() == [0] and clear
    idx, clear = _overlaps(Box((4.0, 4.0, 4.0)), c, 0.6, other, np.array([0.6]), 0.05)
    assert idx.tolist() == [] and clear


def test_clearance_holds_against_images():
    """Near-tangent to the image of a sphere across x = 0: rejected only when periodic."""
    for periodic, expected in ((True, False), (False, True)):
        family = Clearance(Box((4.0, 4.0, 4.0), periodic=periodic), 0.05)
        family.add(np.array([0.5, 2.0, 2.0]), 0.8)
        # |(3.2 - 4, ...) - (0.5, ...)| = 1.3 = 0.8 + 0.5 - 0.0: externally tangent to the image
        assert family.accepts(np.array([3.2, 2.0, 2.0]), 0.5) is expected


@pytest.mark.parametrize("kind", ["infiltrated", "cosintered"])
def test_periodic_placement_joins_clusters_through_the_faces(kind):
    """Placement alone (no gmsh): centres lie in one period, spheres cross x = 0 and y = 0,
    the target is met, and spheres that overlap only through a periodic image (inside
    0 < z < Lz) are in one cluster."""
    extra = COSINTERED if kind == "cosintered" else {}
    p = geometry.plan(_case(kind, seed=SEEDS[kind], **extra))
    placed = p.placed if kind == "infiltrated" else p.grains
    c, r = placed.centers, placed.radii
    assert np.all((c[:, :2] >= 0) & (c[:, :2] < 4.0))
    for axis in (0, 1):  # something crosses x = 0 or x = Lx, and y = 0 or y = Ly
        assert np.any((c[:, axis] < r) | (c[:, axis] > 4.0 - r))
    assert abs(placed.fraction - (0.20 if kind == "infiltrated" else 0.155)) <= 0.005
    d_direct = np.linalg.norm(c[:, None] - c[None], axis=2)
    linked = 0
    for s in p.box.lateral_shifts()[1:]:
        v = c[None] + s - c[:, None]  # i -> image of j
        d = np.linalg.norm(v, axis=2)
        through = (d < r[:, None] + r[None]) & (d_direct >= r[:, None] + r[None])
        for i, j in zip(*np.nonzero(through), strict=True):
            # a point of the overlap lens: on the axis, in the plane of the rim circle
            a = (d[i, j] ** 2 + r[i] ** 2 - r[j] ** 2) / (2 * d[i, j])
            q = c[i] + a * v[i, j] / d[i, j]
            if 0.05 < q[2] < 4.0 - 0.05:  # lens in the box: placement must have joined them
                assert placed.cluster[i] == placed.cluster[j]
                linked += 1
    assert linked > 0


def test_periodic_with_a_centred_sphere_is_rejected():
    for kind in ("sphere_inclusion", "coated_cavity"):
        with pytest.raises(ConfigError, match=f"periodic = true is not allowed with kind = '{kind}'.*"
                                              "allowed with kind = 'infiltrated'"):
            validate({"geometry": {"kind": kind, "periodic": True}})
    with pytest.raises(ConfigError, match="periodic = 'yes'.*true or false"):
        validate({"geometry": {"periodic": "yes"}})
    assert validate({"geometry": {}}).geometry.periodic is False


# -- gmsh: meshes ------------------------------------------------------------------------------------

@pytest.mark.serial
@pytest.mark.parametrize("kind", ["infiltrated", "cosintered", "film"])
def test_face_nodes_and_triangles_match_across_the_box(built, kind):
    """Pure gmsh, no MPI involved. Nodes of x = Lx are the x = 0 nodes translated (edges and
    corners included), likewise y; every boundary triangle on x = Lx is a translated x = 0
    triangle of the same phase (so pores and grains continue across the face)."""
    case, rec, data = built[kind]
    assert rec["periodic"] is True and rec["parameters"]["geometry"]["periodic"] is True
    faces = _boundary_faces(data)
    crossing = {}
    for axis, length in ((0, BOX[0]), (1, BOX[1])):
        lo, hi = _face_nodes(data, axis, 0.0), _face_nodes(data, axis, length)
        assert len(lo) == len(hi) > 0
        moved = data.coords[hi].copy()
        moved[:, axis] -= length
        dist, k = cKDTree(data.coords[lo]).query(moved)
        assert dist.max() < MATCH_TOL
        assert len(np.unique(k)) == len(lo)  # one to one
        partner = dict(zip(hi.tolist(), lo[k].tolist(), strict=True))
        corners = [p for p in data.coords[lo] if np.sum(np.isclose(p, 0.0) | np.isclose(p, BOX)) == 3]
        assert len(corners) == 4
        on_hi = {t: ph for t, ph in faces.items() if all(n in partner for n in t)}
        on_lo = {t: ph for t, ph in faces.items() if all(abs(data.coords[n, axis]) < MATCH_TOL for n in t)}
        assert len(on_hi) == len(on_lo) > 0
        for tri, phase in on_hi.items():
            assert on_lo.get(tuple(sorted(partner[n] for n in tri))) == phase
        crossing[axis] = {ph for ph in on_lo.values()}
    if kind != "film":
        # the NVP (layer on pore walls, or grains) reaches both lateral faces: something crosses
        assert crossing[0] == crossing[1] == {"NVP", "NZSP"}


@pytest.mark.serial
@pytest.mark.parametrize("kind", ["infiltrated", "cosintered"])
def test_spheres_cross_the_faces_and_fractions_reach_their_targets(built, kind):
    """Pure gmsh, no MPI involved."""
    case, rec, data = built[kind]
    p = geometry.plan(case, rec["attempt"])
    placed = p.placed if kind == "infiltrated" else p.grains
    c, r = placed.centers, placed.radii
    for axis in (0, 1):
        assert np.any(c[:, axis] < r) or np.any(c[:, axis] > BOX[axis] - r)
    m = rec["measured"]
    for phase, target in (("NZSP", 0.80), ("NVP", 0.155), ("pore", 0.045)):
        assert m["volume_fractions"][phase] == pytest.approx(target, abs=FRACTION_TOL)
        assert m["mesh_volume_fractions"][phase] == pytest.approx(target, abs=2 * FRACTION_TOL)
    assert m["interface_conformity"]["conforming"] == m["interface_conformity"]["facets"] > 0
    assert measure.periodic_mismatch(data, p.box) == {"x = 4": "", "y = 4": ""}
    if kind == "infiltrated":
        assert m["min_elements_across_layer"] >= rec["parameters"]["mesh"]["elements_across_layer"]


@pytest.mark.serial
def test_non_periodic_record_says_so(tmp_path):
    """Pure gmsh, no MPI involved."""
    case = validate({"case": {"name": "flat"}, "geometry": {"kind": "film", "box": BOX}, "mesh": COARSE})
    assert _build(case, tmp_path)["periodic"] is False


@pytest.mark.serial
def test_a_face_without_partner_is_named():
    """Pure gmsh, no MPI involved: a sphere cut by x = Lx only (no image at x = 0)."""
    box = Box((4.0, 4.0, 4.0), periodic=True)
    with gmsh_session():
        body = occ.subtract(occ.add_box(box), occ.add_spheres(np.array([[4.0, 2.0, 2.0]]),
                                                              np.array([0.7])), keep_tools=False)
        assert body
        gmsh.model.occ.synchronize()
        with pytest.raises(MeshCheckError, match="face x = 4 µm .* no translated partner on the face x = 0"):
            occ.set_periodic(box)


@pytest.mark.serial
def test_mesh_command_with_periodic_case_file(tmp_path):
    """Pure gmsh, no MPI involved: `fem-electrode mesh` on a case file with periodic = true."""
    case = tmp_path / "col.toml"
    case.write_text('[case]\nname = "col"\n[geometry]\nkind = "column"\nbox = [1.0, 1.0, 4.0]\n'
                    "film_thickness = 1.0\nperiodic = true\n")
    exe = Path(sys.executable).with_name("fem-electrode")
    proc = subprocess.run([str(exe), "mesh", str(case), "-o", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads((tmp_path / "m" / "col.json").read_text())
    assert rec["periodic"] is True
    data = _read_msh(tmp_path / "m" / "col.msh")
    assert measure.periodic_mismatch(data, Box((1.0, 1.0, 4.0), periodic=True)) == {"x = 1": "", "y = 1": ""}


@pytest.mark.serial
@pytest.mark.parametrize("kind", ["infiltrated", "cosintered"])
def test_the_mechanics_pairs_every_face_node(built, kind, tmp_path):
    """DOLFINx on one rank: the periodic mechanics (``periodicity.lateral_pairs``) finds a
    master for every node on x = Lx, y = Ly of the written mesh, for P1 and P2 spaces."""
    from mpi4py import MPI

    from fem_electrode.fem.domain import Domain
    from fem_electrode.fem.fenicsx import dolfinx
    from fem_electrode.fem.periodicity import lateral_pairs

    _, rec, data = built[kind]
    domain = Domain.from_msh(Path(rec["mesh_path"]), MPI.COMM_SELF)
    slaves = len(np.union1d(_face_nodes(data, 0, BOX[0]), _face_nodes(data, 1, BOX[1])))
    sizes = [lateral_pairs(dolfinx.fem.functionspace(domain.mesh, ("Lagrange", degree, (3,)))).size
             for degree in (1, 2)]  # raises PeriodicityError when a node has no master
    assert sizes[0] == slaves and sizes[1] > slaves  # P1: every node on a max face; P2: + edges
