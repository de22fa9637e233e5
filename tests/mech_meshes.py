"""Meshes of concentric spheres for the mechanics closed-form tests.

:func:`from_geometry` uses the geometry layer (canonical shapes). :func:`coated_cavity` is a
small gmsh model of its own with a size field that keeps the NVP coating at two elements
across and the shell coarse (a third of the geometry layer's dofs for the same accuracy):
OCC spheres fragmented so the phases share faces, physical groups named and numbered from
:mod:`fem_electrode.tags`, built on rank 0 and read with :meth:`Domain.from_msh`. Lengths in
µm (the mesh unit).
"""

from __future__ import annotations

import math
from pathlib import Path

from mpi4py import MPI

from fem_electrode import tags
from fem_electrode.fem.domain import Domain

#: Relative tolerance when matching OCC volumes / areas to the spheres they came from.
MATCH_RTOL = 1e-3


def _build(path: Path, radii: list[float], phases: list[str | None], surfaces: list[str],
           h_inner: float, h_outer: float) -> None:
    """Concentric spheres: shell k between radii[k-1] and radii[k] is ``phases[k]`` (None: void).

    ``surfaces[k]`` names the sphere of radius ``radii[k]``; lengths in µm.
    """
    import gmsh

    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("spheres")
        occ = gmsh.model.occ
        balls = [occ.addSphere(0, 0, 0, r) for r in radii]
        if len(balls) > 1:
            occ.fragment([(3, balls[-1])], [(3, b) for b in balls[:-1]])
        occ.synchronize()

        def shell_volume(k: int) -> float:
            inner = radii[k - 1] ** 3 if k else 0.0
            return 4.0 / 3.0 * math.pi * (radii[k] ** 3 - inner)

        volumes = {}
        for _, tag in gmsh.model.getEntities(3):
            mass = occ.getMass(3, tag)
            k = next(k for k in range(len(radii)) if math.isclose(mass, shell_volume(k), rel_tol=MATCH_RTOL))
            volumes[k] = tag
        for k, phase in enumerate(phases):
            if phase is None:
                occ.remove([(3, volumes[k])])
        occ.synchronize()
        for k, phase in enumerate(phases):
            if phase is not None:
                gmsh.model.addPhysicalGroup(3, [volumes[k]], tag=tags.cell_tag(phase), name=phase)
        for _, tag in gmsh.model.getEntities(2):
            area = occ.getMass(2, tag)
            k = next(k for k, r in enumerate(radii)
                     if math.isclose(area, 4.0 * math.pi * r**2, rel_tol=MATCH_RTOL))
            gmsh.model.addPhysicalGroup(2, [tag], tag=tags.facet_tag(surfaces[k]), name=surfaces[k])
        field = gmsh.model.mesh.field
        ball = field.add("Ball")
        field.setNumber(ball, "Radius", radii[-2] if len(radii) > 1 else radii[0])
        field.setNumber(ball, "Thickness", 0.5 * (radii[-1] - radii[-2]) if len(radii) > 1 else 0.0)
        field.setNumber(ball, "VIn", h_inner)
        field.setNumber(ball, "VOut", h_outer)
        field.setAsBackgroundMesh(ball)
        for key in ("Mesh.MeshSizeExtendFromBoundary", "Mesh.MeshSizeFromPoints",
                    "Mesh.MeshSizeFromCurvature"):
            gmsh.option.setNumber(key, 0)
        gmsh.model.mesh.generate(3)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()


def _load(comm: MPI.Comm, path: Path, build) -> Domain:
    if comm.rank == 0:
        build()
    comm.Barrier()
    return Domain.from_msh(path, comm)


def from_geometry(comm: MPI.Comm, case) -> Domain:
    """The mesh of ``case`` built by the geometry layer on rank 0 (into ``mesh.directory``)."""
    from fem_electrode.geometry import build_mesh

    path = build_mesh(case, case.mesh.directory)[0] if comm.rank == 0 else None
    return Domain.from_msh(comm.bcast(path, root=0), comm)


def coated_cavity(comm: MPI.Comm, folder: Path, r0: float, r1: float, b: float, h_inner: float,
                  h_outer: float) -> Domain:
    """Void r < ``r0``, NVP coating r0 < r < ``r1``, NZSP r1 < r < ``b`` (µm); surfaces
    ``pore_wall_nvp`` (r0), ``interface_nvp_nzsp`` (r1), ``outer`` (b)."""
    path = Path(folder) / f"cavity_{r0}_{r1}_{b}_{h_inner}_{h_outer}.msh"
    return _load(comm, path, lambda: _build(path, [r0, r1, b], [None, "NVP", "NZSP"],
                                            ["pore_wall_nvp", "interface_nvp_nzsp", "outer"],
                                            h_inner, h_outer))


def nvp_sphere(comm: MPI.Comm, folder: Path, radius: float, h: float) -> Domain:
    """A solid NVP sphere of ``radius`` (µm, element size ``h``) with its surface ``outer``."""
    path = Path(folder) / f"nvp_sphere_{radius}_{h}.msh"
    return _load(comm, path, lambda: _build(path, [radius], ["NVP"], ["outer"], h, h))
