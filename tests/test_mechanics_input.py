"""Mechanics bad input (clear errors before meshing), the P1 locking warning, and the
``fem-electrode mechanics`` command end to end. Runs serially and on 2 ranks."""

from __future__ import annotations

import json
import logging
import re

import pytest
from builders import Mechanics
from layered import layered_box

from fem_electrode import cli
from fem_electrode.config import ConfigError, validate
from fem_electrode.physics.elasticity import lame
from fem_electrode.problems.mechanics import NU_LOCKING_P1


@pytest.mark.parametrize(("key", "value", "message"), [
    ("E_nzsp", 0.0, "out of range; allowed: (0, inf]"),
    ("E_nvp", -80e9, "out of range; allowed: (0, inf]"),
    ("nu_nzsp", 0.5, "out of range; allowed: (-1, 0.5)"),
    ("nu_nvp", -1.0, "out of range; allowed: (-1, 0.5)"),
    ("strength_nvp", 0.0, "out of range; allowed: (0, inf]"),
    ("strength_interface", -1.0, "out of range; allowed: (0, inf]"),
    ("toughness_interface", 0.0, "out of range; allowed: (0, inf]"),
])
def test_bad_material_is_a_config_error(key, value, message):
    with pytest.raises(ConfigError, match=rf"materials\.{key} = .*{re.escape(message)}"):
        validate({"materials": {key: value}})


def test_periodic_lateral_faces_need_a_periodic_geometry():
    with pytest.raises(ConfigError, match=r"lateral_bc = 'periodic' needs \[geometry\] periodic = true"):
        validate({"mechanics": {"lateral_bc": "periodic"}})
    assert validate({"mechanics": {"lateral_bc": "periodic"}, "geometry": {"periodic": True}})


def test_lame_rejects_bad_constants():
    with pytest.raises(ValueError, match="Young's modulus"):
        lame(0.0, 0.3)
    with pytest.raises(ValueError, match="Poisson ratio"):
        lame(1e9, 0.5)


def test_cli_bad_input_exits_2_before_meshing(comm, mpi_tmp_path):
    """Bad materials, or no filling given: exit code 2, neither mesh nor run folder created."""
    meshes, out = mpi_tmp_path / "meshes", mpi_tmp_path / "run"
    bad = mpi_tmp_path / "bad.toml"
    no_y = mpi_tmp_path / "no_y.toml"
    if comm.rank == 0:
        common = f'[geometry]\nkind = "film"\n[mesh]\ndirectory = "{meshes}"\n'
        bad.write_text(common + "[materials]\nnu_nvp = 0.5\n[mechanics]\nprescribed_y = 0.5\n")
        no_y.write_text(common)
    comm.Barrier()
    assert cli.main(["-q", "mechanics", str(bad), "-o", str(out)]) == cli.EXIT_BAD_INPUT
    assert cli.main(["-q", "mechanics", str(no_y), "-o", str(out)]) == cli.EXIT_BAD_INPUT
    assert cli.main(["-q", "mechanics", str(no_y), "--y", "1.5", "-o", str(out)]) == cli.EXIT_BAD_INPUT
    assert not meshes.exists() and not out.exists()


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.parametrize(("degree", "warns"), [(1, True), (2, False)])
def test_near_incompressible_p1_warns_of_locking(comm, degree, warns):
    nu = 0.49
    assert nu > NU_LOCKING_P1
    case = validate({"materials": {"nu_nvp": nu}, "mechanics": {"degree": degree}})
    handler = _Records()
    logger = logging.getLogger("fem_electrode.mechanics")
    logger.addHandler(handler)
    try:
        mech = Mechanics(layered_box(comm, (1e-6, 1e-6, 2e-6), (1, 1, 2), z_interface=1e-6), case)
    finally:
        logger.removeHandler(handler)
    mech.destroy()
    assert any("locking" in m for m in handler.messages) == warns


def test_cli_mechanics_film(comm, mpi_tmp_path):
    """Meshes a film case (geometry layer), solves y = 0 and writes the run folder."""
    meshes, out = mpi_tmp_path / "meshes", mpi_tmp_path / "run"
    case_file = mpi_tmp_path / "film.toml"
    if comm.rank == 0:
        case_file.write_text(
            '[case]\nname = "film"\n[geometry]\nkind = "film"\nbox = [2.0, 2.0, 2.5]\nfilm_thickness = 0.5\n'
            f'[mesh]\nsize_max = 0.5\ndirectory = "{meshes}"\n[mechanics]\nprescribed_y = 0.0\n')
    comm.Barrier()
    assert cli.main(["-q", "mechanics", str(case_file), "-o", str(out)]) == cli.EXIT_OK
    if comm.rank == 0:
        data = json.loads((out / "metrics.json").read_text())
        mech = data["mechanics"]
        case = validate({})
        mat = case.materials
        eps = -mat.omega_nvp * mat.c_max / 3.0
        film = -mat.E_nvp * eps / (1 - mat.nu_nvp)
        assert mech["phases"]["NVP"]["max_principal"]["p95"] == pytest.approx(film, rel=0.02)
        assert mech["thin_film"]["h"] == pytest.approx(0.5e-6)
        assert mech["thin_film"]["h_source"] == "mesh provenance"
        assert mech["y_mean"] == 0.0 and data["solver"]["mechanics_reason"].startswith("CONVERGED")
        for name in ("case.toml", "stress_samples.npz", "fields/mesh.xdmf", "fields/displacement.xdmf",
                     "fields/von_mises.xdmf", "fields/interface_normal_traction.xdmf"):
            assert (out / name).is_file(), name
