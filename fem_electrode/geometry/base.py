"""What every geometry builder provides (infiltrated, co-sintered, canonical shapes).

A builder module has ``RANDOM`` (whether a retry can perturb the placement),
``plan(case, seed) -> Plan`` (pure numpy: decides everything and raises ``ValueError``
naming the parameter for bad input, before gmsh is touched) and ``build(plan) -> Regions``
(OCC geometry in the open gmsh session, conformal, every face named). The image builder
(:mod:`fem_electrode.geometry.image`) has ``plan`` too but meshes and writes by itself
(``build_and_write``, no OCC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fem_electrode.geometry.voxels import Box


@dataclass(frozen=True)
class Layer:
    """An NVP layer to resolve: its thickness (µm) and the facet groups on its two sides."""

    thickness: float
    far_side: str  #: e.g. "pore_wall_nvp" (the NVP's free face) or "current_collector"
    near_side: str = "interface_nvp_nzsp"


class Plan(Protocol):
    """The decided geometry, before gmsh."""

    box: Box | None  #: the RVE box, or None for a sphere-shaped domain

    @property
    def reference_volume(self) -> float:
        """Volume (µm³) the fractions are relative to (the box, or the outer sphere)."""

    @property
    def layer(self) -> Layer | None:
        """The NVP layer whose resolution is measured, if the geometry has one."""

    @property
    def nvp_thickness(self) -> float:
        """Characteristic NVP thickness (µm) for the mesh size in and on the NVP."""

    @property
    def expected(self) -> dict[str, float] | None:
        """Volume fractions the OCC geometry must reproduce (NZSP, NVP), or None."""

    def summary(self) -> dict[str, Any]:
        """Resolved parameters and placement statistics for the provenance file."""


class MeshCheckError(RuntimeError):
    """The OCC geometry or the mesh failed a consistency check (retried like a gmsh error)."""


class PlacementError(MeshCheckError):
    """A random placement could not satisfy its rules (retried with a new sub-seed)."""


class GeometryError(RuntimeError):
    """Building or meshing failed on every attempt (after ``mesh.max_retries`` retries)."""
