"""The physical names and integer ids of every tagged region: the single source of truth.

Geometry code writes gmsh physical groups with these names *and* ids; the DOLFINx side
looks tags up by name (:func:`cell_tag`, :func:`facet_tag`) and fails loudly when a name
is unknown or missing from a mesh. Never use OCC entity numbers after a boolean.
"""

from __future__ import annotations

from types import MappingProxyType

#: Volume (cell) groups, name -> id.
CELL_TAGS = MappingProxyType(
    {
        "NZSP": 1,  # electrolyte scaffold / matrix, Na3.4Zr2Si2.4P0.6O12
        "NVP": 2,  # active material, Na3V2(PO4)3
    }
)

#: Surface (facet) groups, name -> id.
FACET_TAGS = MappingProxyType(
    {
        "separator": 11,  # z = 0, faces the dense separator (Na side)
        "current_collector": 12,  # z = Lz, Au current collector
        "interface_nvp_nzsp": 13,  # NVP|NZSP interface (Butler-Volmer, bonded)
        "pore_wall_nvp": 14,  # NVP surface facing residual pore (free)
        "pore_wall_nzsp": 15,  # bare NZSP pore wall (free)
        "lateral": 16,  # x/y faces of the RVE
        "outer": 17,  # outer boundary of canonical shapes (e.g. outer sphere)
    }
)

PHASES = tuple(CELL_TAGS)


class TagError(KeyError):
    """A physical name that is not in the registry or not present in a mesh."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def _lookup(table: MappingProxyType, kind: str, name: str) -> int:
    try:
        return table[name]
    except KeyError:
        raise TagError(
            f"unknown {kind} name {name!r}; registered names: {', '.join(table)}"
        ) from None


def cell_tag(name: str) -> int:
    """Integer id of the volume group ``name`` (e.g. ``"NVP"``)."""
    return _lookup(CELL_TAGS, "cell", name)


def facet_tag(name: str) -> int:
    """Integer id of the surface group ``name`` (e.g. ``"interface_nvp_nzsp"``)."""
    return _lookup(FACET_TAGS, "facet", name)
