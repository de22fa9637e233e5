"""``mesh.image_mesher = "tetgen"``: the image route's smoothed surfaces filled by TetGen, graded.

The optional PyPI package ``tetgen`` (pyvista's MIT wrapper of TetGen 1.6, which is AGPL-3.0 or
a commercial licence from WIAS; the project's optional extra ``[tetgen]``) tetrahedralises the
surface-nets surface of :mod:`~fem_electrode.geometry.image` as one piecewise-linear complex
(switch ``p``): one region point per face-connected NZSP or NVP region (``A``: every
tetrahedron carries its region), one hole point per pore region, the surface kept as it is
(``Y``: no Steiner points on it, so the facets are the surface's triangles and the interfaces
those of the HXT route), and Delaunay refinement to a radius-edge ratio of 1.414 and dihedral
angles of 10° or more (``q``). That refinement grades the elements away from the surfaces by
itself (measured: 2 to 3 times the surface size 3 voxels inside); ``a`` caps the volume at that
of a regular tetrahedron of edge ``mesh.size_max`` / ``mesh.refinement`` (never below a voxel).
``mesh.grading`` is not used: TetGen's size field (``m`` with a background mesh) crashed
(SIGSEGV in "Interpolating mesh size", tetgen 0.8.4) on 3 of the 4 images tried. The result is
put in the open gmsh model as discrete entities (one volume per phase, one surface per facet
group), so the checks, tags and writing of the HXT route apply unchanged. Compared with HXT on
the same surfaces: benchmarks/image_mesh_routes.py, docs/images.md.
"""

from __future__ import annotations

from typing import Any

import gmsh
import numpy as np

from fem_electrode.geometry import measure, surfacenets
from fem_electrode.geometry.base import MeshCheckError

#: TetGen switches: PLC, region attributes, surface kept, faces with their markers out, quiet,
#: quality bounds (radius-edge ratio / least dihedral angle, degrees; the manual's "good
#: quality" setting); the volume cap ``a`` is added per mesh.
SWITCHES = "pAYfQq1.414/10"
#: What to tell a user without the package.
INSTALL = ("mesh.image_mesher = 'tetgen' needs the optional package tetgen (pyvista's wrapper of "
           "TetGen, AGPL-3.0): pip install 'tetgen==0.8.4' (the extra [tetgen]), "
           "or mesh.image_mesher = 'hxt'")


def require() -> None:
    """``ValueError`` naming the key, the value and how to install when ``tetgen`` is missing."""
    try:
        import tetgen  # noqa: F401
    except ImportError as exc:
        raise ValueError(INSTALL) from exc


def region_points(region: np.ndarray, spacing: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """One point per region of ``image.regions``: the centre of its first voxel (C order). A
    smoothed vertex stays within CELL_CLAMP (< 0.5) voxel of its corner per axis, so no smoothed
    triangle reaches a voxel centre along its voxel face's normal: the centre stays in its region."""
    ids, first = np.unique(region.ravel(), return_index=True)
    ijk = np.stack(np.unravel_index(first, region.shape), axis=1)
    return ids, (ijk + 0.5) * np.asarray(spacing, dtype=float)


def fill(surface: surfacenets.Surface, facet_names: np.ndarray, region: np.ndarray, phase_of: dict[int, str],
         spacing: tuple[float, float, float], case) -> tuple[
             dict[str, list[int]], dict[str, list[int]], dict[str, Any]]:
    """Tetrahedralise ``surface`` (``facet_names``: the facet group of each triangle) with TetGen
    and load the mesh into the open gmsh model. Returns the gmsh volumes per phase, the surfaces
    per facet group and what was used (switches, size cap)."""
    import tetgen

    size_max = max(case.mesh.size_max / case.mesh.refinement, min(spacing))
    switches = f"{SWITCHES}a{size_max**3 / (6.0 * np.sqrt(2.0)):.6g}"  # a regular tet of edge size_max
    tg = tetgen.TetGen(surface.points, surface.triangles.astype(np.int32),
                       np.arange(1, len(surface.triangles) + 1, dtype=np.int32))
    ids, centres = region_points(region, spacing)
    for r, c in zip(ids.tolist(), centres, strict=True):
        if r in phase_of:
            tg.add_region(r, c)
        else:
            tg.add_hole(c)
    try:
        nodes, tets, attributes, markers = tg.tetrahedralize(switches=switches)
    except RuntimeError as exc:  # e.g. a self-intersecting surface: retried with gentler smoothing
        raise MeshCheckError(f"TetGen: {exc}") from exc
    faces = tg.trifaces
    region_of = np.asarray(attributes).ravel().astype(np.int64)
    lookup = np.full(max(max(phase_of, default=0), int(region_of.max(initial=0))) + 1, "", dtype=object)
    for r, name in phase_of.items():
        lookup[r] = name
    phase = lookup[region_of]
    if np.any(phase == ""):
        raise MeshCheckError(f"TetGen left {np.count_nonzero(phase == '')} tetrahedra outside every "
                             "NZSP / NVP region")
    on_surface = markers > 0
    kept = np.unique(markers[on_surface])
    if np.count_nonzero(on_surface) != len(surface.triangles) or len(kept) != len(surface.triangles):
        raise MeshCheckError(f"TetGen did not keep the surface: {len(kept)} of {len(surface.triangles)} "
                             f"triangles found once among {np.count_nonzero(on_surface)} marked faces")
    names = facet_names[markers[on_surface] - 1]
    faces = faces[on_surface]
    gmsh.model.addDiscreteEntity(3, 1)
    gmsh.model.mesh.addNodes(3, 1, np.arange(1, len(nodes) + 1), nodes.ravel())
    volumes, next_element = _add_groups(3, measure.TET4, tets, phase, 1)
    by_facet, _ = _add_groups(2, measure.TRI3, faces, names, next_element)
    used = {"switches": switches, "size_max": size_max}
    return volumes, by_facet, used


def _add_groups(dim: int, element_type: int, cells: np.ndarray, names: np.ndarray,
                next_element: int) -> tuple[dict[str, list[int]], int]:
    """One discrete gmsh entity of dimension ``dim`` per distinct name (tags 1, 2, ... in name
    order; volume 1 exists already, it holds the nodes) with the ``cells`` (0-based node indices)
    of that name, numbered from ``next_element``. Returns the entity tag per name and the next
    free element number."""
    tags: dict[str, list[int]] = {}
    for tag, name in enumerate(sorted(set(names)), start=1):
        if (dim, tag) not in gmsh.model.getEntities(dim):
            gmsh.model.addDiscreteEntity(dim, tag)
        sel = cells[names == name] + 1
        gmsh.model.mesh.addElementsByType(tag, element_type, np.arange(next_element, next_element + len(sel)),
                                          sel.ravel())
        next_element += len(sel)
        tags[name] = [tag]
    return tags, next_element
