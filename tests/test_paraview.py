"""Real ParaView (Debian's 5.11 ``pvpython``) on DOLFINx outputs: arrays, ranges, rendering.

The data are written here with DOLFINx exactly as the runs write them (``Domain.write_xdmf``
for mesh + tags, one XDMF file per function: DG0 von Mises on the whole mesh, P1 c on the NVP
submesh, DG0 tractions and P1 current on an interface surface mesh), with known values, so the
test checks that ParaView sees the same arrays and ranges. Then the generated ``views.py``
renders every view of both "electrodes" to PNG.

Skipped when ``pvpython`` is missing, except with ``CI=true`` (CI installs it through
``scripts/paraview-ci.sh``), where a missing ParaView fails. Serial: pvpython is a separate
program and the XDMF files are written once.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
from layered import layered_box

from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.report import pvrun, views

pytestmark = pytest.mark.serial

L = (2e-6, 2e-6, 4e-6)  # m
N = (4, 4, 8)
T_END = 3600.0


@pytest.fixture(scope="module", autouse=True)
def _need_pvpython():
    if pvrun.pvpython() is None:
        msg = "pvpython not found: install ParaView (scripts/paraview-ci.sh or apt-get install paraview)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg + " — CI=true, so this is an error")
        pytest.skip(msg)


def von_mises(x: np.ndarray, scale: float, t: float) -> np.ndarray:
    return scale * (1e8 + 1e9 * x[2] / L[2]) * (1.0 + t / T_END)


def concentration(x: np.ndarray, t: float) -> np.ndarray:
    return 13850.0 * (0.2 + 0.6 * x[0] / L[0]) * (1.0 - t / (2 * T_END))


def write_run(run_dir: Path, z_interface: float, scale: float) -> dict[str, tuple[float, float]]:
    """Mesh + fields of a fake electrode; returns the exact (min, max) of each array at T_END."""
    run_dir.mkdir(parents=True, exist_ok=True)
    comm = MPI.COMM_SELF
    d = layered_box(comm, L, N, z_interface)
    d.write_xdmf(run_dir / "mesh.xdmf")
    ranges = {}
    Q = dolfinx.fem.functionspace(d.mesh, ("DG", 0))
    vm = dolfinx.fem.Function(Q, name="von_mises")
    with dolfinx.io.XDMFFile(comm, str(run_dir / "von_mises.xdmf"), "w") as f:
        f.write_mesh(d.mesh)
        for t in (0.0, T_END):
            vm.interpolate(lambda x, t=t: von_mises(x, scale, t))
            f.write_function(vm, t)
    ranges["von_mises"] = (float(vm.x.array.min()), float(vm.x.array.max()))
    nvp = d.submesh("NVP").mesh
    c = dolfinx.fem.Function(dolfinx.fem.functionspace(nvp, ("Lagrange", 1)), name="c")
    with dolfinx.io.XDMFFile(comm, str(run_dir / "c_NVP.xdmf"), "w") as f:
        f.write_mesh(nvp)
        for t in (0.0, T_END):
            c.interpolate(lambda x, t=t: concentration(x, t))
            f.write_function(c, t)
    ranges["c"] = (float(c.x.array.min()), float(c.x.array.max()))
    surf, *_ = dolfinx.mesh.create_submesh(d.mesh, 2, d.facets("interface_nvp_nzsp"))
    cur = dolfinx.fem.Function(dolfinx.fem.functionspace(surf, ("Lagrange", 1)), name="interface_current")
    cur.interpolate(lambda x: 2.0 * np.sin(np.pi * x[0] / L[0]) - 0.5)
    tn = dolfinx.fem.Function(dolfinx.fem.functionspace(surf, ("DG", 0)), name="interface_normal_traction")
    tn.interpolate(lambda x: 3e8 * x[1] / L[1])
    for fn in (cur, tn):
        with dolfinx.io.XDMFFile(comm, str(run_dir / f"{fn.name}.xdmf"), "w") as f:
            f.write_mesh(surf)
            f.write_function(fn, T_END)
        ranges[fn.name] = (float(fn.x.array.min()), float(fn.x.array.max()))
    return ranges


@pytest.fixture(scope="module")
def electrodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("pv")
    expected = {"infiltrated": write_run(root / "infiltrated", 2e-6, 1.0),
                "cosintered": write_run(root / "cosintered", 1e-6, 2.0)}
    return root, expected


PROBE = textwrap.dedent("""
    import json, sys
    from paraview import servermanager as sm
    from paraview import simple as pv

    def leaves(obj):
        if obj.IsA("vtkMultiBlockDataSet"):
            for i in range(obj.GetNumberOfBlocks()):
                if obj.GetBlock(i) is not None:
                    yield from leaves(obj.GetBlock(i))
        else:
            yield obj

    out = {}
    for path in sys.argv[1:]:
        r = pv.Xdmf3ReaderT(FileName=[path])
        times = r.TimestepValues
        times = [times] if isinstance(times, (int, float)) else list(times or [])
        r.UpdatePipeline(max(times) if times else 0.0)
        info = {"times": times, "cells": 0, "arrays": {}}
        for block in leaves(sm.Fetch(r)):
            info["cells"] = max(info["cells"], block.GetNumberOfCells())
            for kind, data in (("cell", block.GetCellData()), ("point", block.GetPointData())):
                for k in range(data.GetNumberOfArrays()):
                    arr = data.GetArray(k)
                    info["arrays"][arr.GetName()] = [kind, *arr.GetRange()]
        out[path] = info
    print("JSON" + json.dumps(out))
""")


def test_pvpython_reads_arrays_and_ranges(electrodes, tmp_path):
    root, expected = electrodes
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    run = root / "infiltrated"
    files = {name: run / f"{name}.xdmf" for name in ("mesh", "von_mises", "c_NVP", "interface_current",
                                                     "interface_normal_traction")}
    proc = pvrun.run_script(probe, [str(p) for p in files.values()], timeout=300, render=False)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("JSON"))
    seen = json.loads(line[4:])
    mesh = seen[str(files["mesh"])]
    assert mesh["arrays"]["phases"][0] == "cell"
    assert mesh["arrays"]["phases"][1:] == [1.0, 2.0]  # NZSP and NVP tags
    assert set(mesh["arrays"]) >= {"phases", "surfaces"}
    for name, file_key, kind in (("von_mises", "von_mises", "cell"), ("c", "c_NVP", "point"),
                                 ("interface_current", "interface_current", "point"),
                                 ("interface_normal_traction", "interface_normal_traction", "cell")):
        info = seen[str(files[file_key])]
        assert info["arrays"][name][0] == kind, name
        assert info["arrays"][name][1:] == pytest.approx(expected["infiltrated"][name], rel=1e-6), name
    assert seen[str(files["von_mises"])]["times"] == [0.0, T_END]
    assert seen[str(files["von_mises"])]["cells"] == 6 * np.prod(N)
    assert seen[str(files["c_NVP"])]["cells"] == 6 * np.prod(N) // 2


def _nontrivial(png: Path) -> None:
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    assert img.shape[0] >= 400 and img.shape[1] >= 400
    colours = np.unique((img.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    not_white = np.mean(np.any(img < 0.95, axis=-1))
    assert len(colours) > 50, f"{png.name}: only {len(colours)} colours"
    assert 0.05 < not_white < 0.95, f"{png.name}: {100 * not_white:.0f} % of the picture is drawn"


def test_views_script_renders_both_electrodes(electrodes):
    root, expected = electrodes
    script = views.write_views(root, {
        "infiltrated": {"label": "infiltrated", "run_dir": root / "infiltrated", "time": T_END},
        "cosintered": {"label": "co-sintered", "run_dir": root / "cosintered", "time": T_END}})
    shots = root / "shots"
    pvrun.run_script(script, ["--screenshot", str(shots)], timeout=400)
    manifest = json.loads((shots / "views.json").read_text())
    for design in ("infiltrated", "cosintered"):
        for view in ("microstructure", "von_mises", "c", "interface_current"):
            _nontrivial(shots / manifest["files"][f"{design}_{view}"])
    # one colour range shared by both electrodes, in display units, within the data of both
    lo = min(e["von_mises"][0] for e in expected.values()) * 1e-6
    hi = max(e["von_mises"][1] for e in expected.values()) * 1e-6
    vm = manifest["ranges"]["von_mises"]
    assert lo * (1 - 1e-6) <= vm[0] < vm[1] <= hi * (1 + 1e-6)
    assert vm[1] > 0.5 * hi  # the clipped half still holds the top cells
    c_lo = min(e["c"][0] for e in expected.values())
    c_hi = max(e["c"][1] for e in expected.values())
    assert c_lo - 1e-6 <= manifest["ranges"]["c"][0] < manifest["ranges"]["c"][1] <= c_hi + 1e-6
    assert manifest["time"] == {"infiltrated": T_END, "cosintered": T_END}
    assert manifest["missing"] == []  # every view found its field in both electrodes


def test_views_script_interactive_setup(electrodes, monkeypatch):
    """`pvpython views.py` builds the side-by-side layout (PV_NO_INTERACT: no event loop)."""
    root, _ = electrodes
    script = views.write_views(root, {
        "infiltrated": {"label": "infiltrated", "run_dir": root / "infiltrated", "time": T_END},
        "cosintered": {"label": "co-sintered", "run_dir": root / "cosintered", "time": T_END}})
    monkeypatch.setenv("PV_NO_INTERACT", "1")
    # Given relative to the caller's folder (as `compare -o runs/NAME` does): must still be found.
    monkeypatch.chdir(root.parent)
    proc = pvrun.run_script(script.relative_to(root.parent), ["--view", "c"], timeout=300)
    assert "views ready: infiltrated, cosintered" in proc.stdout
