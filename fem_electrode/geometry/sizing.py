"""Mesh size control (µm): fine in and on the NVP, coarse in the NZSP bulk.

* Faces of the NVP: ``thickness / elements_across_layer`` (the layer thickness t, the
  coating or film thickness, or the smallest grain radius for co-sintered grains).
* Inside the NVP: that size divided by ``interior_refine``: HXT keeps edges up to about
  twice the target, and an edge from one face of the layer to the other would leave a
  single element across it; a finer interior removes such edges.
* Curved faces: ``mesh.curvature_elements`` elements per full circle.
* In the NZSP: grows linearly with the distance d from the NVP interface and the bare pore
  walls, ``h = h_NVP + mesh.grading * d``, up to ``mesh.size_max``. (Letting gmsh extend
  the boundary sizes into the volume instead fills the thin NZSP walls between pores with
  small elements: 1.5-2x more tetrahedra for the same surfaces.)

Every size is divided by ``mesh.refinement`` (the one knob for convergence studies).
"""

from __future__ import annotations

from dataclasses import dataclass

import gmsh

from fem_electrode.geometry.occ import Regions

#: Default ratio of NVP surface size to NVP interior size (see the module docstring).
INTERIOR_REFINE = 1.5
#: Faces the NZSP size grows away from.
GRADED_FROM = ("interface_nvp_nzsp", "pore_wall_nzsp")
#: Each remesh after a too-thin layer multiplies ``interior_refine`` by this.
INTERIOR_REFINE_STEP = 1.25
#: Points per parametric direction sampled on each face by the Distance field.
DISTANCE_SAMPLING = 20
#: Size used outside a Constant field's volumes ("no constraint": above any real size), µm.
UNCONSTRAINED = 1e22


@dataclass(frozen=True)
class Sizes:
    """Resolved element sizes (µm)."""

    bulk: float
    nvp_surface: float
    nvp_interior: float
    curvature_elements: float
    grading: float  #: size growth per unit distance into the NZSP (-)

    def as_dict(self) -> dict[str, float]:
        return {"bulk": self.bulk, "nvp_surface": self.nvp_surface,
                "nvp_interior": self.nvp_interior, "curvature_elements": self.curvature_elements,
                "grading": self.grading}


def resolve(mesh_cfg, nvp_thickness: float, interior_refine: float = INTERIOR_REFINE) -> Sizes:
    """Sizes from the ``[mesh]`` section and the NVP's characteristic thickness (µm)."""
    ref = mesh_cfg.refinement
    bulk = mesh_cfg.size_max / ref
    surface = min(bulk, nvp_thickness / mesh_cfg.elements_across_layer / ref)
    return Sizes(bulk=bulk, nvp_surface=surface, nvp_interior=surface / interior_refine,
                 curvature_elements=mesh_cfg.curvature_elements * ref, grading=mesh_cfg.grading)


def _constant(volumes: list[int], size: float, include_boundary: bool) -> int:
    f = gmsh.model.mesh.field
    tag = f.add("Constant")
    f.setNumber(tag, "VIn", size)
    f.setNumber(tag, "VOut", UNCONSTRAINED)
    f.setNumbers(tag, "VolumesList", volumes)
    f.setNumber(tag, "IncludeBoundary", 1 if include_boundary else 0)
    return tag


def _graded(faces: list[int], sizes: Sizes) -> int:
    """h = nvp_surface + grading * distance from ``faces``, capped at bulk."""
    f = gmsh.model.mesh.field
    dist = f.add("Distance")
    f.setNumbers(dist, "SurfacesList", faces)
    f.setNumber(dist, "Sampling", DISTANCE_SAMPLING)
    ramp = f.add("Threshold")
    f.setNumber(ramp, "InField", dist)
    f.setNumber(ramp, "SizeMin", sizes.nvp_surface)
    f.setNumber(ramp, "SizeMax", sizes.bulk)
    f.setNumber(ramp, "DistMin", 0.0)
    f.setNumber(ramp, "DistMax", (sizes.bulk - sizes.nvp_surface) / sizes.grading)
    return ramp


def apply(regions: Regions, sizes: Sizes) -> None:
    """Install the size fields and options on the model in the open session."""
    for tag in gmsh.model.mesh.field.list():
        gmsh.model.mesh.field.remove(tag)
    gmsh.option.setNumber("Mesh.MeshSizeMax", sizes.bulk)
    gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", sizes.curvature_elements)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    nvp = regions.volume_tags("NVP")
    fields = []
    if nvp:
        fields.append(_constant(nvp, sizes.nvp_surface, include_boundary=True))
        if sizes.nvp_interior < sizes.nvp_surface:
            fields.append(_constant(nvp, sizes.nvp_interior, include_boundary=False))
    faces = [s for name in GRADED_FROM for s in regions.face_tags(name)]
    if faces and sizes.nvp_surface < sizes.bulk:
        fields.append(_graded(faces, sizes))
    if not fields:
        return
    f = gmsh.model.mesh.field
    smallest = f.add("Min")
    f.setNumbers(smallest, "FieldsList", fields)
    f.setAsBackgroundMesh(smallest)
