"""Write the ParaView script ``views.py`` that opens both electrodes of a comparison.

The script is :mod:`fem_electrode.report.pvviews_template` with a ``CONFIG`` dict filled in:
for each electrode the mesh file (cell tags ``phases``) and the field files of each view,
found by reading the XDMF headers (plain XML, no HDF5 needed), with paths relative to the
comparison folder. The script itself needs only ParaView (``pvpython``), not this package.
"""

from __future__ import annotations

import os
import pprint
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Required, TypedDict

from fem_electrode.util import atomic

#: What each view shows: title, display unit and scale from SI, colour map.
VIEWS: dict[str, dict[str, object]] = {
    "microstructure": {"title": "phases", "unit": "-", "scale": 1.0, "clip": True},
    "von_mises": {"title": "von Mises stress", "unit": "MPa", "scale": 1e-6, "clip": True,
                  "colormap": "Inferno (matplotlib)"},
    "c": {"title": "Na concentration in NVP", "unit": "mol/m³", "scale": 1.0, "clip": True,
          "colormap": "Viridis (matplotlib)"},
    "interface_current": {"title": "interface current density", "unit": "A/m²", "scale": 1.0,
                          "clip": True, "colormap": "Cool to Warm", "symmetric": True},
}

#: Array-name patterns of each view's field (lower case, searched in the XDMF attribute name).
PATTERNS = {
    "von_mises": re.compile(r"mises|(^|_)vm($|_)"),
    "c": re.compile(r"^c($|_)|concentration|(^|_)y_nvp"),
    "interface_current": re.compile(r"current|(^|_)i_(bv|int)"),
}
_MARKER = "CONFIG = {}  # @CONFIG@"


@dataclass(frozen=True)
class XdmfInfo:
    """What an XDMF header declares: attribute names with their centre, and time values."""

    path: Path
    attributes: dict[str, str]  #: name -> "Cell" | "Node"
    times: tuple[float, ...]


class Discovered(TypedDict):
    """What :func:`discover` finds: the mesh file (or None) and the field files of each view."""

    mesh: str | None
    fields: dict[str, list[dict[str, str]]]  #: view -> [{"file", "array", "center"}]


class ElectrodeSpec(TypedDict, total=False):
    """One electrode of :func:`write_views`: its run folder, label and snapshot time (s)."""

    label: str
    run_dir: Required[str | os.PathLike[str]]
    time: float | None


def read_xdmf_header(path: Path) -> XdmfInfo:
    """Parse an XDMF file's XML for attribute names/centres and time values."""
    root = ET.parse(path).getroot()
    attrs: dict[str, str] = {}
    times: list[float] = []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "Attribute" and (name := el.get("Name")):
            attrs.setdefault(name, el.get("Center", "Node"))
        elif tag == "Time" and (value := el.get("Value")) is not None:
            times.append(float(value))
    return XdmfInfo(path, attrs, tuple(sorted(set(times))))


def discover(run_dir: Path) -> Discovered:
    """The mesh file and the field files of each view found under ``run_dir``."""
    mesh = None
    fields: dict[str, list[dict[str, str]]] = {name: [] for name in PATTERNS}
    for path in sorted(run_dir.rglob("*.xdmf")):
        try:
            info = read_xdmf_header(path)
        except ET.ParseError:
            continue
        if "phases" in info.attributes:
            mesh = mesh or path
            continue
        for array, centre in info.attributes.items():
            low = array.lower()
            for view, pattern in PATTERNS.items():
                if pattern.search(low) and not (view == "c" and "current" in low):
                    fields[view].append({"file": str(path), "array": array, "center": centre})
                    break
    return {"mesh": str(mesh) if mesh else None, "fields": fields}


def template_text() -> str:
    """The ParaView script template (a plain Python file in this package)."""
    return resources.files("fem_electrode.report").joinpath("pvviews_template.py").read_text()


def write_views(out_dir: Path, electrodes: Mapping[str, ElectrodeSpec], title: str = "",
                ranges: dict[str, tuple[float, float]] | None = None) -> Path:
    """Write ``out_dir/views.py`` for ``{design: {"label", "run_dir", "time"}}``.

    ``ranges``: fixed colour ranges per view in display units (default: the data range of
    both electrodes together).
    """
    out_dir = Path(out_dir)
    view_config = {k: dict(v) for k, v in VIEWS.items()}
    for name, rng in (ranges or {}).items():
        view_config[name]["range"] = [float(rng[0]), float(rng[1])]
    electrode_config: dict[str, dict[str, object]] = {}
    config: dict[str, object] = {"title": title, "views": view_config, "electrodes": electrode_config}
    for design, spec in electrodes.items():
        found = discover(Path(spec["run_dir"]))
        rel = (lambda p: os.path.relpath(p, out_dir) if p else None)  # noqa: E731
        fields = {view: [dict(e, file=rel(e["file"])) for e in entries]
                  for view, entries in found["fields"].items()}
        electrode_config[design] = {
            "label": spec.get("label", design), "time": float(spec.get("time") or 0.0),
            "mesh": rel(found["mesh"]), "fields": fields,
        }
    text = template_text()
    if _MARKER not in text:
        raise AssertionError("the ParaView template lost its CONFIG marker")  # pragma: no cover
    text = text.replace(_MARKER, "CONFIG = " + pprint.pformat(config, width=100, sort_dicts=False))
    path = out_dir / "views.py"
    atomic.write_text(path, text)
    return path
