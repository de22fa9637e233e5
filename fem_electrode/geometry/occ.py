"""OpenCASCADE helpers: spheres, unions, box intersection, fragment, and the geometric
classification of volumes and faces into the named groups of :mod:`fem_electrode.tags`.

Faces are classified by what they touch (adjacent volumes via
``gmsh.model.getAdjacencies``) and where they lie (bounding boxes), never by the entity
numbers OCC hands out after a boolean. Lengths in µm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import gmsh
import numpy as np

from fem_electrode import tags
from fem_electrode.geometry import orientation
from fem_electrode.geometry.base import MeshCheckError
from fem_electrode.geometry.voxels import Box

DimTags = list[tuple[int, int]]

#: Two coordinates closer than this fraction of the largest box edge are "on the same plane".
PLANE_TOL_REL = 1e-6
#: Monte-Carlo samples per overlap group when checking an OCC fuse.
MC_SAMPLES = 100_000
#: A fused group may differ from Monte Carlo by this many standard errors ...
MC_SIGMAS = 5.0
#: ... or by this relative amount, whichever is larger.
UNION_REL_TOL = 0.005
#: Orientations tried per overlap group before giving up on a fuse.
UNION_TRIES = 4


@dataclass
class Regions:
    """The built model: volume entity tags per phase, face entity tags per facet name."""

    volumes: dict[str, list[int]]
    faces: dict[str, list[int]] = field(default_factory=dict)

    def volume_tags(self, phase: str) -> list[int]:
        return self.volumes.get(phase, [])

    def face_tags(self, name: str) -> list[int]:
        return self.faces.get(name, [])


def add_spheres(centers: np.ndarray, radii: np.ndarray, orientations: np.ndarray | None = None) -> DimTags:
    """One OCC sphere per (centre, radius) (µm), each turned about its centre.

    ``orientations`` (n, 4): unit axis and angle, from :mod:`~fem_electrode.geometry.orientation`.
    OCC spheres have poles on the z axis and a seam meridian; left aligned, two spheres whose
    centres are at nearly the same height can fuse silently wrong (one sphere vanishes), and
    seams near other surfaces leave slivers.
    """
    occ = gmsh.model.occ
    out = []
    for k, (c, r) in enumerate(zip(centers, radii, strict=True)):
        tag = occ.addSphere(*map(float, c), float(r))
        if orientations is not None:
            ax, angle = orientations[k, :3], float(orientations[k, 3])
            occ.rotate([(3, tag)], *map(float, c), *map(float, ax), angle)
        out.append((3, tag))
    return out


def _components(centers: np.ndarray, radii: np.ndarray) -> list[np.ndarray]:
    """Groups of overlapping spheres (connected components of the overlap graph)."""
    n = len(radii)
    d = np.linalg.norm(centers[:, None] - centers[None], axis=2)
    adj = d < radii[:, None] + radii[None]
    label = -np.ones(n, dtype=int)
    for start in range(n):
        if label[start] >= 0:
            continue
        label[start] = start
        stack = [start]
        while stack:
            k = stack.pop()
            for j in np.nonzero(adj[k] & (label < 0))[0]:
                label[j] = start
                stack.append(int(j))
    return [np.nonzero(label == lab)[0] for lab in np.unique(label)]


def union_volume_mc(centers: np.ndarray, radii: np.ndarray, seed: int) -> tuple[float, float]:
    """Monte-Carlo volume of a union of spheres (µm³) and its standard error."""
    lo = (centers - radii[:, None]).min(axis=0)
    hi = (centers + radii[:, None]).max(axis=0)
    pts = lo + np.random.default_rng(seed).random((MC_SAMPLES, 3)) * (hi - lo)
    inside = np.zeros(MC_SAMPLES, dtype=bool)
    for c, r in zip(centers, radii, strict=True):
        inside |= np.einsum("ij,ij->i", pts - c, pts - c) < r * r
    f = inside.mean()
    box_volume = float(np.prod(hi - lo))
    return f * box_volume, np.sqrt(max(f * (1 - f), 1e-12) / MC_SAMPLES) * box_volume


def with_images(centers: np.ndarray, radii: np.ndarray, orientations: np.ndarray, box: Box) -> tuple[
        np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The spheres plus, in a periodic box, their lateral images that reach into the box
    (x +- Lx, y +- Ly, corners), each with its sphere's orientation; and per row the index
    of the sphere it copies (None when the box is not periodic: nothing added)."""
    if not box.periodic:
        return centers, radii, orientations, None
    c, r, origin = box.images(centers, radii)
    return c, r, np.asarray(orientations).reshape(-1, 4)[origin], origin


def _reoriented(c: np.ndarray, r: np.ndarray, o: np.ndarray, box: Box, seed: np.random.SeedSequence,
                group: np.ndarray, origin: np.ndarray | None) -> np.ndarray:
    """New orientations for a group whose fuse failed. With periodic images only the spheres
    whose every copy lies in this group turn (all copies alike), so copies stay alike."""
    new = orientation.choose(c, r, box, seed.spawn(1)[0])
    if origin is None:
        return new
    o = o.copy()
    own = origin[group]
    for src in np.unique(own):
        members = np.nonzero(own == src)[0]
        if len(members) == np.count_nonzero(origin == src):
            o[members] = new[members[0]]
    return o


def checked_union(centers: np.ndarray, radii: np.ndarray, orientations: np.ndarray, box: Box,
                  seed: np.random.SeedSequence, origin: np.ndarray | None = None) -> DimTags:
    """Union of spheres, fused one overlap group at a time and checked against Monte Carlo.

    OCC can fuse overlapping spheres silently wrong (a sphere or a piece goes missing),
    depending on how their seams and poles lie. A group whose fused volume disagrees with
    the Monte-Carlo estimate is rebuilt with other orientations, up to ``UNION_TRIES``
    times; then :class:`MeshCheckError` (the caller retries with a new placement).
    In a periodic box pass the image-expanded spheres (:func:`with_images`) and their
    ``origin``: groups then span the lateral faces, and a retry keeps copies alike.
    """
    out: DimTags = []
    for k, group in enumerate(_components(centers, radii)):
        c, r, o = centers[group], radii[group], orientations[group]
        if len(group) == 1:
            out += add_spheres(c, r, o)
            continue
        expected, error = union_volume_mc(c, r, seed=k)
        for _ in range(UNION_TRIES):
            parts = union(add_spheres(c, r, o))
            got = sum(gmsh.model.occ.getMass(*dt) for dt in parts)
            if abs(got - expected) <= max(MC_SIGMAS * error, UNION_REL_TOL * expected):
                out += parts
                break
            gmsh.model.occ.remove(parts, recursive=True)
            o = _reoriented(c, r, o, box, seed, group, origin)
        else:
            raise MeshCheckError(
                f"OCC fuse of {len(group)} overlapping spheres gives {got:.4f} µm³, Monte Carlo "
                f"{expected:.4f} ± {error:.4f} µm³, after {UNION_TRIES} orientations"
            )
    return out


def add_box(box: Box) -> DimTags:
    return [(3, gmsh.model.occ.addBox(0.0, 0.0, 0.0, *box.lengths))]


def union(parts: DimTags) -> DimTags:
    """Boolean union of ``parts`` (returned unchanged when there are fewer than two)."""
    if len(parts) < 2:
        return list(parts)
    out, _ = gmsh.model.occ.fuse(parts[:1], parts[1:], removeObject=True, removeTool=True)
    return out


def clip_to_box(parts: DimTags, box: Box) -> DimTags:
    """``parts`` ∩ box (a fresh box is used and removed)."""
    if not parts:
        return []
    out, _ = gmsh.model.occ.intersect(parts, add_box(box), removeObject=True, removeTool=True)
    return out


def subtract(obj: DimTags, tools: DimTags, keep_tools: bool) -> DimTags:
    """``obj`` minus the union of ``tools``."""
    if not tools:
        return list(obj)
    out, _ = gmsh.model.occ.cut(obj, tools, removeObject=True, removeTool=not keep_tools)
    return out


def fragment_phases(phases: dict[str, DimTags]) -> dict[str, list[int]]:
    """Make the phases conformal (shared faces) with one ``fragment``; volumes per phase.

    The fragment's output map says which input each output volume came from.
    """
    order = [(name, dt) for name, parts in phases.items() for dt in parts]
    if not order:
        return {name: [] for name in phases}
    everything = [dt for _, dt in order]
    _, out_map = gmsh.model.occ.fragment(everything[:1], everything[1:])
    gmsh.model.occ.synchronize()
    result: dict[str, list[int]] = {name: [] for name in phases}
    for (name, _), children in zip(order, out_map, strict=True):
        result[name].extend(tag for dim, tag in children if dim == 3)
    seen: dict[int, str] = {}
    for name, vols in result.items():
        for v in vols:
            if seen.get(v, name) != name:
                raise MeshCheckError(f"volume {v} belongs to both {seen[v]} and {name} after fragment "
                                     "(the phases overlap: a boolean went wrong)")
            seen[v] = name
        result[name] = sorted(set(vols))
    return result


def _on_plane(bbox: Sequence[float], axis: int, value: float, tol: float) -> bool:
    lo, hi = bbox[axis], bbox[axis + 3]
    return abs(lo - value) < tol and abs(hi - value) < tol


def box_face_name(bbox: Sequence[float], box: Box) -> str | None:
    """``separator`` / ``current_collector`` / ``lateral`` for a flat face on a box side."""
    tol = PLANE_TOL_REL * max(box.lengths)
    lx, ly, lz = box.lengths
    if _on_plane(bbox, 2, 0.0, tol):
        return "separator"
    if _on_plane(bbox, 2, lz, tol):
        return "current_collector"
    for axis, length in ((0, lx), (1, ly)):
        if _on_plane(bbox, axis, 0.0, tol) or _on_plane(bbox, axis, length, tol):
            return "lateral"
    return None


def classify_faces(volumes: dict[str, list[int]], box: Box | None,
                   outer: Callable[[int, str], str | None] | None = None) -> dict[str, list[int]]:
    """Name every face of the model from its adjacent volumes and its position.

    * two adjacent volumes: ``interface_nvp_nzsp`` (NVP|NZSP); a face between two volumes
      of one phase (OCC may split a phase into touching solids) is interior and untagged;
    * one volume, flat on a box side: ``separator`` / ``current_collector`` / ``lateral``;
    * one volume, otherwise: ``outer(face, phase)`` if that gives a name (e.g. ``outer``
      for the outer sphere of canonical shapes), else ``pore_wall_nvp`` / ``pore_wall_nzsp``.
    """
    phase_of = {v: name for name, vols in volumes.items() for v in vols}
    names: dict[str, list[int]] = {}
    for _, s in gmsh.model.getEntities(2):
        up, _ = gmsh.model.getAdjacencies(2, s)
        phases = sorted(phase_of[int(v)] for v in up if int(v) in phase_of)
        name: str | None
        if len(phases) == 2:
            if phases[0] == phases[1]:
                continue  # between two volumes of one phase (OCC split it): interior, untagged
            name = "interface_nvp_nzsp"
        elif len(phases) == 1:
            bbox = gmsh.model.getBoundingBox(2, s)
            name = box_face_name(bbox, box) if box is not None else None
            if name is None:
                name = outer(int(s), phases[0]) if outer is not None else None
            if name is None:
                name = "pore_wall_nvp" if phases[0] == "NVP" else "pore_wall_nzsp"
        else:
            continue  # a face of no meshed volume (cannot happen after fragment + removal)
        names.setdefault(name, []).append(int(s))
    for name in names:
        tags.facet_tag(name)  # every name must be registered
        names[name].sort()
    return names


#: Periodic partners must have centres of mass within this fraction of the largest box
#: edge (after the translation) and areas within this relative difference.
PERIODIC_MATCH_REL = 1e-5
_AXIS_NAMES = ("x", "y")


def periodic_pairs(box: Box) -> list[tuple[int, list[int], list[int]]]:
    """Per lateral axis (0: x, 1: y): the surfaces on the max face and their partners on
    the min face (translated centre of mass and equal area). Raises
    :class:`MeshCheckError` naming the face when a surface has no partner (either way)."""
    tol = PLANE_TOL_REL * max(box.lengths)
    match = PERIODIC_MATCH_REL * max(box.lengths)
    out = []
    for axis, name in enumerate(_AXIS_NAMES):
        length = box.lengths[axis]
        shift = np.zeros(3)
        shift[axis] = length
        sides: dict[float, list[tuple[int, np.ndarray, float]]] = {0.0: [], length: []}
        for _, s in gmsh.model.getEntities(2):
            bbox = gmsh.model.getBoundingBox(2, s)
            for value, faces in sides.items():
                if _on_plane(bbox, axis, value, tol):
                    faces.append((int(s), np.asarray(gmsh.model.occ.getCenterOfMass(2, s)),
                                  gmsh.model.occ.getMass(2, s)))
        masters, slaves, used = [], [], set()
        for s, com, area in sides[length]:
            best, err = None, np.inf
            for m, com_m, area_m in sides[0.0]:
                e = np.linalg.norm(com - shift - com_m)
                if m not in used and e < err and abs(area - area_m) <= PERIODIC_MATCH_REL * area:
                    best, err = m, e
            if best is None or err > match:
                raise MeshCheckError(
                    f"periodic geometry: surface {s} on the face {name} = {length:g} µm (centre "
                    f"{np.round(com, 4).tolist()}, area {area:.4g} µm²) has no translated partner on "
                    f"the face {name} = 0 (the microstructure is not periodic in {name})")
            used.add(best)
            masters.append(best)
            slaves.append(s)
        left = [m for m, _, _ in sides[0.0] if m not in used]
        if left:
            raise MeshCheckError(
                f"periodic geometry: surface(s) {left} on the face {name} = 0 have no translated "
                f"partner on the face {name} = {length:g} µm (the microstructure is not periodic "
                f"in {name})")
        out.append((axis, slaves, masters))
    return out


def set_periodic(box: Box) -> None:
    """Make the mesh of the faces x = Lx, y = Ly the translated mesh of x = 0, y = 0
    (``gmsh.model.mesh.setPeriodic`` before meshing; curves and points follow)."""
    for axis, slaves, masters in periodic_pairs(box):
        affine = np.eye(4)
        affine[axis, 3] = box.lengths[axis]
        gmsh.model.mesh.setPeriodic(2, slaves, masters, affine.ravel().tolist())


def add_physical_groups(regions: Regions) -> None:
    """Physical groups with the registry's names and ids (empty groups are skipped)."""
    for phase, vols in regions.volumes.items():
        if vols:
            gmsh.model.addPhysicalGroup(3, vols, tag=tags.cell_tag(phase), name=phase)
    for name, faces in regions.faces.items():
        if faces:
            gmsh.model.addPhysicalGroup(2, faces, tag=tags.facet_tag(name), name=name)


def remove_unused(volumes: dict[str, list[int]]) -> None:
    """Delete volumes that belong to no phase (e.g. voids), keeping shared faces."""
    keep = {v for vols in volumes.values() for v in vols}
    drop = [(3, v) for _, v in gmsh.model.getEntities(3) if v not in keep]
    if drop:
        gmsh.model.occ.remove(drop, recursive=True)
        gmsh.model.occ.synchronize()
