"""Canonical shapes with closed-form answers, for verification (docs/references.md). Lengths in µm.

* ``sphere_inclusion``: NVP sphere (``inclusion_radius``) at the centre of the box, or at
  the origin inside an NZSP sphere (``outer_radius``; its surface is ``outer``).
* ``coated_cavity``: spherical cavity (``inclusion_radius``) in NZSP whose wall carries an
  NVP coating of ``coating_thickness``; void inside. In the box or in an outer sphere.
* ``film``: NVP film of ``film_thickness`` on an NZSP substrate: NVP for z > Lz - thickness.
* ``column``: the same NZSP | NVP stack along z, meant for thin 1-D verification columns
  (e.g. box [1, 1, 10]); a separate kind so that case files say what they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gmsh
import numpy as np

from fem_electrode.geometry import occ
from fem_electrode.geometry.base import Layer
from fem_electrode.geometry.voxels import Box

RANDOM = False  #: nothing to perturb: a failure is reported at once

#: A face whose bounding box reaches this fraction of the outer radius from the centre is
#: the outer sphere (the cavity wall lies well inside it).
OUTER_FACE_REL = 0.999


def _ball(r: float) -> float:
    return 4.0 / 3.0 * np.pi * r**3


@dataclass
class CanonicalPlan:
    """A canonical shape: kind, domain (box or outer sphere), and its dimensions (µm)."""

    kind: str
    box: Box | None
    center: tuple[float, float, float]
    outer_radius: float | None
    dims: dict[str, float] = field(default_factory=dict)

    @property
    def reference_volume(self) -> float:
        if self.box is not None:
            return self.box.volume
        assert self.outer_radius is not None  # no box: an outer sphere
        return _ball(self.outer_radius)

    @property
    def layer(self) -> Layer | None:
        if self.kind == "coated_cavity":
            return Layer(self.dims["coating_thickness"], far_side="pore_wall_nvp")
        if self.kind in ("film", "column"):
            return Layer(self.dims["film_thickness"], far_side="current_collector")
        return None

    @property
    def nvp_thickness(self) -> float:
        if self.kind == "sphere_inclusion":
            return self.dims["inclusion_radius"]
        layer = self.layer
        assert layer is not None  # the other kinds have an NVP layer
        return layer.thickness

    @property
    def expected(self) -> dict[str, float]:
        """Analytic volume fractions."""
        v = self.reference_volume
        if self.kind == "sphere_inclusion":
            nvp = _ball(self.dims["inclusion_radius"])
            void = 0.0
        elif self.kind == "coated_cavity":
            a = self.dims["inclusion_radius"]
            nvp = _ball(a) - _ball(a - self.dims["coating_thickness"])
            void = _ball(a - self.dims["coating_thickness"])
        else:
            assert self.box is not None  # film and column live in a box
            lx, ly, _ = self.box.lengths
            nvp, void = lx * ly * self.dims["film_thickness"], 0.0
        return {"NVP": nvp / v, "NZSP": (v - nvp - void) / v}

    def summary(self) -> dict:
        return {"shape": self.kind, "center": list(self.center), "outer_radius": self.outer_radius,
                **self.dims, "analytic_volume_fractions": self.expected}


def plan(case, seed: np.random.SeedSequence) -> CanonicalPlan:
    """The shape's dimensions; raises ``ValueError`` naming the parameter."""
    del seed  # deterministic shapes
    g = case.geometry
    kind = g.kind
    box = Box(tuple(g.box), periodic=g.periodic)
    if kind in ("film", "column"):
        return CanonicalPlan(kind, box, (0.0, 0.0, 0.0), None, {"film_thickness": g.film_thickness})
    dims = {"inclusion_radius": g.inclusion_radius}
    if kind == "coated_cavity":
        dims["coating_thickness"] = g.coating_thickness
    if g.outer_radius is not None:
        return CanonicalPlan(kind, None, (0.0, 0.0, 0.0), g.outer_radius, dims)
    lx, ly, lz = box.lengths
    center = (0.5 * lx, 0.5 * ly, 0.5 * lz)
    return CanonicalPlan(kind, box, center, None, dims)


def _domain(p: CanonicalPlan) -> occ.DimTags:
    if p.box is not None:
        return occ.add_box(p.box)
    return [(3, gmsh.model.occ.addSphere(*p.center, p.outer_radius))]


def _sphere(p: CanonicalPlan, r: float) -> occ.DimTags:
    return [(3, gmsh.model.occ.addSphere(*p.center, r))]


def _outer_namer(p: CanonicalPlan):
    outer_radius = p.outer_radius
    if outer_radius is None:
        return None
    c = np.asarray(p.center)

    def namer(face: int, phase: str) -> str | None:
        bb = np.asarray(gmsh.model.getBoundingBox(2, face))
        reach = np.max(np.abs(np.concatenate([bb[:3] - c, bb[3:] - c])))
        return "outer" if reach >= OUTER_FACE_REL * outer_radius else None

    return namer


def build(p: CanonicalPlan) -> occ.Regions:
    """OCC geometry of the shape in the open gmsh session; conformal, faces named."""
    if p.kind in ("film", "column"):
        assert p.box is not None  # film and column live in a box
        lx, ly, lz = p.box.lengths
        z = lz - p.dims["film_thickness"]
        nzsp = [(3, gmsh.model.occ.addBox(0.0, 0.0, 0.0, lx, ly, z))]
        nvp = [(3, gmsh.model.occ.addBox(0.0, 0.0, z, lx, ly, lz - z))]
    else:
        a = p.dims["inclusion_radius"]
        nvp = _sphere(p, a)
        nzsp = occ.subtract(_domain(p), nvp, keep_tools=True)
        if p.kind == "coated_cavity":
            nvp = occ.subtract(nvp, _sphere(p, a - p.dims["coating_thickness"]), keep_tools=False)
    volumes = occ.fragment_phases({"NZSP": nzsp, "NVP": nvp})
    occ.remove_unused(volumes)
    return occ.Regions(volumes, occ.classify_faces(volumes, p.box, _outer_namer(p)))
