"""The computational domain in DOLFINx: mesh, named tags, per-phase submeshes, interface data.

Coordinates are in metres (the gmsh models are in µm and scaled once on loading). The
parent mesh is created with ``GhostMode.shared_facet`` so that both cells of every owned
interface facet are available on its owner (the interior-facet recipe of DOLFINx's mixed-dimensional demos).

Measures are built on the *parent* mesh, each with one subdomain-data object, so forms may
combine them freely:

- ``domain.dx(phase)``: cells of a phase (``"NZSP"``, ``"NVP"``);
- ``domain.ds(facet, phase)``: exterior facets named ``facet`` seen from ``phase`` cells only
  (e.g. the current collector seen from NVP, where the electronic current enters);
- ``domain.dS(facet)``: interior facets with a fixed "+" side: "+" is always the NVP cell on
  ``interface_nvp_nzsp``.

Submesh functions appear in parent-mesh forms through ``domain.entity_maps``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fem_electrode import tags
from fem_electrode.fem.fenicsx import MPI, dolfinx, ufl

#: Scale from the gmsh model unit (µm) to SI (m).
MICROMETRE = 1e-6

#: Which phase is the "+" side of each interior interface.
PLUS_SIDE = {"interface_nvp_nzsp": "NVP"}

_IT = dolfinx.fem.IntegralType


@dataclass
class PhaseMesh:
    """A per-phase submesh and the map between its cells and the parent's."""

    name: str
    mesh: dolfinx.mesh.Mesh
    entity_map: dolfinx.mesh.EntityMap
    vertex_map: dolfinx.mesh.EntityMap


@dataclass
class Domain:
    """Mesh (m), cell and facet tags looked up by name, submeshes and measures."""

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    _submeshes: dict[str, PhaseMesh] = field(default_factory=dict, repr=False)
    _measures: dict[str, ufl.Measure] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        tdim = self.mesh.topology.dim
        self.mesh.topology.create_connectivity(tdim - 1, tdim)
        self.mesh.topology.create_connectivity(tdim, tdim - 1)
        imap = self.mesh.topology.index_map(tdim)
        n_cells = imap.size_local + imap.num_ghosts
        self._cell_marker = np.full(n_cells, -1, dtype=np.int32)
        self._cell_marker[self.cell_tags.indices] = self.cell_tags.values

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_msh(cls, path: str | os.PathLike[str], comm: MPI.Comm = MPI.COMM_WORLD,
                 scale: float = MICROMETRE) -> Domain:
        """Read a gmsh ``.msh`` (rank 0 reads, cells are distributed) and scale to metres."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"mesh file {str(path)!r} does not exist (run `fem-electrode mesh`)")
        partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
        data = dolfinx.io.gmsh.read_from_msh(str(path), comm, rank=0, gdim=3, partitioner=partitioner)
        data.mesh.geometry.x[:] *= scale
        _check_physical_groups(data.physical_groups, path)
        return cls(data.mesh, data.cell_tags, data.facet_tags)

    # ---- lookups by name ----------------------------------------------------------
    def cells(self, phase: str) -> np.ndarray:
        """Local (owned and ghost) cell indices of ``phase``."""
        return self.cell_tags.find(tags.cell_tag(phase))

    def facets(self, name: str) -> np.ndarray:
        """Local facet indices tagged ``name``."""
        return self.facet_tags.find(tags.facet_tag(name))

    def cell_phase(self, cells: np.ndarray) -> np.ndarray:
        """Cell-tag id of each local cell index (``-1`` where untagged)."""
        return self._cell_marker[cells]

    # ---- submeshes ----------------------------------------------------------------
    def submesh(self, phase: str) -> PhaseMesh:
        """The submesh of ``phase`` (owned and ghost cells; cached), with its entity maps.

        The parent's ghost cells of the phase must be in the submesh: an owned interface facet
        whose other cell is a ghost (owned by another rank) is integrated here, and its
        submesh functions must be defined on that ghost cell (with owned cells only they read
        as zero there and the interface terms are wrong on 2+ ranks).
        """
        if phase not in self._submeshes:
            tdim = self.mesh.topology.dim
            cells = self.cells(phase)
            imap = self.mesh.topology.index_map(tdim)
            n_owned = int(np.count_nonzero(cells < imap.size_local))
            if self.mesh.comm.allreduce(n_owned, op=MPI.SUM) == 0:
                raise tags.TagError(f"phase {phase!r} has no cells in this mesh")
            sub, cell_map, vertex_map, _ = dolfinx.mesh.create_submesh(self.mesh, tdim, cells)
            self._submeshes[phase] = PhaseMesh(phase, sub, cell_map, vertex_map)
        return self._submeshes[phase]

    @property
    def entity_maps(self) -> list[dolfinx.mesh.EntityMap]:
        """Entity maps of every submesh created so far (pass to forms / NonlinearProblem)."""
        return [pm.entity_map for pm in self._submeshes.values()]

    # ---- integration data -----------------------------------------------------------
    def interface_entities(self, name: str = "interface_nvp_nzsp") -> np.ndarray:
        """Owned interface facets as rows ``(cell+, local_facet+, cell-, local_facet-)``.

        "+" is the phase in :data:`PLUS_SIDE` for every row; raises if a facet does not
        separate the two phases (a non-conformal or mis-tagged mesh).
        """
        plus = tags.cell_tag(PLUS_SIDE[name])
        ent = dolfinx.fem.compute_integration_domains(
            _IT.interior_facet, self.mesh.topology, self.facets(name)
        ).reshape(-1, 4)
        swap = self._cell_marker[ent[:, 0]] != plus
        ent[swap] = ent[swap][:, [2, 3, 0, 1]]
        bad = (self._cell_marker[ent[:, 0]] != plus) | (self._cell_marker[ent[:, 2]] == plus)
        if np.any(bad):
            raise ValueError(
                f"{np.count_nonzero(bad)} facets tagged {name!r} do not separate "
                f"{PLUS_SIDE[name]} from another phase"
            )
        return ent

    def boundary_entities(self, facet: str, phase: str) -> np.ndarray:
        """Owned exterior facets ``facet`` that belong to ``phase`` cells, rows (cell, local facet)."""
        ent = dolfinx.fem.compute_integration_domains(
            _IT.exterior_facet, self.mesh.topology, self.facets(facet)
        ).reshape(-1, 2)
        return ent[self._cell_marker[ent[:, 0]] == tags.cell_tag(phase)]

    def dx(self, phase: str | None = None) -> ufl.Measure:
        """Cell measure over ``phase`` (all cells when None)."""
        if "dx" not in self._measures:
            self._measures["dx"] = ufl.Measure("dx", domain=self.mesh, subdomain_data=self.cell_tags)
        dx = self._measures["dx"]
        return dx if phase is None else dx(tags.cell_tag(phase))

    def ds(self, facet: str | None = None, phase: str | None = None) -> ufl.Measure:
        """Exterior-facet measure on ``facet``; with ``phase``, only that phase's side of it."""
        if "ds" not in self._measures:
            data = []
            for fname, fid in tags.FACET_TAGS.items():
                for pname, pid in tags.CELL_TAGS.items():
                    ent = self.boundary_entities(fname, pname)
                    data.append((_ds_id(fid, pid), ent.ravel()))
                all_ent = dolfinx.fem.compute_integration_domains(
                    _IT.exterior_facet, self.mesh.topology, self.facets(fname))
                data.append((fid, all_ent))
            self._measures["ds"] = ufl.Measure("ds", domain=self.mesh, subdomain_data=data)
        ds = self._measures["ds"]
        if facet is None:
            return ds
        fid = tags.facet_tag(facet)
        return ds(fid if phase is None else _ds_id(fid, tags.cell_tag(phase)))

    def dS(self, name: str = "interface_nvp_nzsp") -> ufl.Measure:
        """Interior-facet measure on ``name`` with the fixed "+" side of :data:`PLUS_SIDE`."""
        if "dS" not in self._measures:
            data = [(tags.facet_tag(n), self.interface_entities(n).ravel()) for n in PLUS_SIDE]
            self._measures["dS"] = ufl.Measure("dS", domain=self.mesh, subdomain_data=data)
        return self._measures["dS"](tags.facet_tag(name))

    # ---- global figures ---------------------------------------------------------------
    def global_counts(self) -> dict[str, int]:
        """Global number of cells per phase, interface facets and vertices (rank-independent)."""
        tdim = self.mesh.topology.dim
        comm = self.mesh.comm
        n_owned = self.mesh.topology.index_map(tdim).size_local
        out = {}
        for name in tags.CELL_TAGS:
            c = self.cells(name)
            out[f"cells_{name}"] = comm.allreduce(int(np.count_nonzero(c < n_owned)), op=MPI.SUM)
        for name in PLUS_SIDE:
            out[f"facets_{name}"] = comm.allreduce(len(self.interface_entities(name)), op=MPI.SUM)
        out["cells"] = self.mesh.topology.index_map(tdim).size_global
        out["vertices"] = self.mesh.topology.index_map(0).size_global
        return out

    def volume(self, phase: str | None = None) -> float:
        """Volume of ``phase`` (m^3), summed over ranks."""
        form = dolfinx.fem.form(dolfinx.fem.Constant(self.mesh, 1.0) * self.dx(phase))
        return self.mesh.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def write_xdmf(self, path: str | os.PathLike[str]) -> Path:
        """Mesh + cell tags + facet tags in one XDMF (opens in ParaView 5.11)."""
        path = Path(path)
        self.mesh.name = "mesh"
        self.cell_tags.name = "phases"
        self.facet_tags.name = "surfaces"
        with dolfinx.io.XDMFFile(self.mesh.comm, str(path), "w") as f:
            f.write_mesh(self.mesh)
            self.mesh.topology.create_connectivity(2, 3)
            f.write_meshtags(self.cell_tags, self.mesh.geometry)
            f.write_meshtags(self.facet_tags, self.mesh.geometry)
        return path


def _ds_id(facet_id: int, phase_id: int) -> int:
    """Subdomain id of "facet ``facet_id`` seen from phase ``phase_id``" in the ds measure."""
    return 1000 * phase_id + facet_id


def _check_physical_groups(groups: dict, path: Path) -> None:
    for name, group in groups.items():
        table = tags.CELL_TAGS if group.dim == 3 else tags.FACET_TAGS if group.dim == 2 else None
        if table is None:
            continue
        if name not in table or table[name] != group.tag:
            raise tags.TagError(
                f"{path}: physical group {name!r} (dim {group.dim}, tag {group.tag}) does not match "
                "the registry in fem_electrode/tags.py"
            )


def bounding_box(mesh: dolfinx.mesh.Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Global (min, max) corner of the mesh geometry (m)."""
    x = mesh.geometry.x
    lo = x.min(axis=0) if x.size else np.full(3, np.inf)
    hi = x.max(axis=0) if x.size else np.full(3, -np.inf)
    mesh.comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)
    mesh.comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
    return lo, hi
