"""Images that no one here made (issue 16): porespy microstructures, meshed and cycled.

``tests/data/porespy-two-phase.npy`` (a dense NVP | NZSP composite) and
``tests/data/porespy-three-phase.npy`` (NVP grains and pores in NZSP), 48³ voxels each, come from
porespy's generators (``blobs``, ``overlapping_spheres``); ``scripts/make_porespy_images.py``
records the generator calls, seeds and versions, and the SHA-256 below pins the files. Their
labels are the files' own (mapped with ``image_labels``), not the mesher's codes.

The mesh test (pure gmsh, serial) meshes each whole image; the run test (serial and under
``mpiexec -n 2``) meshes a 24³ crop down-sampled twice on rank 0, as ``fem-electrode run`` does,
and cycles it once.
Expected values are the files' own label counts, not taken from the code under test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from test_image_mesh import _mesh, _read, check_tags_and_conformity
from test_image_run import check_cycle, image_run_case, mesh_record

from fem_electrode.run import simulation

DATA = Path(__file__).resolve().parent / "data"
#: name -> (file, label of each phase in the file, SHA-256 of the file).
IMAGES = {
    "two-phase": ("porespy-two-phase.npy", {"NZSP": 0, "NVP": 1},
                  "26c1eb48adf0ef6e57f202f3c739ef1f98fa7e456f00bf17962d9bdc54d2baef"),
    "three-phase": ("porespy-three-phase.npy", {"pore": 0, "NVP": 1, "NZSP": 2},
                    "9d4fc1b2d683591087f3bbb7c9600c6d556672081bdb10b0876242e2ef69e82f"),
}
#: Voxel edge given to the images (µm; porespy's images have none).
VOXEL = 0.1
#: Mesh and (cleaned) image volume fractions may differ by this much per phase: the 1 vol% that
#: the generated kinds' meshes are held to (tests/test_geometry_mesh.py). Smoothing keeps the
#: volume of features of several voxels and shrinks those of one or two (measured here: at most
#: 0.44 vol%, NVP of the three-phase image; down-sampled twice, where many pores are a few voxels,
#: the same image loses 3 vol% of pore, see docs/images.md).
FRACTION_TOL = 0.01
#: The run cycles this crop (file voxels [start, stop) per axis) to stay short.
CROP = [0, 24, 0, 24, 0, 24]
#: ... down-sampled by this factor (12³ voxels of 0.2 µm).
DOWNSAMPLE = 2


def _image(name: str) -> tuple[Path, dict[str, int]]:
    """The file of ``name`` and its labels, after checking that it is the recorded file."""
    file, labels, sha = IMAGES[name]
    path = DATA / file
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, f"{path} is not the recorded porespy image"
    return path, labels


@pytest.mark.serial
@pytest.mark.parametrize("name", list(IMAGES))
def test_porespy_image_meshes_tagged_with_the_image_fractions(tmp_path, name):
    """Pure gmsh. The whole image: its phase fractions before the cleanup are the file's label
    counts; every NVP | NZSP face is tagged interface_nvp_nzsp and no other is; the mesh is
    conforming; mesh and cleaned image fractions agree within FRACTION_TOL; the quality is
    positive; where the image resolves an NVP layer (three-phase), 2 or more elements across it."""
    path, labels = _image(name)
    array = np.load(path)
    msh, rec = _mesh(tmp_path, array, VOXEL, name=name, image_labels=labels)
    m = rec["measured"]
    before = rec["resolved"]["image_before_cleanup"]["volume_fractions"]
    for phase, label in labels.items():
        assert before[phase] == pytest.approx(np.count_nonzero(array == label) / array.size, abs=1e-12)
    check_tags_and_conformity(_read(msh))
    assert m["interface_conformity"]["conforming"] == m["interface_conformity"]["facets"] > 0
    image, mesh = m["volume_fractions"], m["mesh_volume_fractions"]
    errors = {phase: abs(mesh[phase] - image[phase]) for phase in ("NZSP", "NVP", "pore")}
    layer = m["layer_resolution"]
    print(f"{name}: fractions image / mesh "
          + ", ".join(f"{k} {image[k]:.4f} / {mesh[k]:.4f}" for k in errors)
          + f"; isolated NVP {m['connectivity']['NVP']['isolated_volume_fraction']:.4f} (removed); "
          f"{m['elements']['tetrahedra']} tets, min quality {m['quality']['min']:.3f}; layer "
          f"{layer and layer['min_elements_across']}; {rec['timings_s']}")
    assert max(errors.values()) < FRACTION_TOL, errors
    assert m["quality"]["min"] > 0.0
    assert rec["resolved"]["surface"]["degenerate_check"]["degenerate"] == 0
    if "pore" in labels:
        assert layer["min_elements_across"] is None or layer["min_elements_across"] >= 2
    else:
        assert "pore_wall_nvp" not in m["interface_area_per_volume"]


@pytest.mark.parametrize("name", list(IMAGES))
def test_porespy_image_runs_a_galvanostatic_cycle(comm, mpi_tmp_path, name):
    """DOLFINx (serial and under mpiexec): a 24³ crop of the image down-sampled twice, meshed by the
    run on rank 0, cycles once at 2 C (tests/test_image_run.py: conservation, capacities, the NVP
    volume of the mesh record)."""
    path, labels = _image(name)
    case = image_run_case(path, mpi_tmp_path, labels, name=name, image_voxel_size=[VOXEL] * 3,
                          image_crop=CROP, image_downsample=DOWNSAMPLE)
    result = simulation.run(case, mpi_tmp_path / "run", comm=comm)
    rec = mesh_record(comm, mpi_tmp_path, name)
    m = result.metrics
    print(f"{name}: charge {m.get('capacity_charge_mAh_per_g', float('nan')):.2f} mAh/g, discharge "
          f"{m.get('capacity_discharge_mAh_per_g', float('nan')):.2f} mAh/g, {m.get('steps')} steps, "
          f"{rec['measured']['elements']['tetrahedra']} tets")
    check_cycle(result, rec)
    assert rec["resolved"]["image"]["crop"] == [[0, 24]] * 3 and rec["resolved"]["image"]["shape"] == [12] * 3
