"""``geometry.kind = "image"``: labelled 3D images -> conformal tagged meshes (issue 16).

Pure gmsh / numpy tests are marked ``serial``: they touch no MPI and would only build the
same mesh twice under ``mpiexec``. The DOLFINx smoke test at the end runs both ways.
Expected values are closed forms written here, not taken from the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import gmsh
import numpy as np
import pytest

from mpi4py import MPI

from fem_electrode.config import ConfigError
from fem_electrode.config.loader import load_case, validate
from fem_electrode.geometry import build_mesh, image, measure, plan
from fem_electrode.geometry.session import gmsh_session

#: The coated cavity of the round trip: a cube of edge L (µm) with, at its centre, an NVP
#: shell (outer radius R, inner radius r) around a spherical pore.
L, R, RP = 4.8, 1.8, 1.2
#: Voxel sizes of the round trip (µm): 16, 32 and 64 voxels along the cube edge.
VOXELS = (0.3, 0.15, 0.075)


def _ball(r: float) -> float:
    return 4.0 / 3.0 * np.pi * r**3


def coated_cavity(h: float) -> np.ndarray:
    """Rasterised at voxel centres: pore 0, NZSP 1, NVP 2."""
    n = int(round(L / h))
    x = (np.arange(n) + 0.5) * h - L / 2
    r = np.sqrt(x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2)
    out = np.ones((n, n, n), dtype=np.uint8)
    out[r < R] = 2
    out[r < RP] = 0
    return out


def _case(path: Path, h: float | list[float], name: str = "img", **geometry):
    g = {"kind": "image", "image": str(path), "image_voxel_size": h if isinstance(h, list) else [h] * 3,
         "image_axis": "+2", **geometry}
    return validate({"case": {"name": name}, "geometry": g})


def _mesh(tmp_path: Path, array: np.ndarray, h, name: str = "img", **geometry) -> tuple[Path, dict]:
    path = tmp_path / f"{name}.npy"
    np.save(path, array)
    msh, js = build_mesh(_case(path, h, name, **geometry), tmp_path / "out")
    return msh, json.loads(js.read_text())


def _read(msh: Path) -> measure.MeshData:
    with gmsh_session():
        gmsh.open(str(msh))
        return measure.read_mesh()


@pytest.mark.serial
def test_round_trip_coated_cavity_converges(tmp_path):
    """Pure gmsh. At the finest voxel size volume fractions within 0.5 vol% of the closed forms and
    NVP|NZSP and NVP|pore areas within 3 %; the errors fall with the voxel size."""
    volume = L**3
    exact = {"NVP": (_ball(R) - _ball(RP)) / volume, "pore": _ball(RP) / volume}
    exact["NZSP"] = 1.0 - exact["NVP"] - exact["pore"]
    area = {"interface_nvp_nzsp": 4 * np.pi * R**2 / volume, "pore_wall_nvp": 4 * np.pi * RP**2 / volume}
    errors = []
    for h in VOXELS:
        _, rec = _mesh(tmp_path, coated_cavity(h), h, name=f"cavity{int(1000 * h)}",
                       image_disconnected="keep")
        m = rec["measured"]
        frac = max(abs(m["mesh_volume_fractions"][k] - exact[k]) for k in exact)
        rel = {k: m["interface_area_per_volume"][k] / a - 1.0 for k, a in area.items()}
        errors.append((frac, rel))
        print(f"h = {h} µm: fraction error {100 * frac:.3f} vol%, area errors "
              + ", ".join(f"{k} {100 * v:+.2f} %" for k, v in rel.items())
              + f"; {m['elements']['tetrahedra']} tets, quality min {m['quality']['min']:.3f}, "
              f"{rec['timings_s']}")
        assert m["interface_conformity"]["conforming"] == m["interface_conformity"]["facets"] > 0
    assert errors[-1][0] < 0.005
    assert errors[0][0] > errors[-1][0]
    for name in area:
        finest = abs(errors[-1][1][name])
        assert finest < 0.03, name
        assert abs(errors[0][1][name]) > abs(errors[1][1][name]) > finest, name


def synthetic(n: int = 28, seed: int = 3) -> np.ndarray:
    """Random overlapping pores in NZSP, coated with NVP two voxels thick above z = n / 3 (below,
    bare pore walls): several regions of every phase."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    free = np.ones((n, n, n), dtype=bool)
    free[tuple(rng.integers(0, n, size=(3, 12)))] = False
    pore = ndimage.distance_transform_edt(free) < 4.5
    depth = ndimage.distance_transform_edt(pore)
    out = np.ones((n, n, n), dtype=np.uint8)
    out[pore] = 0
    coat = pore & (depth <= 2.0)
    coat[:, :, : n // 3] = False
    out[coat] = 2
    return out


def _faces(tets: np.ndarray) -> np.ndarray:
    f = np.vstack([tets[:, [1, 2, 3]], tets[:, [0, 2, 3]], tets[:, [0, 1, 3]], tets[:, [0, 1, 2]]])
    return np.sort(f, axis=1)


def _as_set(tri: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(t) for t in np.sort(tri, axis=1).tolist()}


def check_tags_and_conformity(data: measure.MeshData) -> None:
    """Every face between an NVP and an NZSP tet is in interface_nvp_nzsp and no face of another
    group is; no face is shared by three tets; the faces of one tet only are exactly those of the
    other (boundary) groups (no hanging node, nothing untagged)."""
    nvp, nzsp = _faces(data.cells["NVP"]), _faces(data.cells["NZSP"])
    uniq, counts = np.unique(np.vstack([nvp, nzsp]), axis=0, return_counts=True)
    assert counts.max() == 2  # conforming: no face shared by three tets
    between = _as_set(nvp) & _as_set(nzsp)
    assert between == _as_set(data.facets["interface_nvp_nzsp"])
    for name, tri in data.facets.items():
        if name != "interface_nvp_nzsp":
            assert not (_as_set(tri) & between), name
    boundary = set().union(*(_as_set(t) for name, t in data.facets.items() if name != "interface_nvp_nzsp"))
    assert _as_set(uniq[counts == 1]) == boundary


@pytest.mark.serial
def test_tags_and_conformity_on_a_three_phase_image(tmp_path):
    """Pure gmsh. Every face between an NVP and an NZSP tet is in interface_nvp_nzsp and no
    other face is; every face is shared by at most two tets and those of one tet lie on a
    tagged boundary (no hanging node, nothing untagged); positive minimum quality."""
    msh, rec = _mesh(tmp_path, synthetic(), 0.1, image_disconnected="keep")
    data = _read(msh)
    check_tags_and_conformity(data)
    q = rec["measured"]["quality"]
    print(f"min quality ({q['measure']}) {q['min']:.3f}, mean {q['mean']:.3f}; "
          f"{rec['measured']['elements']}")
    assert q["min"] > 0.0
    assert set(data.facets) >= {"separator", "current_collector", "lateral", "interface_nvp_nzsp",
                                "pore_wall_nvp", "pore_wall_nzsp"}
    im, me = rec["measured"]["volume_fractions"], rec["measured"]["mesh_volume_fractions"]
    assert all(abs(im[k] - me[k]) < 0.01 for k in ("NZSP", "NVP", "pore"))
    assert len(rec["resolved"]["image"]["sha256"]) == 64


def islands() -> np.ndarray:
    """20³: NZSP with a pore cube holding an NZSP island (no ion path), an NVP slab on the
    collector (z = top) and an NVP cube inside the NZSP (no electron path)."""
    a = np.ones((20, 20, 20), dtype=np.uint8)
    a[5:15, 5:15, 5:15] = 0
    a[8:12, 8:12, 8:12] = 1
    a[:, :, 17:] = 2
    a[2:4, 2:4, 2:4] = 2
    return a


@pytest.mark.serial
def test_connectivity_counted_and_removed_or_kept(tmp_path):
    """Pure numpy + gmsh: one NVP region without an electron path (8 voxels), one NZSP region
    without an ion path (64 voxels); removed (made pore) or kept as the key says."""
    total = 20**3
    for action, nvp_voxels, nzsp_voxels in (("remove", 1200, 8000 - 1200 - 8 - 1000),
                                           ("keep", 1208, 8000 - 1200 - 8 - 1000 + 64)):
        path = tmp_path / "islands.npy"
        np.save(path, islands())
        p = plan(_case(path, 0.1, image_disconnected=action))
        conn = p.info["connectivity"]
        assert conn["NVP"]["regions"] == 2 and conn["NVP"]["isolated_regions"] == 1
        assert conn["NVP"]["isolated_voxels"] == 8
        assert conn["NZSP"]["regions"] == 2 and conn["NZSP"]["isolated_regions"] == 1
        assert conn["NZSP"]["isolated_voxels"] == 64
        assert int(np.count_nonzero(p.codes == 2)) == nvp_voxels
        assert int(np.count_nonzero(p.codes == 1)) == nzsp_voxels
    assert total == p.codes.size


@pytest.mark.serial
def test_formats_crop_downsample_and_axis(tmp_path):
    """Pure numpy: .npy, multi-page TIFF, a folder of TIFF slices and raw give the same image;
    crop, down-sampling and the axis choice act as documented."""
    import tifffile

    a = islands().astype(np.uint16)
    np.save(tmp_path / "a.npy", a)
    tifffile.imwrite(tmp_path / "a.tif", a)
    (tmp_path / "slices").mkdir()
    for k in range(a.shape[0]):
        tifffile.imwrite(tmp_path / "slices" / f"s{k:03d}.tif", a[k])
    a.astype("<u2").tofile(tmp_path / "a.raw")
    ref = plan(_case(tmp_path / "a.npy", [0.1, 0.2, 0.3], image_disconnected="keep")).codes
    assert ref.shape == (20, 20, 20)
    for src, extra in ((tmp_path / "a.tif", {}), (tmp_path / "slices", {}),
                       (tmp_path / "a.raw", {"image_shape": [20, 20, 20], "image_dtype": "uint16"})):
        p = plan(_case(src, [0.1, 0.2, 0.3], image_disconnected="keep", **extra))
        assert np.array_equal(p.codes, ref), src
    p = plan(_case(tmp_path / "a.npy", [0.1, 0.2, 0.3], image_disconnected="keep",
                   image_crop=[0, 20, 0, 10, 0, 16], image_downsample=2, image_min_region=1))
    assert p.codes.shape == (10, 5, 8)
    assert np.allclose(p.box.lengths, (10 * 0.2, 5 * 0.4, 8 * 0.6))
    # axis "+0": file axis 0 becomes z; "-0": reversed, so the NVP slab (file axis 2 high)
    # stays on x, and the first file slice (axis 0 = 0) becomes the top (z = Lz)
    p = plan(_case(tmp_path / "a.npy", [0.1, 0.2, 0.3], image_axis="-0", image_disconnected="keep"))
    assert np.allclose(p.spacing, (0.2, 0.3, 0.1))
    assert np.array_equal(p.codes, np.transpose(a, (1, 2, 0))[:, :, ::-1].astype(np.uint8))


def _error(tmp_path, array=None, **geometry) -> str:
    path = geometry.pop("path", tmp_path / "e.npy")
    if array is not None:
        np.save(path, array)
    with pytest.raises((ValueError, ConfigError)) as info:
        build_mesh(_case(path, geometry.pop("h", 0.1), **geometry), tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return str(info.value)


@pytest.mark.serial
def test_bad_input_names_the_key_before_meshing(tmp_path, monkeypatch):
    """Pure numpy: bad images raise naming the key, before gmsh is opened (patched to fail)."""
    import fem_electrode.geometry as geometry

    def no_gmsh(*args, **kwargs):
        raise AssertionError("gmsh was opened for bad input")

    monkeypatch.setattr(geometry, "gmsh_session", no_gmsh)
    good = islands()
    assert "geometry.image " in _error(tmp_path, path=tmp_path / "missing.npy")
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    assert "geometry.image " in _error(tmp_path, path=tmp_path / "junk.npy")
    msg = _error(tmp_path, good, image_labels={"NZSP": 1, "NVP": 2, "pore": 5})
    assert "geometry.image_labels" in msg and "label(s) 0 (936 voxels)" in msg
    msg = _error(tmp_path, good, image_labels={"NZSP": 1, "NVP": 2})
    assert "geometry.image_labels" in msg and "label(s) 0 (936 voxels)" in msg
    dense = good.copy()
    dense[dense == 0] = 1
    msg = _error(tmp_path, dense)
    assert "geometry.image_labels" in msg and "no voxel of pore = 0" in msg
    no_nvp = good.copy()
    no_nvp[no_nvp == 2] = 1
    assert "NVP = 2" in _error(tmp_path, no_nvp)
    assert "geometry.image_max_memory" in _error(tmp_path, good, image_max_memory=1e-6)
    assert "geometry.image_crop" in _error(tmp_path, good, image_crop=[0, 30, 0, 20, 0, 20])
    assert "geometry.image " in _error(tmp_path, good.astype(np.float32))
    top_less = good.copy()
    top_less[:, :, 17:] = 1  # the only NVP left is the island: removed, nothing remains
    assert "no NVP voxel after removing" in _error(tmp_path, top_less)
    with pytest.raises(ConfigError) as info:
        validate({"geometry": {"kind": "image", "image": "x.npy", "image_voxel_size": [0.1, 0.0, 0.1]}})
    assert "geometry.image_voxel_size" in str(info.value)
    with pytest.raises(ConfigError) as info:
        validate({"geometry": {"kind": "image", "image": "x.npy", "image_voxel_size": [0.1, 0.1, 0.1],
                               "image_labels": {"NZSP": 1, "NVP": 2, "binder": 3}}})
    assert "geometry: image_labels" in str(info.value) and "'binder'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        validate({"geometry": {"kind": "image", "image": ""}})
    assert 'image = ""' in str(info.value) and "image_voxel_size" in str(info.value)


@pytest.mark.serial
def test_relative_image_path_is_relative_to_the_case_file(tmp_path):
    """Pure config: a relative image path resolves against the case file's folder."""
    (tmp_path / "sub").mkdir()
    case_file = tmp_path / "sub" / "case.toml"
    case_file.write_text('[geometry]\nkind = "image"\nimage = "data/img.npy"\n'
                         "image_voxel_size = [0.1, 0.1, 0.1]\n")
    case = load_case(case_file)
    assert Path(case.geometry.image) == (tmp_path / "sub" / "data" / "img.npy").resolve()


def test_image_mesh_loads_in_dolfinx(comm, mpi_tmp_path):
    """DOLFINx (serial and under mpiexec): the image mesh reads with Domain.from_msh, with
    both phases, the interface and the box facets, and the NVP volume of the mesh record."""
    from fem_electrode.fem.domain import Domain

    path = None
    if comm.rank == 0:
        _, rec = _mesh(mpi_tmp_path, synthetic(16, seed=5), 0.1, image_disconnected="remove")
        path = str(mpi_tmp_path / "out" / "img.msh")
        nvp = rec["measured"]["mesh_volume_fractions"]["NVP"] * rec["resolved"]["reference_volume"]
    else:
        nvp = None
    path, nvp = comm.bcast((path, nvp), root=0)
    domain = Domain.from_msh(path, comm)
    for name in ("interface_nvp_nzsp", "separator", "current_collector"):
        assert comm.allreduce(len(domain.facets(name)), op=MPI.SUM) > 0
    assert domain.volume("NVP") == pytest.approx(nvp * 1e-18, rel=1e-9)
    assert image.PHASE_NAMES  # the builder's phases are the registry's


@pytest.mark.serial
def test_specks_merged_into_their_surroundings(tmp_path):
    """Pure numpy: a one-voxel pore in the NZSP and a one-voxel NZSP grain on the separator face
    inside a pore (what smoothing turns into flat tetrahedra) take their neighbours' phase with
    the default image_min_region (8 voxels); image_min_region = 1 keeps them."""
    a = islands()
    a[2, 17, 8] = 0  # a pore voxel surrounded by NZSP
    a[12:16, 2:6, 0:3] = 0  # a pore pocket on the separator face ...
    a[13, 3, 0] = 1  # ... holding one NZSP voxel that touches the separator
    path = tmp_path / "specks.npy"
    np.save(path, a)
    p = plan(_case(path, 0.1, image_disconnected="keep"))
    assert p.info["specks"]["pore"] == {"regions": 1, "voxels": 1}
    assert p.info["specks"]["NZSP"] == {"regions": 1, "voxels": 1}
    assert p.codes[2, 17, 8] == 1 and p.codes[13, 3, 0] == 0
    expected = a.copy()
    expected[2, 17, 8], expected[13, 3, 0] = 1, 0
    assert np.array_equal(p.codes, expected)
    p = plan(_case(path, 0.1, image_disconnected="keep", image_min_region=1))
    assert np.array_equal(p.codes, a)


@pytest.mark.serial
def test_quality_check_reported(tmp_path):
    """Pure gmsh: the provenance records the degenerate-tetrahedra check and no tetrahedron is
    below its threshold."""
    _, rec = _mesh(tmp_path, synthetic(16, seed=5), 0.1)
    check = rec["resolved"]["surface"]["degenerate_check"]
    assert check["degenerate"] == 0
    assert rec["measured"]["quality"]["min"] == pytest.approx(check["min"])
    assert check["min"] >= check["threshold"]


@pytest.mark.serial
def test_edited_image_under_the_same_name_is_not_reused(tmp_path):
    """gmsh and the provenance check only (run.meshes imports DOLFINx but this touches no mesh of
    it, so it is serial): a mesh whose image file changed since it was built differs from the
    case in the image's SHA-256, so `run` rebuilds it and `--mesh` refuses it without --force-mesh;
    the unchanged image matches."""
    from fem_electrode.run.meshes import mesh_file_problems, provenance_differences

    msh, _ = _mesh(tmp_path, synthetic(12, seed=5), 0.1)
    js = msh.with_suffix(".json")
    case = _case(tmp_path / "img.npy", 0.1)
    assert provenance_differences(case, js) == []
    assert mesh_file_problems(msh, case, force=False) == []
    edited = synthetic(12, seed=5)
    edited[0, 0, 0] = 2 if edited[0, 0, 0] != 2 else 1  # same name, shape and labels, one voxel changed
    np.save(tmp_path / "img.npy", edited)
    differences = provenance_differences(case, js)
    assert differences and len(differences) == 1 and "geometry.image (sha256)" in differences[0]
    assert "changed since the mesh was built" in differences[0]
    assert any("sha256" in p and "--force-mesh" in p for p in mesh_file_problems(msh, case, force=False))
    assert mesh_file_problems(msh, case, force=True) == []
    (tmp_path / "img.npy").unlink()  # unreadable: a difference (the rebuild names the key), not a crash
    assert "cannot hash the image" in provenance_differences(case, js)[0]


def test_run_rebuilds_the_mesh_of_an_edited_image(comm, mpi_tmp_path):
    """DOLFINx (serial and under mpiexec): load_domain reuses the mesh of an unchanged image and
    rebuilds it when the image file under the same name changed (the NVP volume follows the
    new image)."""
    from fem_electrode.run.meshes import load_domain

    path = mpi_tmp_path / "img.npy"
    a = synthetic(12, seed=5)
    if comm.rank == 0:
        np.save(path, a)
    comm.Barrier()
    case = validate({"case": {"name": "img"}, "mesh": {"directory": str(mpi_tmp_path / "meshes")},
                     "geometry": {"kind": "image", "image": str(path), "image_voxel_size": [0.1] * 3,
                                  "image_axis": "+2", "image_min_region": 1}})
    domain, msh = load_domain(case, comm)
    first = domain.volume("NVP")
    stamp = msh.stat().st_mtime_ns if comm.rank == 0 else None
    domain, _ = load_domain(case, comm)  # unchanged: reused
    assert domain.volume("NVP") == pytest.approx(first, rel=1e-12)
    if comm.rank == 0:
        assert msh.stat().st_mtime_ns == stamp
        b = a.copy()
        b[:, :, -3:][b[:, :, -3:] == 1] = 2  # NZSP next to the collector becomes NVP
        np.save(path, b)
    comm.Barrier()
    domain, _ = load_domain(case, comm)
    assert domain.volume("NVP") > 1.1 * first


@pytest.mark.serial
def test_size_estimate_of_an_image_case_counts_its_voxels(tmp_path, examples):
    """Pure numpy + gmsh (run.estimate touches no DOLFINx): the estimate of an image case is
    TETS_PER_VOXEL per voxel after crop and down-sampling, read from the header (the box key is
    not used), within a factor 1.5 of the tetrahedra of the shipped example's mesh at
    downsample 2; an unreadable image is a ConfigError naming the key."""
    from fem_electrode.run.estimate import TETS_PER_VOXEL, estimate

    np.save(tmp_path / "a.npy", np.ones((30, 21, 24), dtype=np.uint8))
    case = _case(tmp_path / "a.npy", 0.1, image_crop=[0, 30, 0, 21, 4, 24], image_downsample=2)
    # crop: 30 x 21 x 20 voxels; down-sampled by 2: 15 x 10 x 10 (the odd 21st row is dropped)
    assert estimate(case).tetrahedra == pytest.approx(TETS_PER_VOXEL * 15 * 10 * 10)
    assert estimate(case, ranks=2).seconds_per_cycle == pytest.approx(0.5 * estimate(case).seconds_per_cycle)
    example = load_case(examples / "image.toml", overrides={"geometry": {"image_downsample": 2}})
    _, js = build_mesh(example, tmp_path / "out")
    actual = json.loads(js.read_text())["measured"]["elements"]["tetrahedra"]
    assert actual / 1.5 < estimate(example).tetrahedra < 1.5 * actual
    with pytest.raises(ConfigError, match="geometry.image = .*no such file"):
        estimate(_case(tmp_path / "missing.npy", 0.1))


#: 6³ voxels cut from the 200³ benchmark image down-sampled twice (labels pore 0, NZSP 1, NVP 2,
#: C order): a one-voxel NVP layer wraps a voxel edge between pore and NZSP; with plain Taubin
#: smoothing the layer's two faces there pass through each other and HXT fails ("a segment and
#: a facet intersect").
CROSSING_BLOCK = ("000000000000000022000221000211000211000000000000000022000222000211002211000000000000000022"
                  "000212002211022111222000222000222222222112222111221111112000211200221122221111111111111111"
                  "111200111222111112111111111111111111")


@pytest.mark.serial
def test_smoothing_undoes_crossing_faces_of_a_one_voxel_layer(tmp_path):
    """Pure numpy + gmsh: smoothing finds the crossing quad pair of CROSSING_BLOCK and moves it
    back (none is left, by the crossing test and by a brute-force test of every triangle edge
    against every triangle), and the block meshes at smoothing level 0 (not the stair-step
    fallback) with no degenerate tetrahedron."""
    from fem_electrode.geometry import surfacenets

    block = np.array([int(c) for c in CROSSING_BLOCK], dtype=np.uint8).reshape(6, 6, 6)
    s = surfacenets.extract(block, (0.1,) * 3, meshed=(1, 2))
    surfacenets.smooth(s, (0.1,) * 3)
    assert s.crossings >= 1
    assert not surfacenets.crossing_quads(s, surfacenets.edge_sharing_perpendicular(s)).any()
    tri = s.triangles
    edges = np.unique(np.sort(np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1), axis=0)
    ei, ti = (a.ravel() for a in np.meshgrid(np.arange(len(edges)), np.arange(len(tri)), indexing="ij"))
    e, t = edges[ei], tri[ti]
    p = s.points
    hits = surfacenets._segments_cross(p[e[:, 0]], p[e[:, 1]], p[t[:, 0]], p[t[:, 1]], p[t[:, 2]])
    assert not hits.any()
    _, rec = _mesh(tmp_path, block, 0.1, image_disconnected="keep", image_min_region=1)
    surface = rec["resolved"]["surface"]
    assert surface["smoothing_level"] == 0 and surface["crossings_undone"] >= 1
    assert surface["degenerate_check"]["degenerate"] == 0


@pytest.mark.serial
def test_quad_split_avoids_a_flat_triangle():
    """Pure numpy: a quad with three (nearly) collinear vertices, the outer two joined by the
    shorter diagonal, is split along the other diagonal (both triangles keep an area)."""
    from fem_electrode.geometry import surfacenets

    s = surfacenets.extract(np.ones((1, 1, 1), dtype=np.uint8), (1.0,) * 3, meshed=(1,))
    q = s.quads[0]
    p = s.points
    centre = 0.5 * (p[q[0]] + p[q[2]])
    p[q[3]] += 2.0 * (p[q[3]] - centre)  # q3 pulled out: diagonal 0-2 is the shorter one ...
    p[q[1]] = centre + 1e-9  # ... and q1 on it
    surfacenets._split_short_diagonal(s)
    assert np.linalg.norm(p[q[0]] - p[q[2]]) < np.linalg.norm(p[q[1]] - p[q[3]])
    assert s.areas()[:2].min() > 0.1


def coated_pores(n: int, coat: float, seed: int = 3) -> np.ndarray:
    """n³: overlapping pores (radius 6 voxels around 12 random centres) in NZSP, every pore wall
    lined with NVP ``coat`` voxels thick (pore voxels within ``coat`` of the wall; fewer voxels
    where the wall runs diagonally), empty pore inside."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    free = np.ones((n, n, n), dtype=bool)
    free[tuple(rng.integers(0, n, size=(3, 12)))] = False
    pore = ndimage.distance_transform_edt(free) < 6.0
    out = np.ones((n, n, n), dtype=np.uint8)
    out[pore] = 0
    out[pore & (ndimage.distance_transform_edt(pore) <= coat)] = 2
    return out


@pytest.mark.serial
def test_layer_thickness_of_a_flat_layer():
    """Pure numpy: NZSP | n NVP voxels | pore along x: the thickness at the interface corners is
    n voxels (anisotropic voxels: in µm along x, n hx); no NVP corner is inf."""
    for n in (1, 2, 3, 5):
        a = np.ones((6 + n + 4, 5, 4), dtype=np.uint8)
        a[6:6 + n] = 2
        a[6 + n:] = 0
        spacing = (0.1, 0.2, 0.3)
        t = image.layer_thickness(a, spacing)
        assert np.allclose(t[6], n * 0.1), n  # the interface plane x = 6 hx
        assert np.all(np.isinf(t[:6])) and np.all(np.isinf(t[6 + n + 1:]))


@pytest.mark.serial
@pytest.mark.parametrize("coat", [3, 4])
def test_thin_layers_have_two_elements_across(tmp_path, coat):
    """Pure gmsh: NVP layers 3 and 4 voxels thick (seed 3: left to itself, HXT joined the two faces
    of the 3-voxel layer by one edge at a node) have 2 or more elements across at every node of
    the interface where the image resolves the layer (>= 3 voxels); a 1-voxel layer is reported
    as not resolved (no node counted, 0 or 1 element across)."""
    _, rec = _mesh(tmp_path, coated_pores(32, coat), 0.1, image_disconnected="keep")
    layer, m = rec["measured"]["layer_resolution"], rec["measured"]
    print(f"coat {coat}: {layer}; layer points {rec['resolved']['surface']['layer_points']}, "
          f"{m['elements']['tetrahedra']} tets, min quality {m['quality']['min']:.3f}")
    assert layer["resolved_nodes"] > 0.5 * layer["interface_nodes"]
    assert layer["min_elements_across"] >= 2
    assert rec["resolved"]["surface"]["layer_points"] > 0 and rec["measured"]["quality"]["min"] > 0.0
    _, rec = _mesh(tmp_path, coated_pores(32, 1), 0.1, name="one", image_disconnected="keep")
    thin = rec["measured"]["layer_resolution"]
    assert thin["resolved_nodes"] == 0 and thin["min_elements_across"] is None
    assert thin["by_thickness_voxels"]["1"]["nodes"] == thin["interface_nodes"]
    assert thin["by_thickness_voxels"]["1"]["min_elements"] <= 1
