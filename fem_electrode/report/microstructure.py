"""Pictures of a microstructure from its gmsh ``.msh``, drawn with matplotlib only.

Two kinds of view, both exact (no voxelisation): the RVE cube with each phase on its outer
faces (pores show as holes), and planar sections through the tetrahedra (like an SEM
cross-section). Nothing here needs a display, OpenGL or ParaView.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

from fem_electrode import tags  # noqa: E402

PHASE_COLORS = {"NZSP": "#b9c3cc", "NVP": "#e6861a"}
PORE_COLOR = "white"
_EDGES = np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]])
_FACES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


@dataclass
class TetMesh:
    """Vertices (µm, as in the ``.msh``), tetrahedra and their phase names."""

    points: np.ndarray
    tets: np.ndarray
    phase: np.ndarray  #: array of phase names per tet

    @classmethod
    def read(cls, path: str | Path) -> TetMesh:
        import meshio

        m = meshio.read(str(path))
        phys = m.cell_data.get("gmsh:physical")
        if phys is None:
            raise ValueError(f"{path}: no physical groups (gmsh:physical) in the mesh")
        tets, ids = [], []
        for block, tag in zip(m.cells, phys, strict=True):
            if block.type == "tetra":
                tets.append(block.data)
                ids.append(np.asarray(tag))
        if not tets:
            raise ValueError(f"{path}: no tetrahedra")
        names = {v: k for k, v in tags.CELL_TAGS.items()}
        ids_all = np.concatenate(ids)
        phase = np.array([names.get(int(i), "other") for i in ids_all])
        return cls(np.asarray(m.points[:, :3], dtype=float), np.concatenate(tets), phase)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.points.min(axis=0), self.points.max(axis=0)


def section(mesh: TetMesh, axis: int, value: float) -> tuple[np.ndarray, np.ndarray]:
    """Polygons (n, 4, 2) where the plane ``x[axis] = value`` cuts the tets, and the tet ids.

    Triangles repeat their last vertex. The 2D coordinates are the two other axes in order.
    """
    lo, hi = mesh.bounds
    value = value + 1e-7 * float(np.max(hi - lo))  # never exactly through a vertex
    x = mesh.points[mesh.tets]  # (n, 4, 3)
    d = x[:, :, axis] - value
    cut = (d.min(axis=1) < 0) & (d.max(axis=1) > 0)
    a, b = _EDGES[:, 0], _EDGES[:, 1]
    cut &= ((d[:, a] * d[:, b]) < 0).sum(axis=1) >= 3
    x, d, ids = x[cut], d[cut], np.flatnonzero(cut)
    da, db = d[:, a], d[:, b]
    crosses = (da * db) < 0
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(crosses, da / (da - db), np.nan)
    p = x[:, a] + t[..., None] * (x[:, b] - x[:, a])  # (n, 6, 3)
    other = [i for i in range(3) if i != axis]
    p2 = p[:, :, other]
    centre = np.nanmean(p2, axis=1, keepdims=True)
    ang = np.arctan2(p2[..., 1] - centre[..., 1], p2[..., 0] - centre[..., 0])
    ang = np.where(crosses, ang, np.inf)
    order = np.argsort(ang, axis=1)[:, :4]
    poly = np.take_along_axis(p2, order[..., None], axis=1)
    tri = crosses.sum(axis=1) == 3
    poly[tri, 3] = poly[tri, 2]
    return poly, ids


def exterior_faces(mesh: TetMesh) -> tuple[np.ndarray, np.ndarray]:
    """Boundary triangles (vertex ids) and the tet each belongs to."""
    faces = mesh.tets[:, _FACES].reshape(-1, 3)
    key = np.sort(faces, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    once = counts[inverse.ravel()] == 1
    return faces[once], np.repeat(np.arange(mesh.tets.shape[0]), 4)[once]


def draw_section(ax: plt.Axes, mesh: TetMesh, axis: int, value: float) -> None:
    """Fill a 2D axis with the phases cut by the plane ``x[axis] = value``."""
    poly, ids = section(mesh, axis, value)
    colors = [PHASE_COLORS.get(p, "0.5") for p in mesh.phase[ids]]
    # matplotlib takes the (n, 4, 2) array as is; its stubs only name sequences of polygons
    ax.add_collection(PolyCollection(cast("Sequence[np.ndarray]", poly), facecolors=colors, edgecolors=colors,
                                     linewidths=0.3, antialiased=False))
    lo, hi = mesh.bounds
    other = [i for i in range(3) if i != axis]
    ax.set_facecolor(PORE_COLOR)
    ax.set_xlim(lo[other[0]], hi[other[0]])
    ax.set_ylim(lo[other[1]], hi[other[1]])
    ax.set_aspect("equal")
    names = "xyz"
    ax.set_xlabel(f"{names[other[0]]} (µm)")
    ax.set_ylabel(f"{names[other[1]]} (µm)")
    ax.set_title(f"section {names[axis]} = {value:.2g} µm", fontsize=9)


def draw_cube(ax, mesh: TetMesh, elev: float = 24.0, azim: float = -58.0) -> None:
    """The RVE cube seen from outside: phases on the three visible faces, pores as dark holes."""
    faces, owner = exterior_faces(mesh)
    lo, hi = mesh.bounds
    tol = 1e-6 * float(np.max(hi - lo))
    xf = mesh.points[faces]  # (n, 3, 3)
    el, az = np.radians(elev), np.radians(azim)
    view = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    keep = np.zeros(len(faces), bool)
    shade = np.ones(len(faces))
    for axis in range(3):
        plane = hi[axis] if view[axis] > 0 else lo[axis]
        on = np.all(np.abs(xf[:, :, axis] - plane) < tol, axis=1)
        keep |= on
        shade[on] = 0.75 + 0.25 * abs(view[axis])
    base = np.array([matplotlib.colors.to_rgb(PHASE_COLORS.get(p, "0.5")) for p in mesh.phase[owner[keep]]])
    colors = np.clip(base * shade[keep, None], 0, 1)
    # pore walls (boundary faces inside the box), seen through the holes in the outer faces
    inside = np.ones(len(faces), bool)
    for axis in range(3):
        for plane in (lo[axis], hi[axis]):
            inside &= ~np.all(np.abs(xf[:, :, axis] - plane) < tol, axis=1)
    walls = xf[inside]
    normal = np.cross(walls[:, 1] - walls[:, 0], walls[:, 2] - walls[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-300
    light = np.abs(normal @ (view / np.linalg.norm(view)))
    wall_colors = np.repeat((0.18 + 0.35 * light)[:, None], 3, axis=1)
    # the visible outer faces always lie in front of every inner wall: draw walls first
    ax.computed_zorder = False
    # no antialiasing: seams between triangles would trace the finer mesh around hidden grains
    ax.add_collection3d(Poly3DCollection(walls, facecolors=wall_colors, edgecolors=wall_colors,
                                         linewidths=0.3, antialiased=False, zorder=1))
    ax.add_collection3d(Poly3DCollection(xf[keep], facecolors=colors, edgecolors=colors, linewidths=0.3,
                                         antialiased=False, zorder=2))
    ax.grid(False)
    for pane in (ax.xaxis.pane, ax.yaxis.pane, ax.zaxis.pane):
        pane.set_visible(False)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(lo[2], hi[2])
    ax.set_box_aspect(hi - lo)
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlabel("x (µm)", fontsize=8, labelpad=-4)
    ax.set_ylabel("y (µm)", fontsize=8, labelpad=-4)
    ax.set_zlabel("z (µm)", fontsize=8, labelpad=-4)
    ax.tick_params(labelsize=7, pad=-2)
    ax.set_title("RVE (z = 0: separator side)", fontsize=9)


def phase_fractions(mesh: TetMesh) -> dict[str, float]:
    """Volume of each phase over the bounding box (the rest is pore)."""
    x = mesh.points[mesh.tets]
    vol = np.abs(np.einsum("ij,ij->i", np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), x[:, 3] - x[:, 0])) / 6
    lo, hi = mesh.bounds
    box = float(np.prod(hi - lo))
    out = {p: float(vol[mesh.phase == p].sum() / box) for p in np.unique(mesh.phase)}
    out["pore"] = 1.0 - sum(out.values())
    return out


def figure(meshes: dict[str, TetMesh], labels: dict[str, str]) -> bytes:
    """One row per design: the cube, a section across z (xy) and one along z (xz)."""
    from fem_electrode.report.figures import png

    fig = plt.figure(figsize=(13.5, 4.3 * len(meshes)))
    for i, (design, mesh) in enumerate(meshes.items()):
        lo, hi = mesh.bounds
        mid = 0.5 * (lo + hi)
        ax3 = fig.add_subplot(len(meshes), 3, 3 * i + 1, projection="3d")
        draw_cube(ax3, mesh)
        fr = phase_fractions(mesh)
        ax3.text2D(0.0, 1.08, labels[design], transform=ax3.transAxes, fontsize=12, weight="bold")
        ax3.text2D(0.0, -0.08, "  ".join(f"{k} {100 * v:.1f} %" for k, v in fr.items()),
                   transform=ax3.transAxes, fontsize=8)
        draw_section(fig.add_subplot(len(meshes), 3, 3 * i + 2), mesh, 2, float(mid[2]))
        draw_section(fig.add_subplot(len(meshes), 3, 3 * i + 3), mesh, 1, float(mid[1]))
    handles = [Patch(color=c, label=n) for n, c in PHASE_COLORS.items()]
    handles.append(Patch(facecolor=PORE_COLOR, edgecolor="0.4", label="pore (void)"))
    fig.legend(handles=handles, loc="upper center", ncol=3, frameon=False, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return png(fig)
