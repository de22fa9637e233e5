"""``mesh.image_mesher = "tetgen"``: the image route's surfaces filled by TetGen (issue 16).

TetGen comes from the optional package ``tetgen`` (not a dependency): the tests that mesh skip
without it; the error naming the key is tested either way. Pure gmsh / numpy tests are marked
``serial``; the DOLFINx load runs serially and under ``mpiexec -n 2``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_image_mesh import _read, check_tags_and_conformity, synthetic

from mpi4py import MPI

from fem_electrode.config.loader import validate
from fem_electrode.geometry import build_mesh, measure


def _mesh(tmp_path: Path, array: np.ndarray, mesher: str, name: str = "img") -> tuple[Path, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{name}.npy"
    np.save(path, array)
    case = validate({"case": {"name": name},
                     "geometry": {"kind": "image", "image": str(path), "image_voxel_size": [0.1] * 3,
                                  "image_axis": "+2", "image_disconnected": "keep"},
                     "mesh": {"image_mesher": mesher}})
    msh, js = build_mesh(case, tmp_path / "out")
    return msh, json.loads(js.read_text())


def _sizes(data: measure.MeshData, image: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Per tetrahedron: the edge of the regular tetrahedron of its volume (µm) and the distance
    (voxels) from the centre of the voxel holding its centroid to the nearest voxel of another
    label or the box outside, less half a voxel (0.5 for a voxel on a surface)."""
    from scipy import ndimage

    tets = np.vstack(list(data.cells.values()))
    edge = np.cbrt(6.0 * np.sqrt(2.0) * measure.tet_volumes(data.coords, tets))
    depth = np.zeros(image.shape)
    for label in np.unique(image):
        inside = image == label
        depth[inside] = ndimage.distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1, 1:-1][inside] - 0.5
    voxel = np.clip((data.coords[tets].mean(axis=1) / h).astype(np.int64), 0, np.asarray(image.shape) - 1)
    return edge, depth[tuple(voxel.T)]


@pytest.mark.serial
def test_tetgen_mesh_is_tagged_conformal_and_graded(tmp_path):
    """Pure gmsh + TetGen, against HXT on the same image: the same tags and conformity checks;
    the same surfaces, so the same interface areas and volume fractions (to rounding); fewer
    tetrahedra, the elements far from every surface larger than those at them; no degenerate
    tetrahedron."""
    pytest.importorskip("tetgen")
    image = synthetic()
    hxt_msh, hxt = _mesh(tmp_path / "hxt", image, "hxt")
    msh, rec = _mesh(tmp_path / "tetgen", image, "tetgen")
    data = _read(msh)
    check_tags_and_conformity(data)
    m, h = rec["measured"], hxt["measured"]
    assert rec["resolved"]["surface"]["mesher"]["name"] == "tetgen"
    assert rec["resolved"]["surface"]["triangles"] == hxt["resolved"]["surface"]["triangles"]
    for name, area in h["interface_area_per_volume"].items():
        assert m["interface_area_per_volume"][name] == pytest.approx(area, rel=1e-9), name
    for name, frac in h["mesh_volume_fractions"].items():
        assert m["mesh_volume_fractions"][name] == pytest.approx(frac, abs=1e-9), name
    assert m["quality"]["min"] > 1e-3
    assert m["elements"]["tetrahedra"] < h["elements"]["tetrahedra"]
    # median element edge within a voxel of the surfaces and 3 voxels or more away from them: HXT
    # keeps about the voxel size (0.1 µm) everywhere (measured x1.1), TetGen grows the elements
    # away from the surfaces (measured x2.5), whose triangles stay of the voxel size
    growth = {}
    for mesher, mesh in (("tetgen", data), ("hxt", _read(hxt_msh))):
        edge, depth = _sizes(mesh, image, 0.1)
        near, far = np.median(edge[depth < 1.0]), np.median(edge[depth >= 3.0])
        print(f"{mesher}: median edge at the surfaces {near:.3f} µm, 3 voxels or more away {far:.3f} µm")
        assert near < 0.13
        growth[mesher] = far / near
    assert growth["tetgen"] > 2.0 > 1.5 > growth["hxt"]
    print(f"tetgen {m['elements']['tetrahedra']} tets, quality {m['quality']}; hxt "
          f"{h['elements']['tetrahedra']} tets, quality {h['quality']}")


@pytest.mark.serial
def test_missing_tetgen_names_the_key_and_how_to_install(tmp_path, monkeypatch):
    """Pure Python: without the package, ``mesh`` stops before gmsh with a ValueError that names
    the key, its value and the install command."""
    import fem_electrode.geometry as geometry

    def no_gmsh(*args, **kwargs):
        raise AssertionError("gmsh was opened")

    monkeypatch.setattr(geometry, "gmsh_session", no_gmsh)
    monkeypatch.setitem(sys.modules, "tetgen", None)  # import tetgen -> ImportError
    with pytest.raises(ValueError) as info:
        _mesh(tmp_path, synthetic(12), "tetgen")
    msg = str(info.value)
    assert "mesh.image_mesher = 'tetgen'" in msg and "pip install 'tetgen==0.8.4'" in msg and "'hxt'" in msg


def test_tetgen_mesh_loads_in_dolfinx(comm, mpi_tmp_path):
    """DOLFINx (serial and under mpiexec): the TetGen image mesh reads with Domain.from_msh, with
    both phases, the interface and the box facets, and the NVP volume of the mesh record."""
    pytest.importorskip("tetgen")
    from fem_electrode.fem.domain import Domain

    path = nvp = None
    if comm.rank == 0:
        msh, rec = _mesh(mpi_tmp_path, synthetic(16, seed=5), "tetgen")
        path = str(msh)
        nvp = rec["measured"]["mesh_volume_fractions"]["NVP"] * rec["resolved"]["reference_volume"]
    path, nvp = comm.bcast((path, nvp), root=0)
    domain = Domain.from_msh(path, comm)
    for name in ("interface_nvp_nzsp", "separator", "current_collector"):
        assert comm.allreduce(len(domain.facets(name)), op=MPI.SUM) > 0
    assert domain.volume("NVP") == pytest.approx(nvp * 1e-18, rel=1e-9)
