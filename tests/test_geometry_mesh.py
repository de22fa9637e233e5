"""gmsh meshes of every geometry kind: fractions, tags, conformity, layer resolution,
determinism, robustness over seeds, failure handling and the ``mesh`` command.

Most tests are pure gmsh, with no MPI involved: they are marked ``serial`` and say so. The
command test at the end runs on every rank (rank 0 builds, the others wait).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gmsh
import numpy as np
import pytest

from fem_electrode import cli, geometry, tags
from fem_electrode.config import validate
from fem_electrode.geometry import GeometryError, measure
from fem_electrode.geometry.session import gmsh_session

#: Small, coarse cases keep each build to a few seconds.
SMALL_BOX = [5.0, 5.0, 5.0]
COARSE = {"size_max": 1.2}
#: Even coarser, for tests that only ask whether meshing works or repeats (sizes x 2).
ROUGH = {"refinement": 0.5, "elements_across_layer": 1}
#: A tiny co-sintered case for the failure-handling tests (few spheres: fast booleans).
TINY = {"kind": "cosintered", "box": [3.0, 3.0, 3.0], "pore_radius_mean": 0.5, "pore_radius_min": 0.3,
        "pore_radius_max": 0.7, "residual_pore_radius": 0.3}
#: Measured fractions must be this close (absolute) to the targets (issue: 1 vol%).
FRACTION_TOL = 0.01


def _case(name: str = "rve", mesh: dict | None = None, **geometry):
    return validate({"case": {"name": name},
                     "geometry": {"box": SMALL_BOX, **geometry},
                     "mesh": {**COARSE, **(mesh or {})}})


def _build(case, out: Path) -> dict:
    msh, js = geometry.build_mesh(case, out)
    assert msh.is_file() and js.is_file()
    return json.loads(js.read_text())


def _read_msh(path: Path) -> measure.MeshData:
    """Independent read-back of a written mesh (not the in-session data)."""
    with gmsh_session():
        gmsh.open(str(path))
        return measure.read_mesh()


def _faces_of(tets: np.ndarray) -> dict[tuple[int, ...], int]:
    counts: dict[tuple[int, ...], int] = {}
    for tet in tets:
        for drop in range(4):
            key = tuple(sorted(np.delete(tet, drop).tolist()))
            counts[key] = counts.get(key, 0) + 1
    return counts


def _check_conformal(data: measure.MeshData) -> None:
    nvp, nzsp = _faces_of(data.cells["NVP"]), _faces_of(data.cells["NZSP"])
    for tri in data.facets["interface_nvp_nzsp"]:
        key = tuple(sorted(tri.tolist()))
        assert nvp.get(key) == 1 and nzsp.get(key) == 1, f"interface facet {key} is not NVP|NZSP"


@pytest.fixture(scope="module")
def infiltrated(tmp_path_factory):
    out = tmp_path_factory.mktemp("infiltrated")
    return out, _build(_case("inf", seed=1), out)


@pytest.mark.serial
def test_infiltrated_fractions_tags_conformity_layer(infiltrated):
    """Pure gmsh, no MPI involved."""
    out, rec = infiltrated
    m = rec["measured"]
    for phase, target in (("NZSP", 0.80), ("NVP", 0.155), ("pore", 0.045)):
        assert m["volume_fractions"][phase] == pytest.approx(target, abs=FRACTION_TOL)
        assert m["mesh_volume_fractions"][phase] == pytest.approx(target, abs=2 * FRACTION_TOL)
    data = _read_msh(out / "inf.msh")
    assert set(data.cells) == {"NZSP", "NVP"}
    assert {"separator", "current_collector", "interface_nvp_nzsp", "pore_wall_nvp", "lateral"} <= set(
        data.facets)
    for name, tag in rec["physical_groups"]["facets"].items():
        assert tags.facet_tag(name) == tag
    _check_conformal(data)
    assert m["interface_conformity"]["conforming"] == m["interface_conformity"]["facets"] > 0
    wanted = rec["parameters"]["mesh"]["elements_across_layer"]
    assert m["min_elements_across_layer"] >= wanted
    assert measure.elements_across(data, "NVP", "pore_wall_nvp", "interface_nvp_nzsp") >= wanted
    assert m["elements"]["tetrahedra"] == sum(len(c) for c in data.cells.values())
    assert 0 < m["quality"]["min"] <= m["quality"]["mean"] <= 1
    assert m["pore_clusters"]["infiltrated"] >= 1
    assert m["interface_area_per_volume"]["interface_nvp_nzsp"] > 0
    assert rec["versions"]["gmsh"] == gmsh.__version__


@pytest.mark.serial
def test_deterministic_for_a_seed_and_seeds_differ(tmp_path):
    """Pure gmsh, no MPI involved."""
    first = _build(_case("inf", seed=1, mesh=ROUGH), tmp_path / "first")
    again = _build(_case("inf", seed=1, mesh=ROUGH), tmp_path / "again")
    other = _build(_case("inf", seed=2, mesh=ROUGH), tmp_path / "other")
    assert again["measured"]["elements"] == first["measured"]["elements"]
    assert again["measured"]["volume_fractions"] == first["measured"]["volume_fractions"]
    assert other["measured"]["elements"]["tetrahedra"] != first["measured"]["elements"]["tetrahedra"]


@pytest.mark.serial
def test_cosintered_fractions_and_tags(tmp_path):
    """Pure gmsh, no MPI involved."""
    rec = _build(_case("cos", kind="cosintered", seed=3), tmp_path)
    m = rec["measured"]
    for phase, target in (("NZSP", 0.80), ("NVP", 0.155), ("pore", 0.045)):
        assert m["volume_fractions"][phase] == pytest.approx(target, abs=FRACTION_TOL)
    data = _read_msh(tmp_path / "cos.msh")
    assert {"interface_nvp_nzsp", "pore_wall_nzsp", "separator", "current_collector", "lateral"} <= set(
        data.facets)
    _check_conformal(data)
    assert m["min_elements_across_layer"] is None  # grains, no layer
    assert rec["resolved"]["nvp_clusters"]["grains_wired"] == rec["resolved"]["grains"]


@pytest.mark.serial
def test_isolated_pores_stay_empty(tmp_path):
    """Pure gmsh, no MPI involved."""
    rec = _build(_case("iso", seed=4, pore_connectivity=0.3, layer_thickness=0.3), tmp_path)
    m = rec["measured"]
    assert m["pore_clusters"]["isolated"] >= 1
    assert m["interface_area_per_volume"]["pore_wall_nzsp"] > 0  # bare walls of isolated pores
    assert m["min_elements_across_layer"] >= 2


#: Seeds of the robustness test, and how many retries (new sub-seeds) they may need in all.
ROBUST_SEEDS = range(11, 19)
ROBUST_RETRIES = 2


@pytest.mark.serial
@pytest.mark.parametrize("kind", ["infiltrated", "cosintered"])
def test_many_seeds_all_mesh(kind, tmp_path):
    """Pure gmsh, no MPI involved. Near-tangency rejection and the fuse checks must make
    every seed mesh, almost always on the first attempt."""
    attempts = []
    for seed in ROBUST_SEEDS:
        rec = _build(_case(f"{kind}{seed}", kind=kind, seed=seed, mesh=ROUGH), tmp_path)
        attempts.append(rec["attempt"])
        assert rec["measured"]["volume_fractions"]["NVP"] == pytest.approx(0.155, abs=FRACTION_TOL)
        assert rec["measured"]["interface_conformity"]["conforming"] == \
            rec["measured"]["interface_conformity"]["facets"]
    assert sum(attempts) <= ROBUST_RETRIES, f"retries per seed: {attempts}"


def _ball(r: float) -> float:
    return 4.0 / 3.0 * np.pi * r**3


@pytest.mark.serial
@pytest.mark.parametrize(
    ("geometry", "nvp", "void", "facets", "across"),
    [
        ({"kind": "sphere_inclusion", "inclusion_radius": 1.5}, _ball(1.5), 0.0,
         {"interface_nvp_nzsp", "separator", "current_collector", "lateral"}, None),
        ({"kind": "sphere_inclusion", "inclusion_radius": 1.0, "outer_radius": 3.0}, _ball(1.0), 0.0,
         {"interface_nvp_nzsp", "outer"}, None),
        ({"kind": "coated_cavity", "inclusion_radius": 1.5, "coating_thickness": 0.4},
         _ball(1.5) - _ball(1.1), _ball(1.1),
         {"interface_nvp_nzsp", "pore_wall_nvp", "separator", "current_collector", "lateral"}, 2),
        ({"kind": "coated_cavity", "inclusion_radius": 1.5, "coating_thickness": 0.4, "outer_radius": 2.5},
         _ball(1.5) - _ball(1.1), _ball(1.1), {"interface_nvp_nzsp", "pore_wall_nvp", "outer"}, 2),
        ({"kind": "film", "film_thickness": 1.0}, 25.0, 0.0,
         {"interface_nvp_nzsp", "separator", "current_collector", "lateral"}, 2),
        ({"kind": "column", "box": [1.0, 1.0, 5.0], "film_thickness": 2.0}, 2.0, 0.0,
         {"interface_nvp_nzsp", "separator", "current_collector", "lateral"}, 2),
    ],
)
def test_canonical_shapes(tmp_path, geometry, nvp, void, facets, across):
    """Pure gmsh, no MPI involved. OCC volumes equal the closed forms; tags by name."""
    rec = _build(_case("shape", **geometry), tmp_path)
    m, ref = rec["measured"], rec["resolved"]["reference_volume"]
    assert m["volume_fractions"]["NVP"] * ref == pytest.approx(nvp, rel=1e-6)
    assert m["volume_fractions"]["pore"] * ref == pytest.approx(void, abs=1e-6 * ref)
    assert m["mesh_volume_fractions"]["NVP"] * ref == pytest.approx(nvp, rel=0.08)  # faceted spheres
    assert set(rec["physical_groups"]["facets"]) == facets
    assert set(rec["physical_groups"]["cells"]) == {"NZSP", "NVP"}
    assert m["min_elements_across_layer"] == across or m["min_elements_across_layer"] >= across
    _check_conformal(_read_msh(tmp_path / "shape.msh"))


def _no_outputs(folder: Path) -> None:
    left = [p.name for p in folder.iterdir()] if folder.exists() else []
    assert not left, f"files left behind after a failure: {left}"


@pytest.mark.serial
def test_failure_is_retried_then_reported_and_leaves_no_files(tmp_path, monkeypatch):
    """Pure gmsh, no MPI involved."""
    calls = []

    def broken(dim=3):
        calls.append(dim)
        raise Exception("the 1D mesh seems not to be forming a closed loop")  # as gmsh raises

    monkeypatch.setattr(gmsh.model.mesh, "generate", broken)
    case = _case("broken", seed=1, mesh={"max_retries": 2}, **TINY)
    with pytest.raises(GeometryError, match=r"(?s)failed after 3 attempt\(s\).*closed loop"):
        geometry.build_mesh(case, tmp_path / "out")
    assert len(calls) == 3
    _no_outputs(tmp_path / "out")


@pytest.mark.serial
def test_failed_provenance_write_leaves_no_files(tmp_path, monkeypatch):
    """Pure gmsh, no MPI involved. A crash while writing leaves neither file behind."""
    from fem_electrode.util import atomic

    def crash(target, data):
        raise OSError("disk full")

    monkeypatch.setattr(atomic, "write_json", crash)
    with pytest.raises(OSError, match="disk full"):
        geometry.build_mesh(_case("crash", kind="film"), tmp_path / "out")
    _no_outputs(tmp_path / "out")


@pytest.mark.serial
def test_a_failed_attempt_is_retried_with_a_new_sub_seed(tmp_path, monkeypatch):
    """Pure gmsh, no MPI involved."""
    real = gmsh.model.mesh.generate
    calls = []

    def flaky(dim=3):
        calls.append(dim)
        if len(calls) == 1:
            raise Exception("Invalid boundary mesh (overlapping facets)")
        real(dim)

    monkeypatch.setattr(gmsh.model.mesh, "generate", flaky)
    rec = _build(_case("flaky", seed=1, **TINY), tmp_path)
    assert rec["attempt"] == 1 and rec["sub_seed"] == [1, 1]


@pytest.mark.serial
def test_mesh_command_writes_files_and_summary(tmp_path):
    """Pure gmsh, no MPI involved: the installed command in a subprocess."""
    case = tmp_path / "small.toml"
    case.write_text('[case]\nname = "small"\n[geometry]\nkind = "coated_cavity"\nbox = [4.0, 4.0, 4.0]\n'
                    "inclusion_radius = 1.2\ncoating_thickness = 0.4\n")
    exe = Path(sys.executable).with_name("fem-electrode")
    proc = subprocess.run([str(exe), "mesh", str(case), "-o", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "m" / "small.msh").is_file() and (tmp_path / "m" / "small.json").is_file()
    assert "fractions:" in proc.stdout and "NVP" in proc.stdout and "tets" in proc.stdout


@pytest.mark.serial
def test_mesh_command_bad_input_exit_code_and_no_files(tmp_path):
    """Pure gmsh, no MPI involved: bad input found with geometry knowledge -> exit 2."""
    case = tmp_path / "bad.toml"
    case.write_text('[case]\nname = "bad"\n[geometry]\nbox = [5.0, 5.0, 5.0]\nnvp_fraction = 0.195\n')
    exe = Path(sys.executable).with_name("fem-electrode")
    proc = subprocess.run([str(exe), "mesh", str(case), "-o", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "geometry.nvp_fraction" in proc.stderr
    _no_outputs(tmp_path / "m")


def test_mesh_command_builds_on_rank_zero(comm, mpi_tmp_path):
    """Under mpiexec: rank 0 builds, every rank returns 0 and sees the files afterwards."""
    case = mpi_tmp_path / "film.toml"
    if comm.rank == 0:
        case.write_text('[case]\nname = "film"\n[geometry]\nkind = "film"\nbox = [2.0, 2.0, 3.0]\n')
    comm.Barrier()
    code = cli.main(["-q", "mesh", str(case), "-o", str(mpi_tmp_path / "out")])
    assert code == 0
    assert (mpi_tmp_path / "out" / "film.msh").is_file()
    assert json.loads((mpi_tmp_path / "out" / "film.json").read_text())["kind"] == "film"
