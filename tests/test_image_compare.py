"""`compare` of an image case (issue 16): the image against a generated design sized to it.

The variants and the report use a stand-in measure of the image and a SYNTHETIC runner (made-up
metrics from ``tests/report_synthetic.py``; nothing here is a simulation result); one test
meshes a small image written here and checks the box and fractions read from its provenance
against the image's voxel counts. Bad options are refused before anything is meshed or written.

Serial: no MPI in these functions (the meshing is gmsh on one process); under mpiexec every
rank would just repeat the work.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from report_synthetic import toy_run

from fem_electrode.campaign import compare
from fem_electrode.config import ConfigError, validate

pytestmark = pytest.mark.serial

#: A 12 x 12 x 16 voxel image of 0.25 µm voxels (box 3 x 3 x 4 µm): a square channel of 7 x 7
#: voxels from z = 4 up to the collector face, lined with NVP 2 voxels thick, empty inside.
SHAPE, H, CHANNEL, FLOOR, COAT = (12, 12, 16), 0.25, 7, 4, 2
NVP_VOXELS = CHANNEL**2 * (SHAPE[2] - FLOOR) - (CHANNEL - 2 * COAT) ** 2 * (SHAPE[2] - FLOOR - COAT)
PORE_VOXELS = (CHANNEL - 2 * COAT) ** 2 * (SHAPE[2] - FLOOR - COAT)
#: A stand-in measure (not this image's): what the generated design must take over.
MEASURED = compare.ImageMeasure(box=(3.0, 3.0, 4.0), porosity=0.25, nvp_fraction=0.2)


def channel_image(path: Path) -> Path:
    """Labels pore 0, NZSP 1, NVP 2 (axes x, y, z; z = 0 the separator)."""
    out = np.ones(SHAPE, dtype=np.uint8)
    a = (SHAPE[0] - CHANNEL) // 2
    out[a:a + CHANNEL, a:a + CHANNEL, FLOOR:] = 2
    out[a + COAT:a + CHANNEL - COAT, a + COAT:a + CHANNEL - COAT, FLOOR + COAT:] = 0
    np.save(path, out)
    return path


def image_case(tmp_path: Path, **geometry):
    """An image case; the pore radii fit the image's 3 µm box (the generated design keeps them)."""
    return validate({
        "case": {"name": "img"},
        "geometry": {"kind": "image", "image": str(channel_image(tmp_path / "channel.npy")),
                     "image_voxel_size": [H, H, H], "image_axis": "+2",
                     "image_labels": {"NZSP": 1, "NVP": 2, "pore": 0}, "seed": 4,
                     "pore_radius_mean": 0.6, "pore_radius_min": 0.4, "pore_radius_max": 0.9, **geometry},
        "mechanics": {"coupling": "off"},
        "protocol": {"c_rate": 2.0, "cycles": 1},
    })


class StandIn:
    """A measure of the image that records the cases it was given."""

    def __init__(self) -> None:
        self.cases: list = []

    def __call__(self, case):
        self.cases.append(case)
        return MEASURED


@pytest.mark.parametrize("against", [None, "infiltrated", "cosintered"])
def test_the_generated_design_takes_the_images_box_and_fractions(tmp_path, against):
    case = image_case(tmp_path)
    measure = StandIn()
    items = compare.variants(case, tmp_path / "out", against=against, measure=measure)
    kind = against or "infiltrated"
    assert [(v.design, v.folder) for v in items] == [("image", "image"), (kind, kind)]
    image, made = items[0].case, items[1].case
    # the image variant keeps the case (its name and mesh folder are the comparison's)
    assert image.geometry == case.geometry and image.protocol == case.protocol
    assert image.case.name == "img-image"
    assert image.mesh.directory == str((tmp_path / "out" / "meshes").resolve())
    # measured once, on the image variant's case (the mesh the image run reuses)
    assert measure.cases == [image]
    g = made.geometry
    assert (g.kind, g.box, g.porosity, g.nvp_fraction) == (kind, [3.0, 3.0, 4.0], 0.25, 0.2)
    # everything else from the case
    assert (g.seed, g.pore_radius_max, g.image) == (4, 0.9, case.geometry.image)
    assert made.protocol == case.protocol and made.materials == case.materials
    assert made.mechanics == case.mechanics and made.mesh.directory == image.mesh.directory
    assert items[0].label == "image (channel.npy)"
    short = "co-sintered" if kind == "cosintered" else kind
    assert items[1].label == f"{short} (generated, same box and fractions)"


def test_the_image_is_measured_from_its_mesh_provenance(tmp_path):
    """Meshes the 12 x 12 x 16 image (gmsh, a few seconds): box in µm and the image's volume
    fractions from the voxel counts; a second measure reuses the mesh."""
    case = image_case(tmp_path).replace(mesh={"directory": str(tmp_path / "meshes")})
    found = compare.measure_image(case)
    total = SHAPE[0] * SHAPE[1] * SHAPE[2]
    assert found.box == (3.0, 3.0, 4.0)
    assert found.nvp_fraction == pytest.approx(NVP_VOXELS / total, abs=1e-6)
    assert found.porosity == pytest.approx((NVP_VOXELS + PORE_VOXELS) / total, abs=1e-6)
    msh = tmp_path / "meshes" / "img.msh"
    stamp = msh.stat().st_mtime_ns
    assert compare.measure_image(case) == found and msh.stat().st_mtime_ns == stamp


#: Synthetic numbers per design: the image has the higher capacity, the generated one the
#: lower polarization.
CAPACITY = {"image": 101.0, "infiltrated": 90.0}
GAP = {"image": 0.050, "infiltrated": 0.030}


def synthetic_runner(case, run_dir):
    design = case.geometry.kind
    toy_run(run_dir, design, capacity=CAPACITY[design], gap=GAP[design], nvp_vm_p95=2e9, accommodation=0.5)


def test_the_report_names_the_image_and_the_generated_design(tmp_path):
    out = tmp_path / "cmp"
    paths = compare.compare(image_case(tmp_path), out, runner=synthetic_runner, jobs=1, screenshots=False,
                            measure=StandIn())
    data = json.loads(paths["json"].read_text())
    assert data["ratio"] == "image / infiltrated"
    assert data["designs"] == [
        {"name": "image", "label": "image (channel.npy)"},
        {"name": "infiltrated", "label": "infiltrated (generated, same box and fractions)"}]
    proto = data["protocols"][0]
    assert list(proto["runs"]) == ["image", "infiltrated"]
    rows = {r["key"]: r for r in proto["metrics"]}
    cap, gap = rows["capacity_discharge_mAh_per_g"], rows["polarization_V"]
    assert (cap["image"], cap["infiltrated"], cap["winner"]) == (101.0, 90.0, "image")
    assert cap["ratio_image_over_infiltrated"] == pytest.approx(101.0 / 90.0)
    assert gap["winner"] == "infiltrated"
    assert set(proto["tally"]) == {"image", "infiltrated", "tie"}
    assert "capacity_discharge_mAh_per_g" in proto["tally"]["image"]
    assert "polarization_V" in proto["tally"]["infiltrated"]
    md = paths["markdown"].read_text()
    assert md.startswith("# Image vs generated infiltrated NVP|NZSP electrode: img")
    assert "| protocol | metric | unit | image | infiltrated | better |" in md  # the headline table
    assert "ratio image/inf." in md
    assert "**discharge capacity**: image 101 vs infiltrated 90 mAh/g — **image** better" in md
    assert "green image, blue infiltrated" in md  # the figures' colours
    assert "image (channel.npy)" in md and "infiltrated (generated, same box and fractions)" in md
    assert "3 × 3 × 4 µm" in md and "porosity 0.25" in md and "NVP fraction 0.2" in md
    assert "co-sintered" not in md.split("## Conclusion")[0]  # the opening names only these two
    # the report is rebuilt from the folders alone (the mesh of the image is not needed again)
    again = compare.compare(image_case(tmp_path), out, report_only=True, screenshots=False, measure=StandIn())
    assert json.loads(again["json"].read_text())["designs"] == data["designs"]


def _boom(case):
    raise AssertionError("the image was measured (meshed) before the options were checked")


@pytest.mark.parametrize(("options", "expected"), [
    ({"against": "sponge"}, "--against 'sponge': .*infiltrated, cosintered"),
    ({"seeds": 2}, "--seeds = 2: an image is one microstructure"),
    ({"refine": 1.5}, "--refine 1.5: an image mesh keeps the voxel size"),
])
def test_bad_options_of_an_image_case_are_refused_before_meshing(tmp_path, options, expected):
    out = tmp_path / "cmp"
    with pytest.raises(ConfigError, match=expected):
        compare.compare(image_case(tmp_path), out, runner=synthetic_runner, measure=_boom, **options)
    assert not out.exists()
    with pytest.raises(ConfigError, match="geometry.seeds = 3"):
        compare.variants(image_case(tmp_path, seeds=3), out, measure=_boom)


@pytest.mark.parametrize(("case_file", "args", "expected"), [
    ("image.toml", ["--against", "sponge"], "--against 'sponge'"),
    ("image.toml", ["--seeds", "3"], "--seeds = 3"),
    ("image.toml", ["--refine", "2"], "--refine 2"),
    ("default.toml", ["--against", "cosintered"], "--against cosintered: only for an image case"),
])
def test_the_command_exits_2_naming_the_option(tmp_path, examples, capsys, case_file, args, expected):
    from fem_electrode import cli

    out = tmp_path / "cmp"
    assert cli.main(["compare", str(examples / case_file), "-o", str(out), *args]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()
