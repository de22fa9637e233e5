"""A run on an image microstructure (``geometry.kind = "image"``, issue 16): a three-phase image
made here is meshed by the run itself (rank 0, as ``fem-electrode run`` does) and cycled once at
2 C. Serial and under ``mpiexec -n 2``. Expected values are closed forms of the image written
here: the NVP volume and mass, the 1 C current, the projected area.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fem_electrode.config import validate
from fem_electrode.run import simulation

#: Image size (voxels along x, y, z) and voxel edge (µm).
SHAPE, H = (12, 12, 16), 0.25
#: A square pore channel of CHANNEL x CHANNEL voxels from z = FLOOR up to the collector face,
#: its walls and floor lined with NVP COAT voxels thick; empty pore inside; NZSP elsewhere.
CHANNEL, FLOOR, COAT = 7, 4, 2
#: NVP theoretical capacity (mAh/g) and density (kg/m³): the [materials] defaults.
CAPACITY, DENSITY = 117.6, 3156.0
#: Coulombs per mAh and seconds per hour.
COULOMB_PER_MAH, HOUR = 3.6, 3600.0


def channel_image() -> np.ndarray:
    """Labels pore 0, NZSP 1, NVP 2 (axes x, y, z; z = 0 the separator)."""
    out = np.ones(SHAPE, dtype=np.uint8)
    a = (SHAPE[0] - CHANNEL) // 2
    out[a:a + CHANNEL, a:a + CHANNEL, FLOOR:] = 2
    out[a + COAT:a + CHANNEL - COAT, a + COAT:a + CHANNEL - COAT, FLOOR + COAT:] = 0
    return out


def nvp_voxels() -> int:
    """NVP voxels of :func:`channel_image`, counted from its construction."""
    core = (CHANNEL - 2 * COAT) ** 2 * (SHAPE[2] - FLOOR - COAT)
    return CHANNEL**2 * (SHAPE[2] - FLOOR) - core


def image_run_case(image: Path, out: Path, labels: dict[str, int], name: str = "image-run", **geometry):
    """A case that meshes ``image`` (voxels of H µm, z = array axis 2) into ``out/meshes`` and
    cycles it once at 2 C with loose step tolerances, no mechanics and no field output."""
    return validate({
        "case": {"name": name},
        "geometry": {"kind": "image", "image": str(image), "image_voxel_size": [H, H, H], "image_axis": "+2",
                     "image_labels": labels, **geometry},
        "mesh": {"directory": str(out / "meshes")},
        "mechanics": {"coupling": "off"},
        "protocol": {"c_rate": 2.0, "cycles": 1, "tol_voltage": 2e-3, "tol_concentration": 0.02,
                     "output_interval": 1e5},
        "solver": {"linear": "direct"},
        "output": {"fields": "none"},
    })


def check_cycle(result, rec: dict) -> None:
    """What every completed image cycle must show: status, charge and sodium conservation,
    capacities within (half of, all of) the theoretical one, and the NVP volume, mass and 1 C
    current of the mesh record ``rec`` (its box and mesh NVP fraction)."""
    assert result.status == "completed", result.reason
    m = result.metrics
    cell = m["cell"]
    volume = rec["measured"]["mesh_volume_fractions"]["NVP"] * rec["resolved"]["reference_volume"] * 1e-18
    assert cell["volume_nvp_m3"] == pytest.approx(volume, rel=1e-9)
    assert cell["mass_nvp_kg"] == pytest.approx(DENSITY * cell["volume_nvp_m3"], rel=1e-12)
    mass_g = 1e3 * cell["mass_nvp_kg"]
    assert cell["current_1C_A"] == pytest.approx(mass_g * CAPACITY * COULOMB_PER_MAH / HOUR, rel=1e-12)
    lx, ly, _ = rec["resolved"]["box"]
    assert cell["projected_area_m2"] == pytest.approx(lx * ly * 1e-12, rel=1e-9)
    assert cell["collector_area_nvp_m2"] > 0.0 and cell["interface_area_m2"] > 0.0
    assert m["conservation"]["charge"] < 1e-8 and m["conservation"]["sodium"] < 1e-8
    assert 0.5 * CAPACITY < m["capacity_charge_mAh_per_g"] <= CAPACITY
    assert 0.5 < m["coulombic_efficiency"] <= 1.0 + 1e-9


def mesh_record(comm, out: Path, name: str = "image-run") -> dict:
    """The provenance record of the mesh a run built in ``out/meshes`` (read on rank 0, shared)."""
    rec = json.loads((out / "meshes" / f"{name}.json").read_text()) if comm.rank == 0 else None
    return comm.bcast(rec, root=0)


def test_image_case_runs_a_galvanostatic_cycle(comm, mpi_tmp_path):
    path = mpi_tmp_path / "channel.npy"
    if comm.rank == 0:
        np.save(path, channel_image())
    comm.Barrier()
    case = image_run_case(path, mpi_tmp_path, {"NZSP": 1, "NVP": 2, "pore": 0})
    result = simulation.run(case, mpi_tmp_path / "run", comm=comm)
    rec = mesh_record(comm, mpi_tmp_path)
    check_cycle(result, rec)
    m = result.metrics
    cell = m["cell"]
    print(f"charge {m['capacity_charge_mAh_per_g']:.2f} mAh/g, "
          f"discharge {m['capacity_discharge_mAh_per_g']:.2f} mAh/g, {m['steps']} steps; "
          f"NVP {cell['volume_nvp_m3']:.4g} m3 (image "
          f"{nvp_voxels() * (H * 1e-6) ** 3:.4g})")
    # closed forms of the image: the smoothed surface keeps its NVP volume to a few per cent,
    # the box is the image's
    assert cell["volume_nvp_m3"] == pytest.approx(nvp_voxels() * (H * 1e-6) ** 3, rel=0.05)
    assert cell["projected_area_m2"] == pytest.approx((SHAPE[0] * H * 1e-6) * (SHAPE[1] * H * 1e-6), rel=1e-9)
    assert rec["kind"] == "image"
    assert rec["measured"]["volume_fractions"]["NVP"] == pytest.approx(nvp_voxels() / np.prod(SHAPE))
    assert rec["measured"]["quality"]["min"] > 0.0
