"""``geometry.kind = "image"``: a labelled 3D image (FIB-SEM, tomography) -> conformal tagged mesh.

Route (docs/images.md says why): read and check the image (:mod:`~fem_electrode.geometry.image_io`),
remove or keep the regions without a transport path (:func:`connectivity`), extract one
conformal surface of every phase boundary with multi-label surface nets and smooth it
(:mod:`~fem_electrode.geometry.surfacenets`), hand it to gmsh as discrete surfaces (one per
facet group and phase) bounding one volume per phase, and fill the volumes with HXT (element
size about the voxel size, see :func:`_sizes`; ``mesh.image_mesher = "tetgen"``: TetGen, graded,
:mod:`~fem_electrode.geometry.image_tetgen`), with nodes embedded inside thin NVP layers
(:func:`layer_points`) so that a layer the image resolves has 2 or more elements across
(measured per interface node: :func:`layer_resolution`). Physical names and ids are those of
every other kind. :func:`rasterize` turns a generated design into such an image (round trips).

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
from scipy.sparse import csgraph, csr_matrix

from fem_electrode import tags
from fem_electrode.geometry import (
    cosintered,
    image_io,
    image_tetgen,
    infiltrated,
    measure,
    provenance,
    surfacenets,
)
from fem_electrode.geometry.base import Layer, MeshCheckError
from fem_electrode.geometry.image_io import NVP, NZSP, PORE
from fem_electrode.geometry.voxels import Box, VoxelGrid
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
#: The image resolves an NVP layer where it is at least this many voxels thick: smoothing moves
#: each face by up to CELL_CLAMP (0.45) voxel, so an n-voxel layer may be n - 0.9 voxels thick in
#: the mesh, and two elements of about a voxel (the surface triangles' size) fit from n = 3 on.
RESOLVED_LAYER_VOXELS = 3
#: Layer thickness classes of the layer-resolution report (voxels; the last is "and more").
LAYER_CLASSES = (1, 2, 3, 4)
#: Voxel corners inside NVP layers from RESOLVED_LAYER_VOXELS up to (not including) this many
#: voxels thick become mesh nodes (:func:`layer_points`): left to itself, HXT joined the two faces
#: of a 3-voxel layer by a single edge at some nodes (measured on coated random pores, 32³);
#: from 4 voxels on it put 2 or more elements across everywhere.
EMBED_BELOW_VOXELS = 4
#: The embedded corners move by up to this many voxel edges per axis (uniform, seeded): points
#: on a regular lattice are cospherical in fours, and HXT made a flat tetrahedron of them
#: (measured: min quality 7e-15 without the jitter).
LAYER_POINT_JITTER = 0.15
LAYER_POINT_SEED = 16
#: Slack on thickness comparisons in voxels (distances are sums of squared voxel edges).
THICKNESS_SLACK = 1e-6


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
    if case.mesh.image_mesher == "tetgen":
        image_tetgen.require()
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


def rasterize(p: infiltrated.InfiltratedPlan | cosintered.CosinteredPlan, voxel: float) -> tuple[
        np.ndarray, tuple[float, float, float]]:
    """A generated design sampled at voxel centres, as a segmented image of it would be: phase
    codes (PORE, NZSP, NVP) on model axes (z = 0 the separator) and the voxel edges (µm; ``voxel``
    rounded so that whole voxels fill the box). Infiltrated: pore formers of the clusters open to
    the collector are NVP less their residual voids, the others empty pore; co-sintered: NVP
    grains less the residual pores. For round trips (generated design -> image -> mesh)."""
    grid = VoxelGrid(p.box, 0.0, voxel=voxel)
    codes = np.full(grid.shape, NZSP, dtype=np.uint8)
    if isinstance(p, infiltrated.InfiltratedPlan):
        c, r, inf, void = p.placed.centers, p.placed.radii, p.infiltrated, p.void
        codes[grid.union_mask(c[inf], r[inf])] = NVP
        codes[grid.union_mask(c[~inf], r[~inf])] = PORE
        codes[grid.union_mask(c[void], r[void] - p.thickness)] = PORE
    else:
        codes[grid.union_mask(p.grains.centers, p.grains.radii)] = NVP
        codes[grid.union_mask(p.pores.centers, p.pores.radii)] = PORE
    sx, sy, sz = grid.spacing
    return codes, (sx, sy, sz)


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
    names = facet_names(surface)
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
        l0, l1, _, r0, r1 = (int(x) for x in k)
        by_facet.setdefault(names[order[a]], []).append(tag)  # one (labels, box side) per group
        for code, region in ((l0, r0), (l1, r1)):
            if code in PHASE_NAMES:
                by_region.setdefault(region, []).append(tag)
    return by_facet, by_region


def facet_names(surface: surfacenets.Surface) -> np.ndarray:
    """The facet group of every triangle of ``surface`` (SIDE_FACETS on the box, else PAIR_FACETS)."""
    names = np.empty(len(surface.triangles), dtype=object)
    box = surface.box_side >= 0
    names[box] = [SIDE_FACETS[int(s)] for s in surface.box_side[box]]
    names[~box] = [PAIR_FACETS[(int(a), int(b))] for a, b in surface.labels[~box]]
    return names


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


def layer_points(codes: np.ndarray, spacing: tuple[float, float, float],
                 region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voxel corners inside thin NVP layers that the image resolves: every voxel touching the
    corner is NVP and the layer there (:func:`layer_thickness`) is at least RESOLVED_LAYER_VOXELS
    and less than EMBED_BELOW_VOXELS voxels of the smallest edge thick. Returns their
    coordinates (k, 3) (µm) and the region (``regions``) each lies in."""
    nvp = np.pad(codes == NVP, 1, constant_values=False)
    nx, ny, nz = (n + 1 for n in codes.shape)
    inside = np.ones((nx, ny, nz), dtype=bool)
    for dx, dy, dz in np.ndindex(2, 2, 2):
        inside &= nvp[dx:dx + nx, dy:dy + ny, dz:dz + nz]
    thick = layer_thickness(codes, spacing) / min(spacing)
    inside &= (thick >= RESOLVED_LAYER_VOXELS - THICKNESS_SLACK) & (thick < EMBED_BELOW_VOXELS)
    ijk = np.argwhere(inside)
    rng = np.random.default_rng(LAYER_POINT_SEED)
    jitter = rng.uniform(-LAYER_POINT_JITTER, LAYER_POINT_JITTER, ijk.shape)
    return (ijk + jitter) * np.asarray(spacing), region[tuple((ijk - 1).T)]  # voxel c - 1 touches corner c


def _embed(points: np.ndarray, where: np.ndarray) -> None:
    """Put a mesh node at each of ``points`` (µm) inside the volume ``where`` (gmsh tags). The
    point entities are in no physical group, so they are not written."""
    point_tags = np.array([gmsh.model.geo.addPoint(*xyz) for xyz in points.tolist()], dtype=np.int64)
    gmsh.model.geo.synchronize()
    for vol in np.unique(where):
        gmsh.model.mesh.embed(0, point_tags[where == vol].tolist(), 3, int(vol))


def mesh_image(p: ImagePlan, case, level: int = 0) -> tuple[
        measure.MeshData, dict[str, float], dict[str, Any]]:
    """Surfaces (smoothed as ``SMOOTHING_LEVELS[level]``), volume mesh (gmsh HXT, or TetGen with
    ``mesh.image_mesher = "tetgen"``: :mod:`~fem_electrode.geometry.image_tetgen`) and physical
    groups in the open gmsh session; the mesh data, stage timings (s) and surface statistics."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    region, phase_of = regions(p.codes)
    pairs, clamp = SMOOTHING_LEVELS[level]
    surface = surfacenets.extract(p.codes, p.spacing, meshed=tuple(PHASE_NAMES), regions=region)
    surfacenets.smooth(surface, p.spacing, pairs=pairs, clamp=clamp)
    timings["surfaces"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mesher: dict[str, Any] = {"name": case.mesh.image_mesher}
    if case.mesh.image_mesher == "tetgen":
        volumes, by_facet, used = image_tetgen.fill(surface, facet_names(surface), region, phase_of,
                                                    p.spacing, case)
        mesher.update(used)
        points = np.zeros((0, 3))
    else:
        by_facet, by_region = _add_surfaces(surface)
        volumes = {name: [] for name in PHASE_NAMES.values()}
        for r, faces in sorted(by_region.items()):
            loop = gmsh.model.geo.addSurfaceLoop(faces, r)
            volumes[phase_of[r]].append(gmsh.model.geo.addVolume([loop], r))
        gmsh.model.geo.synchronize()
        points, where = layer_points(p.codes, p.spacing, region)
        _embed(points, where)
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
    stats = {"mesher": mesher, "triangles": int(len(surface.triangles)), "vertices": int(len(surface.points)),
             "regions": {name: sum(v == name for v in phase_of.values()) for name in PHASE_NAMES.values()},
             "smoothing_pairs": pairs, "cell_clamp": clamp, "smoothing_level": level,
             "crossings_undone": surface.crossings,
             "layer_points": int(len(points)),
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


def layer_thickness(codes: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Per voxel corner (shape (nx + 1, ny + 1, nz + 1), µm): the thickness of the NVP layer
    between NZSP and pore there, as the image has it. Per NVP voxel: the distance from its centre
    to the nearest pore voxel centre plus that to the nearest NZSP voxel centre, less one voxel
    edge (n h for each voxel across a straight layer of n voxels of edge h; the diameter of a
    grain whose centre is far from every pore); per corner, the least over the NVP voxels that
    touch it. inf where no NVP voxel touches the corner, or without pore or NZSP."""
    out = np.full(tuple(n + 1 for n in codes.shape), np.inf)
    if not np.any(codes == PORE) or not np.any(codes == NZSP):
        return out
    across = (ndimage.distance_transform_edt(codes != PORE, sampling=spacing)
              + ndimage.distance_transform_edt(codes != NZSP, sampling=spacing) - min(spacing))
    per_voxel = np.pad(np.where(codes == NVP, across, np.inf), 1, constant_values=np.inf)
    nx, ny, nz = out.shape
    for dx, dy, dz in np.ndindex(2, 2, 2):  # corner c touches the padded voxels c + d
        np.minimum(out, per_voxel[dx:dx + nx, dy:dy + ny, dz:dz + nz], out=out)
    return out


def _steps_from_nvp_pore_wall(data: measure.MeshData) -> np.ndarray | None:
    """Per mesh node: the fewest edges of NVP tetrahedra on a path from a node of pore_wall_nvp
    (inf where there is none); None without NVP tetrahedra or NVP pore wall."""
    tets, wall = data.cells.get("NVP"), data.facets.get("pore_wall_nvp")
    if tets is None or wall is None or not len(tets) or not len(wall):
        return None
    pairs = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
    a = np.concatenate([tets[:, i] for i, _ in pairs])
    b = np.concatenate([tets[:, j] for _, j in pairs])
    n = len(data.coords)
    graph = csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return np.asarray(csgraph.dijkstra(graph, directed=False, indices=np.unique(wall), unweighted=True,
                                       min_only=True))


def layer_resolution(data: measure.MeshData, codes: np.ndarray,
                     spacing: tuple[float, float, float]) -> dict[str, Any] | None:
    """Elements across the NVP layer at every node of interface_nvp_nzsp, by the layer's thickness
    in the image there. Elements across: the fewest edges of NVP tetrahedra from the node to the
    NVP pore wall (:func:`measure.elements_across`, node by node); thickness:
    :func:`layer_thickness` at the node's voxel corner (a surface node stays within half a
    voxel of it), in voxels of the smallest edge. ``min_elements_across`` is the least over the
    nodes where the image resolves the layer (>= RESOLVED_LAYER_VOXELS thick); classes of 1, 2, 3
    and >= 4 voxels are listed. None without an NVP pore wall or interface."""
    steps = _steps_from_nvp_pore_wall(data)
    interface = data.facets.get("interface_nvp_nzsp")
    if steps is None or interface is None or not len(interface):
        return None
    nodes = np.unique(interface)
    corner = np.clip(np.rint(data.coords[nodes] / np.asarray(spacing)).astype(np.int64), 0, codes.shape)
    thick = layer_thickness(codes, spacing)[tuple(corner.T)] / min(spacing)
    across = steps[nodes]
    reached = np.isfinite(across)
    classes: dict[str, dict[str, Any]] = {}
    bounds = (*LAYER_CLASSES, np.inf)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        sel = reached & (thick >= lo - THICKNESS_SLACK) & (thick < hi - THICKNESS_SLACK)
        classes[str(lo) if np.isfinite(hi) else f">={lo}"] = {
            "nodes": int(sel.sum()), "min_elements": int(across[sel].min()) if sel.any() else None,
            "mean_elements": float(across[sel].mean()) if sel.any() else None}
    resolved = reached & (thick >= RESOLVED_LAYER_VOXELS - THICKNESS_SLACK)
    return {"resolved_from_voxels": RESOLVED_LAYER_VOXELS, "interface_nodes": int(len(nodes)),
            "resolved_nodes": int(resolved.sum()),
            "min_elements_across": int(across[resolved].min()) if resolved.any() else None,
            "by_thickness_voxels": classes}


def record(case, p: ImagePlan, data: measure.MeshData, conformity: dict[str, int], stats: dict[str, Any],
           timings: dict[str, float], t_start: float, msh: Path,
           layer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance dictionary (JSON-ready), laid out like the generated kinds' records;
    ``layer`` is :func:`layer_resolution` of the mesh."""
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
            "min_elements_across_layer": None,  # no designed layer: see layer_resolution
            "requested_elements_across_layer": None,
            "layer_resolution": layer,
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
    layer = layer_resolution(data, p.codes, p.spacing)
    timings["layer_measure"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rec = record(case, p, data, conformity, stats, timings, t_start, msh, layer)
    with atomic.atomic_path(msh) as tmp:
        gmsh.write(str(tmp))
        timings["write"] = time.perf_counter() - t0
        rec["wall_time_s"] = time.perf_counter() - t_start
        atomic.write_json(js, rec)
