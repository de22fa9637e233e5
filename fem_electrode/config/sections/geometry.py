"""[geometry]: the representative volume element (lengths in µm)."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from fem_electrode.config.spec import Section, key

KINDS = ("infiltrated", "cosintered", "sphere_inclusion", "coated_cavity", "film", "column", "image")
#: Phases an image label may name (NZSP and NVP are meshed; pore is left out of the mesh).
IMAGE_PHASES = ("NZSP", "NVP", "pore")
#: ... and those every image must contain.
IMAGE_REQUIRED_PHASES = ("NZSP", "NVP")
#: Array axes (file order: 0 = TIFF page / slice file, 1 = row, 2 = column) with the direction
#: that points from the separator to the current collector.
IMAGE_AXES = ("+0", "-0", "+1", "-1", "+2", "-2")
#: Data types of raw images (little-endian, C order: axis 2 varies fastest, no header).
IMAGE_RAW_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32")
#: File name endings read as each format (anything else, and not a folder, is raw).
IMAGE_NPY_SUFFIXES = (".npy",)
IMAGE_TIFF_SUFFIXES = (".tif", ".tiff")


def _composition(v: Mapping[str, Any]) -> list[str]:
    problems = []
    # an infiltrated layer of given thickness sets the NVP fraction itself (nvp_fraction is no target)
    targets_nvp = v["kind"] == "cosintered" or (v["kind"] == "infiltrated" and v["layer_thickness"] is None)
    if targets_nvp and v["nvp_fraction"] >= v["porosity"]:
        problems.append(
            f"nvp_fraction = {v['nvp_fraction']} must be below porosity = {v['porosity']} "
            "(residual pore = porosity - nvp_fraction must be >= 0; targets do not add up)"
        )
    if v["pore_radius_min"] > v["pore_radius_mean"] or v["pore_radius_mean"] > v["pore_radius_max"]:
        problems.append(
            "pore radii must satisfy pore_radius_min <= pore_radius_mean <= pore_radius_max, got "
            f"{v['pore_radius_min']} / {v['pore_radius_mean']} / {v['pore_radius_max']} µm"
        )
    if v["kind"] in ("infiltrated", "cosintered") and v["pore_radius_max"] * 2 > min(v["box"]):
        problems.append(
            f"pore_radius_max = {v['pore_radius_max']} µm: a pore larger than the box "
            f"{v['box']} µm (diameter must be below the smallest box edge)"
        )
    t = v["layer_thickness"]
    if t is not None and t >= v["pore_radius_min"]:
        problems.append(
            f"layer_thickness = {t} µm must be below the smallest pore radius "
            f"pore_radius_min = {v['pore_radius_min']} µm"
        )
    if len(v["box"]) != 3:
        problems.append(f"box = {v['box']}: give three edge lengths [Lx, Ly, Lz] in µm")
    return problems


def _shapes(v: Mapping[str, Any]) -> list[str]:
    """Dimension checks of the co-sintered pores and the canonical shapes (no geometry needed)."""
    problems: list[str] = []
    kind, box = v["kind"], v["box"]
    if len(box) != 3:
        return problems  # reported by _composition
    gap = v["min_gap"]
    if kind == "cosintered" and 2 * v["residual_pore_radius"] >= min(box):
        problems.append(
            f"residual_pore_radius = {v['residual_pore_radius']} µm: a pore larger than the box {box} µm"
        )
    if kind in ("sphere_inclusion", "coated_cavity"):
        a, outer = v["inclusion_radius"], v["outer_radius"]
        if outer is None and a + gap > min(box) / 2:
            problems.append(
                f"inclusion_radius = {a} µm must be below half the smallest box edge "
                f"minus min_gap ({min(box) / 2 - gap:g} µm)"
            )
        if outer is not None and a + gap > outer:
            problems.append(
                f"inclusion_radius = {a} µm must be below outer_radius = {outer} µm minus min_gap = {gap} µm"
            )
    if kind == "coated_cavity" and v["coating_thickness"] + gap > v["inclusion_radius"]:
        problems.append(
            f"coating_thickness = {v['coating_thickness']} µm must be below "
            f"inclusion_radius = {v['inclusion_radius']} µm minus min_gap = {gap} µm"
        )
    if kind in ("film", "column") and v["film_thickness"] + gap > box[2]:
        problems.append(
            f"film_thickness = {v['film_thickness']} µm must be below the box height "
            f"Lz = {box[2]} µm minus min_gap = {gap} µm"
        )
    return problems


#: Kinds that fill the box and so can repeat periodically in x and y.
PERIODIC_KINDS = ("infiltrated", "cosintered", "film", "column")


def _periodic(v: Mapping[str, Any]) -> list[str]:
    if v["periodic"] and v["kind"] not in PERIODIC_KINDS:
        return [
            f"periodic = true is not allowed with kind = {v['kind']!r} (one centred sphere or "
            "cavity, not a box-filling microstructure); periodic = true is allowed with kind = "
            + " / ".join(repr(k) for k in PERIODIC_KINDS)
            + "; use periodic = false"
        ]
    return []


def _is_int(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and float(x).is_integer()


def _image(v: Mapping[str, Any]) -> list[str]:
    """Keys of kind = "image" that can be checked without reading the file."""
    if v["kind"] != "image":
        return []
    problems = []
    path = v["image"]
    if not path:
        problems.append('image = "": kind = "image" needs the path of the labelled image (a .npy file, a '
                        "multi-page .tif/.tiff, a folder of 2D .tif slices, or a raw file with image_shape)")
    vs = v["image_voxel_size"]
    if vs is None or len(vs) != 3:
        problems.append(f"image_voxel_size = {vs!r}: give the voxel edge along each of the file's three "
                        "array axes [h0, h1, h2] in µm (each > 0)")
    labels = v["image_labels"]
    unknown = [k for k in labels if k not in IMAGE_PHASES]
    if unknown:
        problems.append(f"image_labels = {labels!r}: unknown phase(s) {', '.join(map(repr, unknown))}; "
                        f"allowed phases: {', '.join(IMAGE_PHASES)}")
    missing = [k for k in IMAGE_REQUIRED_PHASES if k not in labels]
    if missing:
        problems.append(f"image_labels = {labels!r}: missing the label of {', '.join(missing)} "
                        f"(required: {', '.join(IMAGE_REQUIRED_PHASES)}; pore is optional)")
    bad = {k: x for k, x in labels.items() if not _is_int(x)}
    if bad:
        problems.append(f"image_labels = {labels!r}: labels must be integers, got {bad!r}")
    elif len(set(int(x) for x in labels.values())) != len(labels):
        problems.append(f"image_labels = {labels!r}: two phases have the same label")
    crop = v["image_crop"]
    if crop is not None:
        pairs = list(zip(crop[0::2], crop[1::2], strict=False))
        if len(crop) != 6 or not all(_is_int(c) for c in crop) or any(a < 0 or b <= a for a, b in pairs):
            problems.append(f"image_crop = {crop!r}: give [start0, stop0, start1, stop1, start2, stop2] in "
                            "voxels of the file (integers, 0 <= start < stop; stop excluded)")
    shape = v["image_shape"]
    raw = bool(path) and not path.lower().endswith(IMAGE_NPY_SUFFIXES + IMAGE_TIFF_SUFFIXES)
    if shape is not None and (len(shape) != 3 or not all(_is_int(n) and n >= 1 for n in shape)):
        problems.append(f"image_shape = {shape!r}: give the raw image's three array sizes [n0, n1, n2] "
                        "(integers >= 1; axis 2 varies fastest in the file)")
    elif shape is None and raw and PurePath(path).suffix:  # a folder of slices has no suffix
        problems.append(f"image = {path!r}: not a .npy or .tif/.tiff file, so it is read as raw voxels, "
                        "which needs image_shape = [n0, n1, n2] (and image_dtype)")
    return problems


@dataclass(frozen=True)
class GeometryConfig:
    """Microstructure of the RVE. z = 0 faces the separator, z = Lz the current collector."""

    kind: str = key(
        "infiltrated",
        "-",
        "microstructure to build",
        choices=KINDS,
    )
    box: list[float] = key([10.0, 10.0, 10.0], "µm", "RVE edge lengths [Lx, Ly, Lz] (kind image: from the "
                           "image, this key is not used)", lo=0.5, hi=1000.0)
    seed: int = key(1, "-", "random seed for pore / grain placement", lo=0)
    seeds: int | None = key(
        None,
        "-",
        "`compare`: microstructures per design (seeds seed, seed + 1, ...); with 2 or more every metric "
        "gets its mean and 95 % interval and a design wins only where the intervals separate; absent: 3 "
        "for the generated designs (intervals by default), 1 for an image case",
        lo=1,
        hi=1000,
    )
    porosity: float = key(
        0.2,
        "-",
        "scaffold porosity (pore-former volume / box); NVP + residual pore share it",
        lo=0.0,
        hi=0.6,
        lo_open=True,
        source="paper: NZSP:NVP:pore = 80:15.5:4.5 vol%",
    )
    nvp_fraction: float = key(
        0.155,
        "-",
        "target NVP volume fraction of the box",
        lo=0.0,
        hi=0.6,
        lo_open=True,
        source="paper: NZSP:NVP:pore = 80:15.5:4.5 vol%",
    )
    layer_thickness: float | None = key(
        None,
        "µm",
        "NVP layer thickness on infiltrated pore walls; absent = solved from nvp_fraction",
        lo=0.0,
        lo_open=True,
    )
    pore_radius_mean: float = key(
        1.0,
        "µm",
        "median radius of the log-normal pore-former (infiltrated) or NVP grain (co-sintered) distribution",
        lo=0.05,
    )
    pore_radius_sigma: float = key(0.2, "-", "log-normal shape parameter of the radii", lo=0.0, hi=1.5)
    pore_radius_min: float = key(0.6, "µm", "radii are clipped below at this value", lo=0.05)
    pore_radius_max: float = key(1.6, "µm", "radii are clipped above at this value", lo=0.05)
    pore_connectivity: float = key(
        1.0,
        "-",
        "infiltrated: probability that a pore former is placed touching the pore network open to the "
        "current collector (1 = open-porosity template; lower values leave isolated, unfilled pores)",
        lo=0.0,
        hi=1.0,
    )
    grain_connectivity: float = key(
        1.0,
        "-",
        "co-sintered: probability that an NVP grain is placed touching the grain network connected to the "
        "current collector (0 = fully random dispersion)",
        lo=0.0,
        hi=1.0,
    )
    min_gap: float = key(
        0.05,
        "µm",
        "clearance kept between sphere surfaces, intersection circles and box faces (rejects near-tangent "
        "placements that break OCC booleans)",
        lo=0.001,
        hi=1.0,
    )
    residual_pore_radius: float = key(
        0.5, "µm", "radius of the small residual pores of the co-sintered electrode", lo=0.05
    )
    inclusion_radius: float = key(
        2.0, "µm", "radius of the sphere (sphere_inclusion) or cavity (coated_cavity)", lo=0.05
    )
    outer_radius: float | None = key(
        None, "µm", "sphere_inclusion: radius of an outer spherical shell instead of the box", lo=0.05
    )
    film_thickness: float = key(
        1.0, "µm", "NVP thickness of the film / column (film on top of an NZSP substrate)", lo=0.01
    )
    coating_thickness: float = key(0.5, "µm", "coated_cavity: NVP coating thickness", lo=0.01)
    periodic: bool = key(
        False,
        "-",
        "periodic microstructure in x and y (periods Lx, Ly): a pore or grain crossing x = Lx re-enters at "
        "x = 0, and the mesh nodes of the faces x = Lx and y = Ly are those of x = 0 and y = 0 translated; "
        'needed for mechanics.lateral_bc = "periodic". z is never periodic (separator at z = 0, current '
        "collector at z = Lz). Kinds infiltrated, cosintered, film, column",
    )
    image: str = key(
        "",
        "-",
        "kind image: the labelled (segmented) 3D image: a .npy file, a multi-page .tif/.tiff, a folder of "
        "2D .tif/.tiff slices (sorted by name: slice k is array index k along axis 0), or a raw file "
        "(any other ending; with image_shape and image_dtype). A relative path is relative to the case "
        "file's folder (to the working directory when the case does not come from a file)",
    )
    image_shape: list[float] | None = key(
        None, "voxels", "kind image, raw files only: the array sizes [n0, n1, n2] (axis 2 varies fastest)",
        lo=1.0,
    )
    image_dtype: str = key(
        "uint8", "-", "kind image, raw files only: voxel data type (little-endian, no header)",
        choices=IMAGE_RAW_DTYPES,
    )
    image_voxel_size: list[float] | None = key(
        None,
        "µm",
        "kind image (required): voxel edge [h0, h1, h2] along the file's array axes 0, 1, 2 (anisotropic "
        "allowed, e.g. a FIB-SEM slice spacing that differs from the pixel size)",
        lo=0.0,
        lo_open=True,
    )
    image_labels: dict[str, Any] = key(
        {"NZSP": 1, "NVP": 2, "pore": 0},
        "-",
        "kind image: the integer label of each phase in the image, { NZSP = a, NVP = b, pore = c } (pore may "
        "be left out for a dense image); any other label in the image is an error, and so is a listed label "
        "with no voxel",
    )
    image_crop: list[float] | None = key(
        None,
        "voxels",
        "kind image: keep only [start0, stop0, start1, stop1, start2, stop2] of the file's array (stop "
        "excluded, before down-sampling); absent = the whole image",
        lo=0.0,
    )
    image_downsample: int = key(
        1,
        "-",
        "kind image: merge f x f x f voxels into one by majority vote (ties: NVP, then NZSP, then pore; "
        "trailing voxels that do not fill a block are dropped); the voxel size grows f times",
        lo=1,
        hi=32,
    )
    image_axis: str = key(
        "+0",
        "-",
        "kind image: the array axis that points from the separator to the current collector, with its sign "
        '("+2": index 0 of axis 2 faces the separator; "-2": the last index does); it becomes the '
        "model's z, the other two axes x and y in file order",
        choices=IMAGE_AXES,
    )
    image_disconnected: str = key(
        "remove",
        "-",
        "kind image: NVP regions with no path through NVP to the current collector (no electron path) and "
        "NZSP regions with no path through NZSP to the separator (no ion path) make the problem singular: "
        '"remove" turns them into pore, "keep" meshes them; counted in the provenance either way',
        choices=("remove", "keep"),
    )
    image_min_region: int = key(
        8,
        "voxels",
        "kind image: face-connected regions (of any phase) with fewer voxels than this are segmentation "
        "noise: each voxel takes the label of its nearest voxel outside such specks (after down-sampling and "
        "image_disconnected; counted in the provenance). Smoothed, a speck of one or two voxels collapses "
        "into flat (zero-volume) tetrahedra; 1 keeps every region",
        lo=1,
        hi=1000,
    )
    image_max_memory: float = key(
        8.0,
        "GiB",
        "kind image: refuse (before reading it whole) an image whose meshing would need more memory than "
        "this (estimated per voxel after crop and down-sampling)",
        lo=0.0,
        lo_open=True,
    )


SECTION = Section.from_config(
    "geometry",
    GeometryConfig,
    checks=(
        _composition,
        _shapes,
        _periodic,
        _image,
    ),
)
