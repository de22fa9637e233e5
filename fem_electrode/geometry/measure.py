"""Measurements on the gmsh mesh in the open session: volumes, areas, element counts,
quality, interface conformity and the number of elements across the NVP layer.

All from gmsh's own data (no DOLFINx). Lengths in µm.
"""

from __future__ import annotations

from dataclasses import dataclass

import gmsh
import numpy as np

from fem_electrode import tags

#: gmsh element type ids.
TET4, TRI3 = 4, 2
#: gmsh quality measure reported as min/mean (signed inverse condition number, 1 = regular).
QUALITY_MEASURE = "minSICN"
#: Bits per node index when packing a triangle's three sorted node indices into one int64.
_PACK_BITS = 21


@dataclass
class MeshData:
    """Node coordinates and the elements of every physical group (node *indices*)."""

    coords: np.ndarray  #: (n_nodes, 3) µm
    cells: dict[str, np.ndarray]  #: phase -> (n, 4) tet node indices
    cell_tags: dict[str, np.ndarray]  #: phase -> gmsh element tags
    facets: dict[str, np.ndarray]  #: facet name -> (n, 3) triangle node indices


def _elements(dim: int, phys_tag: int, etype: int, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nodes_per = {TET4: 4, TRI3: 3}[etype]
    conn, etags = [], []
    for ent in gmsh.model.getEntitiesForPhysicalGroup(dim, phys_tag):
        types, el_tags, el_nodes = gmsh.model.mesh.getElements(dim, int(ent))
        for t, et, en in zip(types, el_tags, el_nodes, strict=True):
            if t != etype:
                raise RuntimeError(f"unexpected gmsh element type {t} in a dim-{dim} group")
            etags.append(np.asarray(et, dtype=np.int64))
            conn.append(index[np.asarray(en, dtype=np.int64)].reshape(-1, nodes_per))
    if not conn:
        return np.zeros((0, nodes_per), dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.vstack(conn), np.concatenate(etags)


def read_mesh() -> MeshData:
    """The physical groups' elements and all nodes of the current model."""
    node_tags, xyz, _ = gmsh.model.mesh.getNodes()
    node_tags = np.asarray(node_tags, dtype=np.int64)
    index = np.full(int(node_tags.max()) + 1, -1, dtype=np.int64)
    index[node_tags] = np.arange(len(node_tags))
    coords = np.asarray(xyz).reshape(-1, 3)
    cells, cell_tags, facets = {}, {}, {}
    for dim, ptag in gmsh.model.getPhysicalGroups():
        name = gmsh.model.getPhysicalName(dim, ptag)
        if dim == 3:
            cells[name], cell_tags[name] = _elements(3, ptag, TET4, index)
        elif dim == 2:
            facets[name], _ = _elements(2, ptag, TRI3, index)
    return MeshData(coords, cells, cell_tags, facets)


def tet_volumes(coords: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """Volumes (µm³) of the tetrahedra."""
    p = coords[tets]
    return np.abs(np.einsum("ij,ij->i", p[:, 1] - p[:, 0],
                            np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))) / 6.0


def _face_keys(tri: np.ndarray) -> np.ndarray:
    s = np.sort(tri, axis=1).astype(np.int64)
    if s.max(initial=0) >= 1 << _PACK_BITS:
        _, keys = np.unique(s, axis=0, return_inverse=True)
        return keys.ravel()
    return (s[:, 0] << (2 * _PACK_BITS)) | (s[:, 1] << _PACK_BITS) | s[:, 2]


def _tet_faces(tets: np.ndarray) -> np.ndarray:
    return np.vstack([tets[:, [1, 2, 3]], tets[:, [0, 2, 3]], tets[:, [0, 1, 3]], tets[:, [0, 1, 2]]])


def interface_conformity(mesh: MeshData, name: str = "interface_nvp_nzsp") -> dict[str, int]:
    """Count the ``name`` triangles that are a face of exactly one NVP and one NZSP tet."""
    tri = mesh.facets.get(name)
    if tri is None or not len(tri):
        return {"facets": 0, "conforming": 0}
    if len(tri) and max(int(tri.max()), 0) >= 1 << _PACK_BITS:
        raise RuntimeError("mesh too large for packed face keys")
    keys = _face_keys(tri)
    counts = {}
    for phase in tags.PHASES:
        tets = mesh.cells.get(phase, np.zeros((0, 4), dtype=np.int64))
        fk = np.sort(_face_keys(_tet_faces(tets)))
        left = np.searchsorted(fk, keys, side="left")
        right = np.searchsorted(fk, keys, side="right")
        counts[phase] = right - left
    ok = (counts["NVP"] == 1) & (counts["NZSP"] == 1)
    return {"facets": int(len(tri)), "conforming": int(np.count_nonzero(ok))}


def elements_across(mesh: MeshData, phase: str, source: str, target: str,
                    source_phase_only: bool = True) -> int | None:
    """Fewest mesh edges, through ``phase`` tets, from a ``target`` node to a ``source`` node.

    With ``source`` = the NVP pore wall and ``target`` = the NVP|NZSP interface this is the
    number of elements across the NVP layer at its thinnest (a graph distance, so an
    element spanning the whole layer counts as one). ``None`` when a group is missing.
    """
    tets = mesh.cells.get(phase)
    src_tri, dst_tri = mesh.facets.get(source), mesh.facets.get(target)
    if tets is None or src_tri is None or dst_tri is None or not len(src_tri) or not len(dst_tri):
        return None
    in_phase = np.zeros(len(mesh.coords), dtype=bool)
    in_phase[tets.ravel()] = True
    src = np.unique(src_tri.ravel())
    if source_phase_only:
        src = src[in_phase[src]]
    dst = np.unique(dst_tri.ravel())
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    a = np.concatenate([tets[:, i] for i, _ in pairs])
    b = np.concatenate([tets[:, j] for _, j in pairs])
    a, b = np.concatenate([a, b]), np.concatenate([b, a])
    big = np.iinfo(np.int64).max // 2
    dist = np.full(len(mesh.coords), big, dtype=np.int64)
    dist[src] = 0
    while not np.any(dist[dst] < big):  # breadth-first: the first hit is the minimum
        new = dist.copy()
        np.minimum.at(new, b, dist[a] + 1)
        if np.array_equal(new, dist):
            return None
        dist = new
    return int(dist[dst].min())


def quality(mesh: MeshData) -> dict[str, str | float]:
    """Minimum and mean ``QUALITY_MEASURE`` over all tets."""
    all_tags = (np.concatenate([t for t in mesh.cell_tags.values()]) if mesh.cell_tags
                else np.empty(0, dtype=np.int64))
    if not len(all_tags):
        return {"measure": QUALITY_MEASURE, "min": float("nan"), "mean": float("nan")}
    q = np.asarray(gmsh.model.mesh.getElementQualities(all_tags.tolist(), QUALITY_MEASURE))
    return {"measure": QUALITY_MEASURE, "min": float(q.min()), "mean": float(q.mean())}


#: Nodes of a periodic pair of faces match when closer than this fraction of the largest
#: box edge (the mechanics pairs them by coordinates with about this tolerance).
PERIODIC_NODE_TOL_REL = 1e-6


def periodic_mismatch(data: MeshData, box) -> dict[str, str]:
    """Per lateral pair (``"x = Lx"``, ``"y = Ly"``): "" when the mesh nodes on the max face
    are exactly those of the min face translated (one to one, within
    ``PERIODIC_NODE_TOL_REL`` of the box), otherwise what is wrong."""
    tol = PERIODIC_NODE_TOL_REL * max(box.lengths)
    faces = [f for name, f in data.facets.items() if name == "lateral"]
    nodes = np.unique(np.concatenate([f.ravel() for f in faces])) if faces else np.zeros(0, dtype=np.int64)
    xyz = data.coords[nodes]
    out = {}
    for axis, name in enumerate(("x", "y")):
        length = box.lengths[axis]
        lo = xyz[np.abs(xyz[:, axis]) < tol]
        hi = xyz[np.abs(xyz[:, axis] - length) < tol].copy()
        hi[:, axis] -= length
        key = f"{name} = {length:g}"
        if len(lo) != len(hi) or not len(lo):
            out[key] = f"{len(hi)} nodes on {name} = {length:g}, {len(lo)} on {name} = 0"
            continue
        worst = _sorted_mismatch(lo, hi, tol)
        if worst >= tol:  # rounding can split a pair: confirm by nearest neighbours
            worst = max(_nearest_distance(hi, lo).max(), _nearest_distance(lo, hi).max())
        out[key] = "" if worst < tol else f"largest distance to the translated partner {worst:.3g} µm"
    return out


def _sorted_mismatch(a: np.ndarray, b: np.ndarray, tol: float) -> float:
    """Largest distance between the points of ``a`` and ``b`` paired by sorting both on
    coordinates rounded to ``tol`` (equal sets give ~0)."""
    def ordered(p: np.ndarray) -> np.ndarray:
        q = np.round(p / tol)
        return p[np.lexsort((q[:, 2], q[:, 1], q[:, 0]))]

    return float(np.linalg.norm(ordered(a) - ordered(b), axis=1).max())


def _nearest_distance(points: np.ndarray, others: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Distance from every point to its nearest neighbour among ``others`` (brute force)."""
    out = np.empty(len(points))
    for k in range(0, len(points), chunk):
        d = np.linalg.norm(points[k:k + chunk, None] - others[None], axis=2)
        out[k:k + chunk] = d.min(axis=1)
    return out
