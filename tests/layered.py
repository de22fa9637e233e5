"""Structured two-phase boxes for verification tests (layered column, planar film, cell patterns)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fem_electrode import tags
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.fenicsx import MPI, dolfinx

#: The planes of the box that carry the outer tags: (name, axis, position as a fraction of L_axis).
#: One marker per plane: locate_entities needs *every* vertex of a facet to match, so an
#: "x = 0 or y = 0" marker would also catch corner triangles lying in other planes.
BOX_PLANES = (("separator", 2, 0.0), ("current_collector", 2, 1.0), ("lateral", 0, 0.0), ("lateral", 0, 1.0),
              ("lateral", 1, 0.0), ("lateral", 1, 1.0))


def _phase_box(comm: MPI.Comm, lengths: tuple[float, float, float], n: tuple[int, int, int],
               cell_type: dolfinx.mesh.CellType, phase_of: Callable[[np.ndarray], np.ndarray]
               ) -> tuple[dolfinx.mesh.Mesh, np.ndarray, dolfinx.mesh.MeshTags]:
    """A structured box (ghosted by shared facet), the cell tag of every local cell from
    ``phase_of(midpoints)`` (cell tag ids), and those tags."""
    mesh = dolfinx.mesh.create_box(
        comm, [np.zeros(3), np.array(lengths, dtype=float)], list(n), cell_type,
        ghost_mode=dolfinx.mesh.GhostMode.shared_facet,
    )
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    values = phase_of(dolfinx.mesh.compute_midpoints(mesh, tdim, cells)).astype(np.int32)
    mesh.topology.create_connectivity(tdim - 1, tdim)
    return mesh, values, dolfinx.mesh.meshtags(mesh, tdim, cells, values)


def _plane_facets(mesh: dolfinx.mesh.Mesh, lengths: tuple[float, float, float],
                  planes: tuple[tuple[str, int, float], ...]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Facets (and their tag ids) on each plane ``(name, axis, fraction of L_axis)``."""
    tol = 1e-9 * max(lengths)
    idx, val = [], []
    for name, axis, frac in planes:
        f = dolfinx.mesh.locate_entities(
            mesh, mesh.topology.dim - 1,
            lambda x, a=axis, v=frac * lengths[axis]: np.isclose(x[a], v, atol=tol))
        idx.append(f)
        val.append(np.full(f.size, tags.facet_tag(name), dtype=np.int32))
    return idx, val


def _domain(mesh: dolfinx.mesh.Mesh, cell_tags: dolfinx.mesh.MeshTags, idx: list[np.ndarray],
            val: list[np.ndarray]) -> Domain:
    """The domain with the facet tags ``idx``/``val`` (each facet in one group only)."""
    idx_all = np.concatenate(idx)
    val_all = np.concatenate(val)
    order = np.argsort(idx_all, kind="stable")
    idx_all, val_all = idx_all[order], val_all[order]
    if np.any(idx_all[1:] == idx_all[:-1]):
        raise AssertionError("a facet lies in two tagged planes")  # pragma: no cover
    facet_tags = dolfinx.mesh.meshtags(mesh, mesh.topology.dim - 1, idx_all, val_all)
    return Domain(mesh, cell_tags, facet_tags)


def layered_box(comm: MPI.Comm, lengths: tuple[float, float, float], n: tuple[int, int, int],
                z_interface: float, upper: str = "NVP", lower: str = "NZSP",
                cell_type: dolfinx.mesh.CellType = dolfinx.mesh.CellType.tetrahedron) -> Domain:
    """A structured box (lengths in m) split at ``z_interface`` into two tagged phases.

    For verification (layered column, planar film) and tests: cells above the plane are
    ``upper``, below ``lower``; facets are tagged ``separator`` (z = 0),
    ``current_collector`` (z = Lz), ``lateral`` and ``interface_nvp_nzsp`` (the plane).
    ``z_interface`` must lie on a grid plane (``n[2] * z_interface / Lz`` an integer).
    """
    lz = lengths[2]
    k = n[2] * z_interface / lz
    if not np.isclose(k, round(k)) or not 0 < round(k) < n[2]:
        raise ValueError(f"z_interface = {z_interface} m is not an interior grid plane of n_z = {n[2]}")
    mesh, _, cell_tags = _phase_box(comm, lengths, n, cell_type, lambda mid: np.where(
        mid[:, 2] > z_interface, tags.cell_tag(upper), tags.cell_tag(lower)))
    idx, val = _plane_facets(mesh, lengths, (*BOX_PLANES, ("interface_nvp_nzsp", 2, z_interface / lz)))
    return _domain(mesh, cell_tags, idx, val)


def column(comm: MPI.Comm) -> Domain:
    """The runs' test column: 1 x 1 x 3 µm, NZSP below z = 2 µm, NVP above, 2 x 2 x 6 cells."""
    return layered_box(comm, (1e-6, 1e-6, 3e-6), (2, 2, 6), z_interface=2e-6)


def tagged_box(comm: MPI.Comm, lengths: tuple[float, float, float], n: tuple[int, int, int],
               is_nvp: Callable[[np.ndarray], np.ndarray]) -> Domain:
    """A structured box (lengths in m) whose cells are NVP where ``is_nvp(midpoints)`` (an
    (N, 3) array of cell midpoints -> N booleans), else NZSP.

    Facets are tagged ``separator`` (z = 0), ``current_collector`` (z = Lz), ``lateral`` (the x
    and y faces) and ``interface_nvp_nzsp`` (every facet between an NVP and an NZSP cell), so
    any cell-aligned pattern works: laminates split at an x plane, columns, islands. Both cells
    of an owned facet are local (``GhostMode.shared_facet``); ghost facets whose second cell is
    not local are left untagged (they are integrated on their owner).
    """
    mesh, values, cell_tags = _phase_box(
        comm, lengths, n, dolfinx.mesh.CellType.tetrahedron,
        lambda mid: np.where(is_nvp(mid), tags.cell_tag("NVP"), tags.cell_tag("NZSP")))
    idx, val = _plane_facets(mesh, lengths, BOX_PLANES)
    tdim = mesh.topology.dim
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    fmap = mesh.topology.index_map(tdim - 1)
    interface = []
    for facet in range(fmap.size_local + fmap.num_ghosts):
        pair = f2c.links(facet)
        if pair.size == 2 and values[pair[0]] != values[pair[1]]:
            interface.append(facet)
    idx.append(np.array(interface, dtype=np.int32))
    val.append(np.full(len(interface), tags.facet_tag("interface_nvp_nzsp"), dtype=np.int32))
    return _domain(mesh, cell_tags, idx, val)


def free_edge_film(comm: MPI.Comm, lengths: tuple[float, float, float], n: tuple[int, int, int],
                   z_interface: float) -> Domain:
    """:func:`layered_box` (NVP film above ``z_interface`` on NZSP) whose x = 0 face is left
    untagged, so that no boundary condition reaches it: the ends of film and substrate there are
    traction-free (a free edge). The x = Lx and y faces stay ``lateral`` (rollers: with one cell
    in y they make the slab plane strain)."""
    domain = layered_box(comm, lengths, n, z_interface)
    mesh, ft = domain.mesh, domain.facet_tags
    mid = dolfinx.mesh.compute_midpoints(mesh, mesh.topology.dim - 1, ft.indices)
    at_edge = (ft.values == tags.facet_tag("lateral")) & np.isclose(mid[:, 0], 0.0, atol=1e-9 * max(lengths))
    facet_tags = dolfinx.mesh.meshtags(mesh, mesh.topology.dim - 1, ft.indices[~at_edge], ft.values[~at_edge])
    return Domain(mesh, domain.cell_tags, facet_tags)
