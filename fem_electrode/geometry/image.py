"""``geometry.kind = "image"``: a labelled 3D image (FIB-SEM, tomography) -> conformal tagged mesh.

Route (docs/images.md says why): read and check the image (:mod:`~fem_electrode.geometry.image_io`),
remove or keep the regions without a transport path (:func:`connectivity`), extract one
conformal surface of every phase boundary with multi-label surface nets and smooth it
(:mod:`~fem_electrode.geometry.surfacenets`), hand it to gmsh as discrete surfaces (one per
facet group and phase) bounding one volume per phase, and fill the volumes with HXT (element
size about the voxel size, see :func:`_sizes`). Physical names and ids are those of every other kind.

The box is [0, nx hx] x [0, ny hy] x [0, nz hz] (µm) in model axes: z = 0 is the separator,
z = Lz the current collector (``image_axis``). Pores are not meshed.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gmsh
import numpy as np
from scipy import ndimage

from fem_electrode import tags
from fem_electrode.geometry import image_io, measure, provenance, surfacenets
from fem_electrode.geometry.base import Layer, MeshCheckError
from fem_electrode.geometry.image_io import NVP, NZSP, PORE
from fem_electrode.geometry.voxels import Box
from fem_electrode.util import atomic
from fem_electrode.util.log import get_logger

#: A failed attempt is retried (``mesh.max_retries``) with the next, gentler smoothing level.
RANDOM = True

log = get_logger("geometry")

#: Version of the layout of the provenance record of image meshes.
FORMAT_VERSION = 1
#: Phase code -> volume group name (pores are not meshed).
PHASE_NAMES = {NZSP: "NZSP", NVP: "NVP"}
#: Surface-net label pair (smaller first) -> facet group, for the phase boundaries.
PAIR_FACETS = {(PORE, NZSP): "pore_wall_nzsp", (PORE, NVP): "pore_wall_nvp",
               (NZSP, NVP): "interface_nvp_nzsp"}
#: Box side (2 axis + high) -> facet group, for the faces on the box.
SIDE_FACETS = {0: "lateral", 1: "lateral", 2: "lateral", 3: "lateral", 4: "separator", 5: "current_collector"}
#: Voxel-face area of an isotropic surface is 3/2 of its true area (mean of |n_x| + |n_y| + |n_z|
#: over directions): the image's stair-step area times this estimates the true area.
ISOTROPIC_FACE_FACTOR = 2.0 / 3.0
#: Face connectivity (6 neighbours): regions touching along an edge or a corner only are
#: separate, as they are in the mesh (no shared face).
CONNECTIVITY = ndimage.generate_binary_structure(3, 1)
#: (Taubin pairs, cell clamp) per attempt while HXT rejects the surface (e.g. a rare
#: self-intersection of the smoothed surface); the last (unsmoothed voxel faces) is stair-stepped.
SMOOTHING_LEVELS = ((surfacenets.SMOOTHING_PAIRS, surfacenets.CELL_CLAMP), (10, 0.25), (0, 0.0))
#: A tetrahedron whose quality (measure.QUALITY_MEASURE, minSICN) is below this is degenerate
#: (flat: a zero or inverted Jacobian for the solvers).
DEGENERATE_QUALITY = 1e-3
#: Every image mesh must have these groups.
REQUIRED_FACETS = ("separator", "current_collector", "interface_nvp_nzsp")


@dataclass
class ImagePlan:
    """The prepared image (model axes) and what was measured on it, before gmsh (µm)."""

    box: Box
    codes: np.ndarray  #: (nx, ny, nz) phase codes of image_io (PORE, NZSP, NVP)
    spacing: tuple[float, float, float]  #: voxel edge along x, y, z
    info: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def reference_volume(self) -> float:
        return self.box.volume

    @property
    def layer(self) -> Layer | None:
        return None  # no designed layer: its resolution is the image's

    @property
    def nvp_thickness(self) -> float:
        return float(min(self.spacing))

    @property
    def expected(self) -> dict[str, float] | None:
        return None

    def summary(self) -> dict[str, Any]:
        return dict(self.info)


def connectivity(codes: np.ndarray, remove: bool) -> tuple[np.ndarray, dict[str, Any]]:
    """NVP regions with no face-connected NVP path to the current collector (z = Lz) and NZSP
    regions with none through NZSP to the separator (z = 0): counted, and turned into pore
    when ``remove``. Returns the (possibly changed) codes and the counts."""
    out = codes.copy() if remove else codes
    report: dict[str, Any] = {"action": "removed" if remove else "kept"}
    for code, name, layer, target in ((NVP, "NVP", -1, "current_collector"), (NZSP, "NZSP", 0, "separator")):
        lab, n = ndimage.label(codes == code, structure=CONNECTIVITY)
        reached = np.unique(lab[:, :, layer])
        reached = reached[reached > 0]
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        isolated = np.setdiff1d(np.arange(1, n + 1), reached)
        voxels = int(sizes[isolated].sum())
        report[name] = {"regions": int(n), "isolated_regions": int(len(isolated)), "path_to": target,
                        "isolated_voxels": voxels, "isolated_volume_fraction": voxels / codes.size}
        if remove and len(isolated):
            out[np.isin(lab, isolated)] = PORE
    return out, report


def merge_specks(codes: np.ndarray, min_voxels: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Face-connected regions of any phase with fewer than ``min_voxels`` voxels take, voxel by
    voxel, the label of the nearest voxel outside every such speck (a face neighbour for a speck's
    boundary voxels, so another phase). Returns the new codes and the counts per phase.

    Smoothing moves a speck's corners towards its centre from all sides; a one-voxel region comes
    out as a symmetric blob of 8 exactly cospherical, partly coplanar vertices, which HXT fills
    with flat (zero-volume) tetrahedra that its optimisation cannot remove (measured on the 200³
    benchmark image down-sampled twice: min quality 0)."""
    report: dict[str, Any] = {"min_voxels": int(min_voxels)}
    if min_voxels <= 1:
        return codes, report
    speck = np.zeros(codes.shape, dtype=bool)
    for code, name in ((NZSP, "NZSP"), (NVP, "NVP"), (PORE, "pore")):
        lab, n = ndimage.label(codes == code, structure=CONNECTIVITY)
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        small = np.flatnonzero(sizes < min_voxels)
        small = small[small > 0]
        report[name] = {"regions": int(len(small)), "voxels": int(sizes[small].sum())}
        if len(small):
            speck |= np.isin(lab, small)
    if not speck.any() or speck.all():
        return codes, report
    nearest = ndimage.distance_transform_edt(speck, return_distances=False, return_indices=True)
    out = codes[tuple(nearest)]
    return out.astype(codes.dtype, copy=False), report


def image_measures(codes: np.ndarray, spacing: tuple[float, float, float]) -> dict[str, Any]:
    """Volume fractions (voxel counts) and area per volume of each phase boundary (1/µm): the
    stair-step voxel-face area and its isotropic estimate (× 2/3)."""
    counts = np.bincount(codes.ravel(), minlength=3)
    fractions = {"NZSP": counts[NZSP] / codes.size, "NVP": counts[NVP] / codes.size,
                 "pore": counts[PORE] / codes.size}
    hx, hy, hz = spacing
    face_area = (hy * hz, hx * hz, hx * hy)
    volume = codes.size * hx * hy * hz
    stairs = dict.fromkeys(PAIR_FACETS.values(), 0.0)
    for axis in range(3):
        a = np.take(codes, np.arange(codes.shape[axis] - 1), axis=axis)
        b = np.take(codes, np.arange(1, codes.shape[axis]), axis=axis)
        for (p, q), name in PAIR_FACETS.items():
            n = np.count_nonzero((a == p) & (b == q)) + np.count_nonzero((a == q) & (b == p))
            stairs[name] += n * face_area[axis] / volume
    return {"volume_fractions": {k: float(v) for k, v in fractions.items()},
            "interface_area_per_volume": {k: ISOTROPIC_FACE_FACTOR * v for k, v in stairs.items()},
            "stair_step_area_per_volume": stairs}


def plan(case, seed: np.random.SeedSequence) -> ImagePlan:
    """Read, check and prepare the image; raises ``ValueError`` naming the key, before gmsh."""
    del seed  # nothing random
    g = case.geometry
    if g.image_voxel_size is None:
        raise ValueError("geometry.image_voxel_size: required with kind = 'image' (µm, [h0, h1, h2])")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    src = image_io.open_source(g.image, g.image_shape, g.image_dtype)
    slices = image_io.crop_slices(src, g.image_crop)
    need = image_io.check_memory(src, slices, g.image_downsample, g.image_max_memory)
    raw = image_io.read(src, slices)
    digest = image_io.checksum(src)
    timings["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    codes = image_io.relabel(raw, {k: int(v) for k, v in g.image_labels.items()})
    del raw
    codes = image_io.downsample(codes, g.image_downsample)
    spacing_file = tuple(float(h) * g.image_downsample for h in g.image_voxel_size)
    codes, spacing = image_io.orient(codes, (spacing_file[0], spacing_file[1], spacing_file[2]), g.image_axis)
    raw_measures = image_measures(codes, spacing)
    codes, conn = connectivity(codes, remove=g.image_disconnected == "remove")
    codes, specks = merge_specks(codes, g.image_min_region)
    for name, code in (("NZSP", NZSP), ("NVP", NVP)):
        if not np.any(codes == code):
            why = (f" after removing the {name} regions with no path to the "
                   f"{conn[name]['path_to'].replace('_', ' ')} (image_disconnected = 'remove'; check "
                   "image_axis)") if conn["action"] == "removed" and conn[name]["isolated_regions"] else ""
            if specks.get(name, {}).get("voxels"):
                why += (f" after merging its regions smaller than image_min_region = {g.image_min_region} "
                        "voxels into their surroundings")
            raise ValueError(f"geometry.image_labels = {dict(g.image_labels)!r}: no {name} voxel{why}")
    timings["labels"] = time.perf_counter() - t0
    box = Box(tuple(float(n * h) for n, h in zip(codes.shape, spacing, strict=True)))  # type: ignore[arg-type]
    info = {
        "image": {"path": str(src.path), "format": src.format, "sha256": digest,
                  "file_shape": list(src.shape),
                  "file_dtype": str(src.dtype), "crop": [[s.start, s.stop] for s in slices],
                  "downsample": g.image_downsample, "axis": g.image_axis, "labels": dict(g.image_labels),
                  "shape": list(codes.shape), "voxel_size": list(spacing), "memory_estimate_bytes": need},
        "box": list(box.lengths),
        "connectivity": conn,
        "specks": specks,
        "image_before_cleanup": raw_measures,
        "image_measured": image_measures(codes, spacing),
    }
    return ImagePlan(box, codes, spacing, info, timings)


def regions(codes: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """Face-connected regions of every phase, numbered 1, 2, ... across phases, and the phase
    of each region of a meshed phase. Each of those becomes its own gmsh volume, and every
    surface separates two given regions: HXT recognises a volume by the set of its bounding
    surfaces, so two pores bounded by one surface entity would be ambiguous."""
    out = np.zeros(codes.shape, dtype=np.int32)
    phase_of: dict[int, str] = {}
    offset = 0
    for code in (NZSP, NVP, PORE):
        lab, n = ndimage.label(codes == code, structure=CONNECTIVITY)
        out[lab > 0] = lab[lab > 0] + offset
        if code in PHASE_NAMES:
            phase_of.update({offset + k: PHASE_NAMES[code] for k in range(1, n + 1)})
        offset += n
    return out, phase_of


def _add_surfaces(surface: surfacenets.Surface) -> tuple[dict[str, list[int]], dict[int, list[int]]]:
    """Discrete gmsh surfaces, one per (facet group, region on each side). Returns the surface
    tags per facet group and the bounding surfaces of every region."""
    lo, hi = surface.labels[:, 0].astype(np.int64), surface.labels[:, 1].astype(np.int64)
    side = np.where(surface.box_side >= 0, surface.box_side, 7)
    keys_2d = np.stack([lo, hi, side, surface.regions[:, 0], surface.regions[:, 1]], axis=1)
    keys, inverse = np.unique(keys_2d, axis=0, return_inverse=True)
    order = np.argsort(inverse.ravel(), kind="stable")
    starts = np.searchsorted(inverse.ravel()[order], np.arange(len(keys)))
    ends = np.append(starts[1:], len(order))
    by_facet: dict[str, list[int]] = {}
    by_region: dict[int, list[int]] = {}
    placed = np.zeros(len(surface.points), dtype=bool)
    next_element = 1
    for tag, (k, a, b) in enumerate(zip(keys, starts, ends, strict=True), start=1):
        gmsh.model.addDiscreteEntity(2, tag)
        tri = surface.triangles[order[a:b]]
        new = np.unique(tri)
        new = new[~placed[new]]
        placed[new] = True  # each node on the first surface that uses it
        gmsh.model.mesh.addNodes(2, tag, new + 1, surface.points[new].ravel())
        tri = tri + 1
        gmsh.model.mesh.addElementsByType(tag, measure.TRI3, np.arange(next_element, next_element + len(tri)),
                                          tri.ravel())
        next_element += len(tri)
        l0, l1, s, r0, r1 = (int(x) for x in k)
        name = SIDE_FACETS[s] if s != 7 else PAIR_FACETS[(l0, l1)]
        by_facet.setdefault(name, []).append(tag)
        for code, region in ((l0, r0), (l1, r1)):
            if code in PHASE_NAMES:
                by_region.setdefault(region, []).append(tag)
    return by_facet, by_region


def _sizes(surface_size: float, case) -> None:
    """Element sizes: the surface keeps its voxel-scale triangles; inside, HXT interpolates the
    boundary sizes (``Mesh.MeshSizeExtendFromBoundary``), capped at ``mesh.size_max`` /
    ``mesh.refinement`` (µm). A background size field that grows away from the boundaries made
    HXT's optimisation 20-30x slower on these surfaces (measured), so none is set: coarser
    meshes come from ``geometry.image_downsample``."""
    gmsh.option.setNumber("Mesh.MeshSizeMax", max(case.mesh.size_max / case.mesh.refinement, surface_size))
    gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 1)


def mesh_image(p: ImagePlan, case, level: int = 0) -> tuple[
        measure.MeshData, dict[str, float], dict[str, Any]]:
    """Surfaces (smoothed as ``SMOOTHING_LEVELS[level]``), volume mesh and physical groups in
    the open gmsh session; the mesh data, stage timings (s) and surface statistics."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    region, phase_of = regions(p.codes)
    pairs, clamp = SMOOTHING_LEVELS[level]
    surface = surfacenets.extract(p.codes, p.spacing, meshed=tuple(PHASE_NAMES), regions=region)
    surfacenets.smooth(surface, p.spacing, pairs=pairs, clamp=clamp)
    timings["surfaces"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    by_facet, by_region = _add_surfaces(surface)
    volumes: dict[str, list[int]] = {name: [] for name in PHASE_NAMES.values()}
    for r, faces in sorted(by_region.items()):
        loop = gmsh.model.geo.addSurfaceLoop(faces, r)
        volumes[phase_of[r]].append(gmsh.model.geo.addVolume([loop], r))
    gmsh.model.geo.synchronize()
    _sizes(float(np.mean(p.spacing)), case)
    gmsh.model.mesh.generate(3)  # a failure is retried by build_mesh with the next smoothing level
    timings["volume_mesh"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    repair = _check_degenerate()
    timings["quality_check"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name, vols in volumes.items():
        gmsh.model.addPhysicalGroup(3, vols, tag=tags.cell_tag(name), name=name)
    for name, faces in by_facet.items():
        gmsh.model.addPhysicalGroup(2, faces, tag=tags.facet_tag(name), name=name)
    data = measure.read_mesh()
    for name in (*PHASE_NAMES.values(), *REQUIRED_FACETS):
        if not len({**data.cells, **data.facets}.get(name, ())):
            raise MeshCheckError(f"the image mesh has no {name!r} elements")
    timings["tag"] = time.perf_counter() - t0
    stats = {"triangles": int(len(surface.triangles)), "vertices": int(len(surface.points)),
             "regions": {name: len(v) for name, v in volumes.items()},
             "smoothing_pairs": pairs, "cell_clamp": clamp, "smoothing_level": level,
             "crossings_undone": surface.crossings,
             "degenerate_check": repair}
    return data, timings, stats


def _qualities() -> np.ndarray:
    """Quality (measure.QUALITY_MEASURE) of every tetrahedron of the open model."""
    _, elements, _ = gmsh.model.mesh.getElements(3)
    tets = np.concatenate(elements) if len(elements) else np.zeros(0, dtype=np.int64)
    return np.asarray(gmsh.model.mesh.getElementQualities(tets.tolist(), measure.QUALITY_MEASURE))


def _check_degenerate() -> dict[str, Any]:
    """Count the tetrahedra below DEGENERATE_QUALITY; raise MeshCheckError when there are any,
    so that build_mesh retries with the next, gentler smoothing level. gmsh's optimisers move
    interior nodes only and cannot lift a flat tetrahedron whose four nodes lie on the surface:
    measured on the 200³ benchmark image down-sampled twice (3.7 M tetrahedra, 5 flat ones),
    optimize("Netgen") and then "Relocate3D" took 15 min and left all 5, so none is run."""
    q = _qualities()
    bad = int(np.count_nonzero(q < DEGENERATE_QUALITY))
    if bad:
        raise MeshCheckError(f"{bad} degenerate tetrahedra (quality < {DEGENERATE_QUALITY:g}, "
                             f"min {q.min():.2e})")
    return {"threshold": DEGENERATE_QUALITY, "degenerate": bad, "min": float(q.min(initial=1.0))}


def facet_area_per_volume(data: measure.MeshData, volume: float) -> dict[str, float]:
    """Area (µm²) of every facet group of the mesh divided by ``volume`` (1/µm)."""
    out = {}
    for name, tri in data.facets.items():
        p = data.coords[tri]
        out[name] = float(0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1).sum()
                          / volume)
    return out


def record(case, p: ImagePlan, data: measure.MeshData, conformity: dict[str, int], stats: dict[str, Any],
           timings: dict[str, float], t_start: float, msh: Path) -> dict[str, Any]:
    """The provenance dictionary (JSON-ready), laid out like the generated kinds' records."""
    params = case.to_dict()
    image_side = p.info["image_measured"]
    return {
        "format": FORMAT_VERSION,
        "case": case.case.name,
        "description": case.case.description,
        "kind": "image",
        "periodic": False,
        "mesh_file": msh.name,
        "units": {"length": "um", "to_metre": 1e-6, "area_per_volume": "1/um"},
        "seed": None,
        "attempt": stats["smoothing_level"],
        "parameters": {"geometry": params["geometry"], "mesh": params["mesh"]},
        "resolved": {**p.summary(), "reference_volume": p.reference_volume, "surface": stats},
        "physical_groups": {
            "cells": {name: tags.cell_tag(name) for name in data.cells},
            "facets": {name: tags.facet_tag(name) for name in data.facets},
        },
        "measured": {
            "volume_fractions": image_side["volume_fractions"],  # on the image (after cleanup)
            "mesh_volume_fractions": provenance.mesh_fractions(data, p.reference_volume),
            "image_interface_area_per_volume": image_side["interface_area_per_volume"],
            "interface_area_per_volume": facet_area_per_volume(data, p.reference_volume),
            "connectivity": p.info["connectivity"],
            "specks": p.info["specks"],
            "elements": provenance.mesh_counts(data),
            "min_elements_across_layer": None,
            "requested_elements_across_layer": None,
            "quality": measure.quality(data),
            "interface_conformity": conformity,
        },
        "versions": provenance.versions(),
        "threads": case.mesh.threads,
        "timings_s": timings,
        "wall_time_s": time.perf_counter() - t_start,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def build_and_write(case, p: ImagePlan, msh: Path, js: Path, attempt: int, t_start: float,
                    timings: dict[str, float]) -> None:
    """Mesh the planned image in the open gmsh session and write ``msh`` + ``js`` atomically."""
    timings.update(p.timings)
    level = min(attempt, len(SMOOTHING_LEVELS) - 1)
    if level:
        log.warning("image mesh attempt %d: smoothing %s", attempt, SMOOTHING_LEVELS[level])
    data, stage, stats = mesh_image(p, case, level)
    timings.update(stage)
    conformity = measure.interface_conformity(data)
    if conformity["conforming"] != conformity["facets"]:
        raise MeshCheckError(f"interface not conformal: {conformity}")
    t0 = time.perf_counter()
    rec = record(case, p, data, conformity, stats, timings, t_start, msh)
    with atomic.atomic_path(msh) as tmp:
        gmsh.write(str(tmp))
        timings["write"] = time.perf_counter() - t0
        rec["wall_time_s"] = time.perf_counter() - t_start
        atomic.write_json(js, rec)
